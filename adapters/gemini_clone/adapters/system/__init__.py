"""The machine's own clock and random ids: the real `Clock` and `IdGenerator`."""

from gemini_clone.adapters.system.clock import SystemClock, UuidGenerator

__all__ = ["SystemClock", "UuidGenerator"]
