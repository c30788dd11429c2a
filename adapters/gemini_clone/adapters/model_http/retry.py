"""When and how often to ask a model provider again, and the streams that do it."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from gemini_clone.ports.language_model import GenerationPiece, ModelUnavailable


class TransientFailure(Exception):
    """A failure worth another attempt: what an attempt raises to be retried.

    `code` is the `ModelUnavailable` code when no attempt is left; `retry_after` is the
    wait the server asked for, if it did.
    """

    def __init__(self, message: str, *, code: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for, in seconds, or None when it asks for none.

    `retry-after-ms` (milliseconds, sent by OpenAI) wins over `Retry-After`, which is delay
    seconds or an HTTP date (RFC 9110 §10.2.3). Unreadable values count as absent.
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


@dataclass(slots=True, kw_only=True)
class Backoff:
    """Exponential backoff with full jitter, capped.

    The n-th retry waits a uniformly drawn time between 0 and `min(cap, base * 2**(n-1))`:
    full jitter spreads the retries of many concurrent streams hit by the same outage.
    """

    base: float = 1.0
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int) -> float:
        return self.rng.uniform(0.0, min(self.cap, self.base * 2 ** (retry - 1)))


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How many attempts a stream gets and how long it waits between two.

    - The wait is what the failure says the server asked for, else `backoff`'s.
    - A server-requested wait longer than `max_retry_delay` ends the retries at once.
    """

    max_attempts: int
    backoff: Backoff
    max_retry_delay: float
    sleep: Callable[[float], Awaitable[None]]

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay_before_retry(
        self, attempt: int, failure: TransientFailure, *, label: str, logger: logging.Logger
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none."""
        if attempt >= self.max_attempts:
            logger.warning("%s failed after %d attempts: %s", label, attempt, failure.message)
            return None
        if failure.retry_after is not None:
            if failure.retry_after > self.max_retry_delay:
                logger.warning(
                    "%s asks to wait %.0fs, longer than the %.0fs allowed; giving up: %s",
                    label,
                    failure.retry_after,
                    self.max_retry_delay,
                    failure.message,
                )
                return None
            return failure.retry_after
        return self.backoff.delay(attempt)


async def stream_with_retries(
    open_attempt: Callable[[], AsyncGenerator[GenerationPiece, None]],
    *,
    policy: RetryPolicy,
    label: str,
    logger: logging.Logger,
) -> AsyncIterator[GenerationPiece]:
    """The pieces of one attempt after another, until one ends without a `TransientFailure`.

    - After a failed attempt comes the next, once `policy` has waited; when none is left,
      the failure ends the stream as `ModelUnavailable` with its code. Any other error ends
      it at once.
    - A failure after text has streamed restarts the answer: a `restart` piece comes before
      the next attempt's, so whoever shows or keeps the text drops the failed attempt's part.
    - `label` starts the log lines ("Gemini gemini-2.5-flash"), written to the provider's
      `logger`.
    """
    attempt = 0
    streamed = False
    while True:
        attempt += 1
        try:
            async with aclosing(open_attempt()) as pieces:
                async for piece in pieces:
                    if not streamed and piece.text:
                        streamed = True
                    yield piece
            return
        except TransientFailure as failure:
            delay = policy.delay_before_retry(attempt, failure, label=label, logger=logger)
            if delay is None:
                raise ModelUnavailable(failure.message, code=failure.code) from failure
            logger.warning(
                "%s attempt %d of %d failed%s (%s); retrying in %.2fs",
                label,
                attempt,
                policy.max_attempts,
                " after its answer began streaming" if streamed else "",
                failure.message,
                delay,
            )
            await policy.sleep(delay)
            if streamed:
                streamed = False
                yield GenerationPiece(restart=True)
