"""A circuit per model: after repeated failed replies, stop asking the model for a while.

The states, by what the last replies did:

    closed --CIRCUIT_FAILURES failures in a row--> open --cooldown ends--> half-open
      ^                                                                     |  |
      +---------------- the one try let through succeeds ------------------+  |
                        (any success closes, whatever the state)               |
    open <----------------- the one try fails ----------------------------------+

`Circuit` is the rule in Python, used by the in-process adapter; the Redis adapter's Lua
script (`adapters/redis/circuits.py`) is its twin, so that every worker shares one state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    """The model is asked."""
    OPEN = "open"
    """Replies go straight to the model's fallback until the cooldown ends."""
    HALF_OPEN = "half_open"
    """The cooldown ended: the next reply tries the model (one at a time)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitPolicy:
    failures: int = 5
    """Failed replies in a row that open the circuit."""
    cooldown: float = 30.0
    """Seconds an open circuit sends replies elsewhere; also how long the one try of a
    half-open circuit holds it before another may go (a try whose worker died or stalled
    must not keep the model out for good)."""

    def __post_init__(self) -> None:
        if self.failures < 1 or self.cooldown <= 0:
            raise ValueError("a circuit opens after at least one failure, for some time")


@dataclass(frozen=True, slots=True, kw_only=True)
class Circuit:
    """One model's circuit. Times are seconds of one clock (`now`), shared by whoever
    reads the circuit."""

    failures: int = 0
    """Failed replies since the last success."""
    open_until: float | None = None
    """None: closed. Until then open; after it, half-open."""
    try_until: float | None = None
    """While half-open: the one try let through holds the circuit until then."""

    def state(self, now: float) -> CircuitState:
        if self.open_until is None:
            return CircuitState.CLOSED
        return CircuitState.OPEN if now < self.open_until else CircuitState.HALF_OPEN

    def admit(self, now: float, policy: CircuitPolicy) -> Circuit | None:
        """The circuit after letting a reply ask the model at `now`; None: not now (open,
        or half-open with its try still out)."""
        state = self.state(now)
        if state is CircuitState.CLOSED:
            return self
        if state is CircuitState.OPEN or (self.try_until is not None and now < self.try_until):
            return None
        return Circuit(
            failures=self.failures, open_until=self.open_until, try_until=now + policy.cooldown
        )

    def failed(self, now: float, policy: CircuitPolicy) -> Circuit:
        """After a reply the model failed (its retries ended on 429, 5xx or a timeout).

        - Closed: counted; the `policy.failures`-th in a row opens the circuit.
        - Open: counted, the cooldown kept (a reply begun before the circuit opened, by a
          worker that answers late, does not push the end of the cooldown).
        - Half-open: its try failed, or a late one did: open again for a cooldown.
        """
        failures = self.failures + 1
        state = self.state(now)
        if state is CircuitState.OPEN:
            return Circuit(failures=failures, open_until=self.open_until, try_until=None)
        if state is CircuitState.HALF_OPEN or failures >= policy.failures:
            return Circuit(failures=failures, open_until=now + policy.cooldown)
        return Circuit(failures=failures)

    @staticmethod
    def succeeded() -> Circuit:
        """After a reply the model wrote: closed, the count back to zero."""
        return Circuit()
