from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Cache(Protocol):
    """Values grouped by scope (one user's lists, say) so a scope is invalidated at once.

    A cache never fails a request: adapters answer a miss when their store is down.
    """

    async def get(self, scope: str, key: str) -> bytes | None: ...

    async def set(self, scope: str, key: str, value: bytes, ttl_seconds: int) -> None: ...

    async def invalidate(self, scope: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    allowed: bool
    retry_after: int = 0


class Throttle(Protocol):
    """Counts hits per key in a fixed window. Fails safe: raises `Unavailable` when down."""

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> ThrottleDecision: ...
