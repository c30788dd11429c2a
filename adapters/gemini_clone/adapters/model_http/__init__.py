"""What the model adapters that stream over HTTP share: events, retry timing, pools.

Each provider adapter (`gemini`, `openai_compatible`) stays independent of the others and
imports only this.
"""

from gemini_clone.adapters.model_http.pools import POOL_CONNECTIONS, ClientPools
from gemini_clone.adapters.model_http.retry import Backoff, retry_after_seconds
from gemini_clone.adapters.model_http.sse import event_data

__all__ = ["POOL_CONNECTIONS", "Backoff", "ClientPools", "event_data", "retry_after_seconds"]
