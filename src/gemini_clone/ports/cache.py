from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Cache(Protocol):
    """Values grouped by scope (one user's lists, say) so a scope is invalidated at once.

    - A cache never fails a request: adapters answer a miss when their store is down.
    - Each scope carries a stamp, an opaque token that stays the same until the scope is
      invalidated or expires. A reader takes the stamp before it reads the source of truth
      and writes with it: the write is dropped when the scope was invalidated in between,
      so a value read before a change is never stored after that change's invalidation.
    """

    async def get(self, scope: str, key: str) -> bytes | None: ...

    async def stamp(self, scope: str, ttl_seconds: int) -> str | None:
        """The scope's current stamp, created (to live `ttl_seconds`) when it has none.

        None means "do not cache": the store is down, or the TTL is below one second.
        """
        ...

    async def set(
        self, scope: str, key: str, value: bytes, ttl_seconds: int, *, stamp: str | None = None
    ) -> None:
        """Store `value` for `ttl_seconds` (below one second stores nothing).

        With a `stamp`, only while the scope still carries that stamp; without one, always
        (for values no concurrent change can make stale).
        """
        ...

    async def invalidate(self, scope: str) -> None:
        """Drop every entry of the scope and its stamp."""
        ...


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    allowed: bool
    retry_after: int = 0


class Throttle(Protocol):
    """Counts hits per key in a fixed window. Fails safe: raises `Unavailable` when down."""

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> ThrottleDecision: ...

    async def reset(self, key: str) -> None:
        """Forget the key's window (an account's deletion: its number leaves no trace)."""
        ...
