"""Test doubles the unit tests need beyond the in-memory adapters: a scripted language
model, a recording payment gateway and a sleep that moves the fake clock."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.domain.subscriptions import PaymentEvent
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
)
from gemini_clone.ports.payments import CheckoutRequest, CheckoutSession, PaymentGateway

Hook = Callable[[], Awaitable[None]]

DEFAULT_USAGE = TokenUsage(prompt_tokens=10, output_tokens=3, thoughts_tokens=0, total_tokens=13)


class ScriptedLanguageModel(LanguageModel):
    """Streams the pieces it is given, or raises the error it is given.

    - Every call is recorded in `requests` (so tests count model calls).
    - `during` runs after the first piece was produced and before the rest: the place to
      delete a chatroom, run a second worker or move the clock "mid-generation".
    """

    name = "scripted-model"

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []
        self.pieces: list[GenerationPiece] = [
            GenerationPiece(text="Hello"),
            GenerationPiece(
                text=" there.", finish_reason="stop", usage=DEFAULT_USAGE, model="scripted-1"
            ),
        ]
        self.error: BaseException | None = None
        self.error_after_chunks = 0
        self.during: Hook | None = None

    def answer(
        self,
        *texts: str,
        finish_reason: str | None = "stop",
        usage: TokenUsage | None = DEFAULT_USAGE,
        block_reason: str | None = None,
        model: str | None = "scripted-1",
    ) -> None:
        """Answer with these text pieces; the last carries the reasons, usage and model."""
        pieces = list(texts) or [""]
        self.pieces = [GenerationPiece(text=text) for text in pieces[:-1]]
        self.pieces.append(
            GenerationPiece(
                text=pieces[-1],
                finish_reason=finish_reason,
                block_reason=block_reason,
                usage=usage,
                model=model,
            )
        )
        self.error = None

    def fail(self, error: BaseException, *, after_chunks: int = 0) -> None:
        self.error = error
        self.error_after_chunks = after_chunks

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        self.requests.append(request)
        for index, piece in enumerate(self.pieces):
            if self.error is not None and index == self.error_after_chunks:
                raise self.error
            yield piece
            if index == 0 and self.during is not None:
                await self.during()
        if self.error is not None:
            raise self.error


class SlowCache(Cache):
    """A cache whose `set` takes a while, like a network round trip: `during_set` runs (once)
    after `set` is called and before the value is stored."""

    def __init__(self, inner: Cache) -> None:
        self._inner = inner
        self.during_set: Hook | None = None

    async def get(self, scope: str, key: str) -> bytes | None:
        return await self._inner.get(scope, key)

    async def stamp(self, scope: str, ttl_seconds: int) -> str | None:
        return await self._inner.stamp(scope, ttl_seconds)

    async def set(
        self, scope: str, key: str, value: bytes, ttl_seconds: int, *, stamp: str | None = None
    ) -> None:
        hook, self.during_set = self.during_set, None
        if hook is not None:
            await hook()
        await self._inner.set(scope, key, value, ttl_seconds, stamp=stamp)

    async def invalidate(self, scope: str) -> None:
        await self._inner.invalidate(scope)


class RecordingPaymentGateway(PaymentGateway):
    """Opens numbered checkout sessions and records every request."""

    name = "recording"

    def __init__(self) -> None:
        self.requests: list[CheckoutRequest] = []
        self.portal_requests: list[tuple[str, str]] = []
        self._numbers = itertools.count(1)

    async def start_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        self.requests.append(request)
        session_id = f"cs_test_{next(self._numbers)}"
        return CheckoutSession(
            session_id=session_id, checkout_url=f"{request.base_url}/pay/{session_id}"
        )

    def read_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        raise NotImplementedError("unit tests build PaymentEvent values directly")

    async def portal_url(self, customer_id: str, return_url: str) -> str:
        self.portal_requests.append((customer_id, return_url))
        return f"https://billing.example/{customer_id}"


@dataclass
class ClockSleep:
    """An `asyncio.sleep` stand-in that moves the fake clock instead of waiting.

    `on_sleep(n)` runs after the n-th sleep (1-based), e.g. to let a worker finish a reply.
    """

    clock: FixedClock
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[int], Awaitable[None]] | None = None

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))
        if self.on_sleep is not None:
            await self.on_sleep(len(self.slept))

    @property
    def total(self) -> float:
        return sum(self.slept)
