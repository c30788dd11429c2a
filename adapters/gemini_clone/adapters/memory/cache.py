"""In-process cache and throttle: unit tests and the embedded (single-process) mode."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gemini_clone.ports.cache import Cache, Throttle, ThrottleDecision

Monotonic = Callable[[], float]
"""Seconds from an arbitrary origin that never go backwards, like `time.monotonic`."""


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float


_STAMP = None
"""The key under which a scope keeps its stamp: keys are strings, so no key can be it."""


class InMemoryCache(Cache):
    """Values grouped by scope, kept in this process only.

    - An entry is served until its TTL ends, never after; a TTL below one second stores
      nothing.
    - A scope's stamp is kept like an entry (it counts towards `max_entries`, expires
      with its TTL and may be evicted); a write with a stamp the scope no longer carries
      is dropped, a miss later.
    - `invalidate(scope)` drops every entry of that scope, its stamp, and nothing else.
    - Memory is bounded: expired entries are dropped when read and swept when the cache is
      full, then the oldest-written entries are evicted down to nine tenths of
      `max_entries` (a miss is always safe for a cache).
    """

    def __init__(self, *, max_entries: int = 10_000, monotonic: Monotonic = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._monotonic = monotonic
        # Insertion-ordered, so the first item is the oldest write (the eviction victim).
        self._entries: dict[tuple[str, str | None], _Entry] = {}
        # Index of the keys of each scope, so a scope is invalidated without a full scan.
        self._scopes: dict[str, set[str | None]] = {}

    async def get(self, scope: str, key: str) -> bytes | None:
        return self._live(scope, key)

    async def stamp(self, scope: str, ttl_seconds: int) -> str | None:
        if ttl_seconds < 1:
            return None
        current = self._live(scope, _STAMP)
        if current is not None:
            return current.decode()
        stamp = secrets.token_hex(16)
        self._put(scope, _STAMP, stamp.encode(), ttl_seconds)
        return stamp

    async def set(
        self, scope: str, key: str, value: bytes, ttl_seconds: int, *, stamp: str | None = None
    ) -> None:
        if ttl_seconds < 1:
            return
        if stamp is not None and self._live(scope, _STAMP) != stamp.encode():
            return
        self._put(scope, key, value, ttl_seconds)

    async def invalidate(self, scope: str) -> None:
        for key in self._scopes.pop(scope, set()):
            del self._entries[(scope, key)]

    def __len__(self) -> int:
        """Entries and stamps held, expired or not (they go when read or when full)."""
        return len(self._entries)

    def _live(self, scope: str, key: str | None) -> bytes | None:
        entry = self._entries.get((scope, key))
        if entry is None:
            return None
        if entry.expires_at <= self._monotonic():
            self._remove(scope, key)
            return None
        return entry.value

    def _put(self, scope: str, key: str | None, value: bytes, ttl_seconds: int) -> None:
        now = self._monotonic()
        # Pop first so a rewrite moves the entry to the young end of the eviction order.
        self._entries.pop((scope, key), None)
        if len(self._entries) >= self._max_entries:
            self._make_room(now)
        self._entries[(scope, key)] = _Entry(value, now + ttl_seconds)
        self._scopes.setdefault(scope, set()).add(key)

    def _make_room(self, now: float) -> None:
        expired = [
            scope_key for scope_key, entry in self._entries.items() if entry.expires_at <= now
        ]
        for scope, key in expired:
            self._remove(scope, key)
        # Freeing a tenth at once keeps the sweep, a full scan, to one per many writes.
        while len(self._entries) > _low_water_mark(self._max_entries):
            scope, key = next(iter(self._entries))
            self._remove(scope, key)

    def _remove(self, scope: str, key: str | None) -> None:
        del self._entries[(scope, key)]
        keys = self._scopes[scope]
        keys.discard(key)
        if not keys:
            del self._scopes[scope]


@dataclass(slots=True)
class _Window:
    hits: int
    ends_at: float


class InMemoryThrottle(Throttle):
    """Fixed-window hit counters kept in this process only.

    - A window opens at a key's first hit and lasts `window_seconds`; the first `limit`
      hits in it are allowed, later ones are refused with `retry_after` = whole seconds
      until the window ends (at least 1).
    - A hit after the window ends opens a new window.
    - Memory is bounded: ended windows are swept when the table is full, then the oldest
      windows are dropped down to nine tenths of `max_keys` (their keys start afresh), so
      size `max_keys` well above the number of keys active within one window.
    - A window shorter than one second is a programming error (`ValueError`).
    - Never unavailable: it lives in this process.
    """

    def __init__(self, *, max_keys: int = 100_000, monotonic: Monotonic = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._monotonic = monotonic
        # Insertion-ordered: a new window is re-inserted, so the first item is the oldest.
        self._windows: dict[str, _Window] = {}

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> ThrottleDecision:
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        now = self._monotonic()
        window = self._windows.get(key)
        if window is None or window.ends_at <= now:
            self._windows.pop(key, None)
            if len(self._windows) >= self._max_keys:
                self._make_room(now)
            window = _Window(hits=0, ends_at=now + window_seconds)
            self._windows[key] = window
        window.hits += 1
        if window.hits <= limit:
            return ThrottleDecision(allowed=True)
        return ThrottleDecision(allowed=False, retry_after=max(1, math.ceil(window.ends_at - now)))

    def __len__(self) -> int:
        """Windows held, ended or not (ended ones go when the table is full)."""
        return len(self._windows)

    def _make_room(self, now: float) -> None:
        ended = [key for key, window in self._windows.items() if window.ends_at <= now]
        for key in ended:
            del self._windows[key]
        # Freeing a tenth at once keeps the sweep, a full scan, to one per many new windows.
        while len(self._windows) > _low_water_mark(self._max_keys):
            del self._windows[next(iter(self._windows))]


def _low_water_mark(capacity: int) -> int:
    return capacity - max(1, capacity // 10)
