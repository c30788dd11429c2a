"""What the model adapters that stream over HTTP share: pools, retries, events.

Each provider adapter (`gemini`, `openai_compatible`) stays independent of the others and
imports only this: it builds a `StreamingClient` and keeps its wire format (the request
body, the pieces it reads from the answer, which statuses mean what).
"""

from gemini_clone.adapters.model_http.pools import POOL_CONNECTIONS, ClientPools
from gemini_clone.adapters.model_http.retry import (
    Backoff,
    RetryPolicy,
    TransientFailure,
    retry_after_seconds,
    stream_with_retries,
)
from gemini_clone.adapters.model_http.sse import event_data
from gemini_clone.adapters.model_http.streaming import (
    HttpOptions,
    PieceReader,
    Refusal,
    ServerWords,
    StreamingClient,
    StreamingClientOwner,
    checked_base_url,
)

__all__ = [
    "POOL_CONNECTIONS",
    "Backoff",
    "ClientPools",
    "HttpOptions",
    "PieceReader",
    "Refusal",
    "RetryPolicy",
    "ServerWords",
    "StreamingClient",
    "StreamingClientOwner",
    "TransientFailure",
    "checked_base_url",
    "event_data",
    "retry_after_seconds",
    "stream_with_retries",
]
