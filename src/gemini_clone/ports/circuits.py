"""A circuit per model, shared by every process that asks models (`domain/circuits.py`)."""

from __future__ import annotations

from typing import Protocol

from gemini_clone.domain.circuits import CircuitState


class CircuitBreaker(Protocol):
    """Each call is atomic: of any number of callers at once, in any processes, each sees
    the state the others left (`Circuit`, whose rules every adapter follows)."""

    async def admit(self, model: str) -> bool:
        """Whether a reply may ask `model` now: closed, or half-open and no other try out
        (this caller's becomes it). False while open."""
        ...

    async def failed(self, model: str) -> None:
        """`model` failed a reply (`Circuit.failed`)."""
        ...

    async def succeeded(self, model: str) -> None:
        """`model` wrote a reply (`Circuit.succeeded`)."""
        ...

    async def state(self, model: str) -> CircuitState:
        """`model`'s circuit now, changing nothing (for operators and tests)."""
        ...
