"""`InMemoryCircuitBreaker`: the circuits of one process (embedded mode, unit tests)."""

from __future__ import annotations

import time
from collections.abc import Callable

from gemini_clone.domain.circuits import Circuit, CircuitPolicy, CircuitState
from gemini_clone.ports.circuits import CircuitBreaker


class InMemoryCircuitBreaker(CircuitBreaker):
    """`Circuit`s by model. Each call runs without awaiting, so the event loop makes it
    atomic; `now` is a monotonic clock in seconds (tests pass their own)."""

    def __init__(self, policy: CircuitPolicy, *, now: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._now = now
        self._circuits: dict[str, Circuit] = {}

    async def admit(self, model: str) -> bool:
        admitted = self._circuits.get(model, Circuit()).admit(self._now(), self._policy)
        if admitted is None:
            return False
        self._circuits[model] = admitted
        return True

    async def failed(self, model: str) -> None:
        circuit = self._circuits.get(model, Circuit())
        self._circuits[model] = circuit.failed(self._now(), self._policy)

    async def succeeded(self, model: str) -> None:
        self._circuits.pop(model, None)

    async def state(self, model: str) -> CircuitState:
        return self._circuits.get(model, Circuit()).state(self._now())
