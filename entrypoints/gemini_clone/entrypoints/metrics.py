"""The Prometheus metrics of a process, recorded by the entrypoints around use case calls.

The core knows nothing of them: the HTTP layer and the reply task record what a use case
returned (`GenerateReply` its `ReplyOutcome`, `ApplyPaymentEvent` its `EventOutcome`) or
raised (`QuotaExceeded`). Every family is named `gemini_clone_*`:

    requests_total{method,path,status_code}      HTTP requests by route template
    request_duration_seconds{method,path}        HTTP latency by route template
    replies_total{status}                        replies finished: completed, failed, blocked
    reply_generation_seconds{status}             claim + generate + store of one reply
    replies_pending{status}                      replies queued or processing (at scrape time)
    quota_refusals_total                         posts refused with `daily_limit_reached`
    streams_open                                 reply streams (SSE) open now
    reply_stops_total{outcome}                   stop requests: cancelled (queued), stopped
                                                 (being written), final (nothing to stop)
    webhook_events_total{type,outcome}           payment webhooks: applied, duplicate, stale,
                                                 unknown_user, ignored, invalid
    model_calls_total{model,purpose,outcome}     model calls (replies, titles) as metered
    model_tokens_total{model,purpose,kind}       their tokens as the providers reported them;
                                                 kind: prompt (cached included), cached,
                                                 output, thoughts. `model` is a catalogue
                                                 id, any other "other" (bounded labels)

Metrics live in the process that records them. In the embedded mode replies are made in the
API process, so `/metrics` has them all; a separate `gemini-clone worker` records its
replies in its own process, which the API's `/metrics` cannot see.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from gemini_clone.application.billing.apply_payment_event import EventOutcome
from gemini_clone.application.messaging.generate_reply import ReplyOutcome
from gemini_clone.application.messaging.stop_reply import StopOutcome
from gemini_clone.domain.metering import ModelCall
from gemini_clone.ports.language_model import Purpose
from gemini_clone.ports.metering import CallMeter

# `*_created` series double every counter for a timestamp nobody here reads.
disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS: Final = Counter(
    "gemini_clone_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "path", "status_code"],
)
REQUEST_SECONDS: Final = Histogram(
    "gemini_clone_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "path"],
)
REPLIES: Final = Counter("gemini_clone_replies", "Replies finished, by final status.", ["status"])
GENERATION_SECONDS: Final = Histogram(
    "gemini_clone_reply_generation_seconds",
    "Time to claim, generate and store one reply, by final status.",
    ["status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
PENDING_REPLIES: Final = Gauge(
    "gemini_clone_replies_pending",
    "Replies waiting for a worker (queued) or being generated (processing), when scraped.",
    ["status"],
    multiprocess_mode="mostrecent",
)
QUOTA_REFUSALS: Final = Counter(
    "gemini_clone_quota_refusals",
    "Messages refused because the plan's daily limit was reached (daily_limit_reached).",
)
WEBHOOK_EVENTS: Final = Counter(
    "gemini_clone_webhook_events",
    "Payment webhook deliveries, by event type and outcome.",
    ["type", "outcome"],
)

STREAMS_OPEN: Final = Gauge(
    "gemini_clone_streams_open",
    "Reply streams (Server-Sent Events) open now.",
    multiprocess_mode="livesum",
)
REPLY_STOPS: Final = Counter(
    "gemini_clone_reply_stops",
    "Stop requests, by outcome: cancelled (it was queued), stopped (being written), "
    "final (nothing left to stop).",
    ["outcome"],
)

MODEL_CALLS: Final = Counter(
    "gemini_clone_model_calls",
    "Model calls (replies, titles), by catalogue model, purpose and outcome.",
    ["model", "purpose", "outcome"],
)
MODEL_TOKENS: Final = Counter(
    "gemini_clone_model_tokens",
    "Tokens of the model calls as the providers reported them, by catalogue model, "
    "purpose and kind (prompt includes cached).",
    ["model", "purpose", "kind"],
)
OTHER_LABEL: Final = "other"
TOKEN_KINDS: Final = {
    "prompt": "prompt_tokens",
    "cached": "cached_tokens",
    "output": "output_tokens",
    "thoughts": "thoughts_tokens",
}


class PrometheusCallMeter(CallMeter):
    """Counts each metered model call. Labels stay bounded: a model outside the
    catalogue (`models`) and a purpose we do not know are counted as "other"."""

    def __init__(self, models: Collection[str]) -> None:
        self._models = frozenset(models)
        self._purposes = frozenset(purpose.value for purpose in Purpose)

    def observe(self, call: ModelCall) -> None:
        model = call.model if call.model in self._models else OTHER_LABEL
        purpose = call.purpose if call.purpose in self._purposes else OTHER_LABEL
        MODEL_CALLS.labels(model, purpose, call.outcome.value).inc()
        for kind, field in TOKEN_KINDS.items():
            MODEL_TOKENS.labels(model, purpose, kind).inc(getattr(call.usage, field))


WEBHOOK_IGNORED: Final = "ignored"
WEBHOOK_INVALID: Final = "invalid"
UNKNOWN_EVENT_TYPE: Final = "unknown"
"""The `type` of a delivery that was refused or not read (its type is not trusted or known)."""

for _status in (ReplyOutcome.COMPLETED, ReplyOutcome.FAILED, ReplyOutcome.BLOCKED):
    REPLIES.labels(_status.value)
for _stop in StopOutcome:
    REPLY_STOPS.labels(_stop.value)


def reply_finished(outcome: ReplyOutcome, seconds: float) -> None:
    """Record one run of `GenerateReply`; a skipped run (nothing to do) is not a reply."""
    if outcome is ReplyOutcome.SKIPPED:
        return
    REPLIES.labels(outcome.value).inc()
    GENERATION_SECONDS.labels(outcome.value).observe(seconds)


def reply_stopped(outcome: StopOutcome) -> None:
    REPLY_STOPS.labels(outcome.value).inc()


def webhook_event(event_type: str, outcome: EventOutcome | str) -> None:
    WEBHOOK_EVENTS.labels(event_type, str(outcome)).inc()


def quota_refused() -> None:
    QUOTA_REFUSALS.inc()


__all__ = [
    "MODEL_CALLS",
    "MODEL_TOKENS",
    "PENDING_REPLIES",
    "REPLY_STOPS",
    "REQUESTS",
    "REQUEST_SECONDS",
    "STREAMS_OPEN",
    "UNKNOWN_EVENT_TYPE",
    "WEBHOOK_IGNORED",
    "WEBHOOK_INVALID",
    "PrometheusCallMeter",
    "quota_refused",
    "reply_finished",
    "reply_stopped",
    "webhook_event",
]
