"""What the model adapters that stream over HTTP share: server-sent events and retry timing.

Each provider adapter (`gemini`, `openai_compatible`) stays independent of the others and
imports only this.
"""

from gemini_clone.adapters.model_http.retry import Backoff, retry_after_seconds
from gemini_clone.adapters.model_http.sse import event_data

__all__ = ["Backoff", "event_data", "retry_after_seconds"]
