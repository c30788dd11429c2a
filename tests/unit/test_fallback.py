"""Fallback chains (`MODEL_FALLBACKS`), the circuit's rules, and replies written down a chain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from tests.unit.conftest import World

from gemini_clone.adapters.memory.circuits import InMemoryCircuitBreaker
from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.adapters.memory.reply_pieces import InMemoryReplyPieces
from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.application.messaging.fallback import ModelFallback
from gemini_clone.application.messaging.generate_reply import GenerateReply
from gemini_clone.domain.circuits import Circuit, CircuitPolicy, CircuitState
from gemini_clone.domain.fallbacks import FallbackChains, FallbackError
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, TokenUsage
from gemini_clone.domain.metering import CallOutcome
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import User
from gemini_clone.entrypoints.cli.banner import banner
from gemini_clone.entrypoints.settings import SettingsError, load_settings
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    ModelUnavailable,
)
from gemini_clone.ports.reply_pieces import Piece, PieceKind

CATALOGUE = ("pro", "flash", "lite", "other")
PRO_ONLY = ("pro",)

# Chains


def chains(listed: str) -> FallbackChains:
    return FallbackChains.parse(listed, catalogue=CATALOGUE, pro_only=PRO_ONLY)


def test_links_make_chains() -> None:
    parsed = chains(" pro > flash , flash>lite")

    assert parsed.chain("pro") == ("pro", "flash", "lite")
    assert parsed.chain("flash") == ("flash", "lite")
    assert parsed.chain("lite") == ("lite",)
    assert parsed.chain("other") == ("other",)
    assert chains("").chain("pro") == ("pro",)


@pytest.mark.parametrize(
    ("listed", "says"),
    [
        ("pro>gemini-9", "names a model nobody serves: gemini-9"),
        ("nope>flash", "names a model nobody serves: nope"),
        ("flash>lite,lite>flash", "cycle"),
        ("flash>lite,lite>other,other>flash", "cycle"),
        ("flash>flash", "cycle"),
        ("flash>pro", "never falls back to a Pro one"),
        ("flash>lite,flash>other", "falls back to both lite and other"),
        ("flash", "not a link"),
        ("flash>lite>other", "not a link"),
        (">lite", "not a link"),
    ],
)
def test_chains_that_cannot_work_are_refused(listed: str, says: str) -> None:
    with pytest.raises(FallbackError, match=says):
        chains(listed)


def test_a_pro_model_may_fall_back_to_a_basic_one() -> None:
    assert chains("pro>flash").chain("pro") == ("pro", "flash")


def test_model_fallbacks_are_checked_when_the_settings_load() -> None:
    environ = {
        "GEMINI_API_KEY": "k",
        "GEMINI_MODELS": "gemini-2.5-flash,gemini-2.5-pro,gemini-2.0-flash",
        "PRO_MODELS": "gemini-2.5-pro",
    }
    fine = "gemini-2.5-pro>gemini-2.5-flash,gemini-2.5-flash>gemini-2.0-flash"
    assert load_settings({**environ, "MODEL_FALLBACKS": fine}, env_file=None)

    with pytest.raises(SettingsError, match=r"Invalid setting MODEL_FALLBACKS: .*cycle"):
        load_settings(
            {**environ, "MODEL_FALLBACKS": "gemini-2.5-flash>gemini-2.0-flash,"
             "gemini-2.0-flash>gemini-2.5-flash"},
            env_file=None,
        )  # fmt: skip
    with pytest.raises(SettingsError, match=r"MODEL_FALLBACKS: .*gemini-3"):
        load_settings({**environ, "MODEL_FALLBACKS": "gemini-2.5-flash>gemini-3"}, env_file=None)
    with pytest.raises(SettingsError, match=r"MODEL_FALLBACKS: .*Basic model never"):
        load_settings(
            {**environ, "MODEL_FALLBACKS": "gemini-2.5-flash>gemini-2.5-pro"}, env_file=None
        )


@pytest.mark.parametrize(("name", "value"), [("CIRCUIT_FAILURES", "0"), ("CIRCUIT_COOLDOWN", "0")])
def test_circuit_settings_have_bounds(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value}, env_file=None)


# The circuit's rules (in seconds of one clock)

POLICY = CircuitPolicy(failures=3, cooldown=30)


def failed(circuit: Circuit, times: int, now: float = 0) -> Circuit:
    for _ in range(times):
        circuit = circuit.failed(now, POLICY)
    return circuit


def test_the_circuit_opens_at_the_third_failure_in_a_row_and_closes_on_success() -> None:
    assert failed(Circuit(), 2).state(0) is CircuitState.CLOSED
    opened = failed(Circuit(), 3, now=100)
    assert opened.state(129.9) is CircuitState.OPEN
    assert opened.admit(129.9, POLICY) is None
    assert opened.state(130) is CircuitState.HALF_OPEN
    assert Circuit.succeeded() == Circuit()


def test_a_half_open_circuit_lets_one_try_through_for_a_cooldown() -> None:
    half_open = failed(Circuit(), 3, now=0)
    trying = half_open.admit(30, POLICY)
    assert trying is not None
    assert trying.admit(59, POLICY) is None
    assert trying.admit(60, POLICY) is not None


def test_a_failed_try_opens_the_circuit_again_and_a_late_failure_keeps_the_cooldown() -> None:
    trying = failed(Circuit(), 3, now=0).admit(30, POLICY)
    assert trying is not None
    assert trying.failed(31, POLICY).state(60) is CircuitState.OPEN
    assert trying.failed(31, POLICY).state(61) is CircuitState.HALF_OPEN
    assert failed(Circuit(), 3, now=0).failed(20, POLICY).open_until == 30


def test_a_circuit_policy_needs_a_failure_and_a_cooldown() -> None:
    with pytest.raises(ValueError, match="at least one failure"):
        CircuitPolicy(failures=0, cooldown=1)


# Replies down a chain (model-a > model-b; model-pro > model-a, in tests/unit/conftest.py)


@dataclass
class Models(LanguageModel):
    """Each model answers its own text, or fails as told: `down` models raise
    `ModelUnavailable` (after `text_first` pieces of text when given)."""

    down: set[str] = field(default_factory=set)
    misconfigured: set[str] = field(default_factory=set)
    text_first: int = 0
    asked: list[str] = field(default_factory=list)
    name: str = "model-a"

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        model = request.model or self.name
        self.asked.append(model)
        if model in self.misconfigured:
            raise ModelConfigurationError("404 model not found")
        if model in self.down:
            for index in range(self.text_first):
                yield GenerationPiece(text=f"{model} part {index} ")
            if self.text_first:
                yield GenerationPiece(usage=TokenUsage(prompt_tokens=7, total_tokens=7))
            raise ModelUnavailable("503 five times", code="model_unavailable")
        yield GenerationPiece(text=f"Answer by {model}.")
        yield GenerationPiece(
            finish_reason="stop",
            usage=TokenUsage(prompt_tokens=5, output_tokens=4, total_tokens=9),
        )


class RecordingPieces(InMemoryReplyPieces):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[Piece] = []

    def publish(self, reply_id: MessageId, piece: Piece) -> None:
        self.published.append(piece)
        super().publish(reply_id, piece)


@dataclass
class Bench:
    world: World
    models: Models
    circuits: InMemoryCircuitBreaker
    pieces: RecordingPieces
    generate: GenerateReply
    now: list[float]

    async def reply(self, user: User, room_model: str | None = None) -> Message:
        room = await self.world.new_chatroom(user, title="Named")
        if room_model is not None:
            await self.world.update_chatroom.execute(
                UpdateChatroomInput(user_id=user.id, chatroom_id=room.id, model=room_model)
            )
        posted = await self.world.post(user, room)
        self.world.jobs.take_all()
        await self.generate.execute(posted.reply.id)
        stored = await self.world.stored(posted.reply.id)
        assert stored is not None
        return stored


@pytest.fixture
def bench(world: World) -> Bench:
    models = Models()
    now = [0.0]
    circuits = InMemoryCircuitBreaker(POLICY, now=lambda: now[0])
    fallback = ModelFallback(
        models,
        world.clock,
        chains=FallbackChains(
            {"model-a": "model-b", "model-pro": "model-a"},
            catalogue=[option.id for option in world.models.options(Tier.PRO)],
            pro_only=("model-pro",),
        ),
        circuits=circuits,
    )
    pieces = RecordingPieces()
    generate = GenerateReply(
        InMemoryReplyStore(world.store),
        models,
        world.clock,
        world.reply_settings,
        world.models,
        pieces=pieces,
        fallback=fallback,
    )
    return Bench(world, models, circuits, pieces, generate, now)


def ledger(world: World) -> list[tuple[str, CallOutcome]]:
    return [(call.model, call.outcome) for call in world.store.tables.model_calls]


async def test_a_reply_whose_model_is_down_is_written_by_the_next_of_its_chain(
    bench: Bench, alice: User
) -> None:
    bench.models.down = {"model-a"}

    reply = await bench.reply(alice)

    assert reply.status is MessageStatus.COMPLETED
    assert reply.content == "Answer by model-b."
    assert (reply.model, reply.fallback_from) == ("model-b", "model-a")
    assert bench.models.asked == ["model-a", "model-b"]
    assert ledger(bench.world) == [
        ("model-a", CallOutcome.FAILED),
        ("model-b", CallOutcome.COMPLETED),
    ]
    assert bench.world.store.tables.model_calls[1].usage.total_tokens == 9
    assert await bench.world.used_today(alice.id) == 1


async def test_a_reply_written_by_the_model_asked_has_no_fallback_from(
    bench: Bench, alice: User
) -> None:
    reply = await bench.reply(alice)

    assert (reply.model, reply.fallback_from) == ("model-a", None)
    assert ledger(bench.world) == [("model-a", CallOutcome.COMPLETED)]


async def test_text_streamed_before_the_failure_is_restarted_and_not_stored(
    bench: Bench, alice: User
) -> None:
    bench.models.down = {"model-a"}
    bench.models.text_first = 2

    reply = await bench.reply(alice)

    assert reply.content == "Answer by model-b."
    kinds = [piece.kind for piece in bench.pieces.published]
    assert kinds == [PieceKind.DELTA, PieceKind.DELTA, PieceKind.RESTART, PieceKind.DELTA,
                     PieceKind.DONE]  # fmt: skip
    failed_call = bench.world.store.tables.model_calls[0]
    assert (failed_call.model, failed_call.usage.prompt_tokens) == ("model-a", 7)


async def test_a_chain_that_ends_down_fails_the_reply_and_gives_the_unit_back(
    bench: Bench, alice: User
) -> None:
    bench.models.down = {"model-pro", "model-a", "model-b"}
    await bench.world.pay(alice)

    reply = await bench.reply(alice, room_model="model-pro")

    assert reply.status is MessageStatus.FAILED
    assert reply.error is not None
    assert reply.error.code == "model_unavailable"
    assert bench.models.asked == ["model-pro", "model-a", "model-b"]
    assert [outcome for _, outcome in ledger(bench.world)] == [CallOutcome.FAILED] * 3
    assert await bench.world.used_today(alice.id) == 0


async def test_a_misconfigured_model_fails_the_reply_without_a_fallback(
    bench: Bench, alice: User
) -> None:
    bench.models.misconfigured = {"model-a"}

    reply = await bench.reply(alice)

    assert reply.status is MessageStatus.FAILED
    assert bench.models.asked == ["model-a"]
    assert await bench.circuits.state("model-a") is CircuitState.CLOSED


async def test_an_open_circuit_sends_replies_straight_to_the_fallback_until_it_cools_down(
    bench: Bench, alice: User
) -> None:
    bench.models.down = {"model-a"}
    for _ in range(POLICY.failures):
        assert (await bench.reply(alice)).model == "model-b"
    assert await bench.circuits.state("model-a") is CircuitState.OPEN
    bench.models.asked.clear()
    calls_before = len(bench.world.store.tables.model_calls)

    skipped = await bench.reply(alice)

    assert (skipped.model, skipped.fallback_from) == ("model-b", "model-a")
    assert bench.models.asked == ["model-b"]
    assert ledger(bench.world)[calls_before:] == [("model-b", CallOutcome.COMPLETED)]

    bench.models.down = set()
    bench.now[0] += POLICY.cooldown
    tried = await bench.reply(alice)
    assert (tried.model, tried.fallback_from) == ("model-a", None)
    assert await bench.circuits.state("model-a") is CircuitState.CLOSED


async def test_the_last_model_of_a_chain_is_asked_even_when_its_circuit_is_open(
    bench: Bench, alice: User
) -> None:
    for _ in range(POLICY.failures):
        await bench.circuits.failed("model-b")
    bench.models.down = {"model-a"}

    reply = await bench.reply(alice)

    assert reply.model == "model-b"
    assert bench.models.asked == ["model-a", "model-b"]
    assert await bench.circuits.state("model-b") is CircuitState.CLOSED


async def test_a_model_without_a_fallback_never_reads_its_circuit(
    bench: Bench, alice: User
) -> None:
    bench.models.down = {"model-b"}

    reply = await bench.reply(alice, room_model="model-b")

    assert reply.status is MessageStatus.FAILED
    assert await bench.circuits.state("model-b") is CircuitState.CLOSED


async def test_replies_at_once_each_count_on_the_circuit(bench: Bench, alice: User) -> None:
    bench.models.down = {"model-a"}
    rooms = [await bench.world.new_chatroom(alice, title=f"r{n}") for n in range(POLICY.failures)]
    posted = [await bench.world.post(alice, room) for room in rooms]
    bench.world.jobs.take_all()

    await asyncio.gather(*(bench.generate.execute(p.reply.id) for p in posted))

    assert await bench.circuits.state("model-a") is CircuitState.OPEN


def test_the_banner_names_the_chains_and_where_the_circuits_are() -> None:
    environ = {
        "GEMINI_API_KEY": "k",
        "GEMINI_MODELS": "gemini-2.5-flash,gemini-2.5-pro",
        "MODEL_FALLBACKS": "gemini-2.5-pro>gemini-2.5-flash",
    }

    embedded = banner(load_settings(environ, env_file=None), "http://127.0.0.1:8000")
    shared = banner(
        load_settings({**environ, "REDIS_URL": "redis://127.0.0.1:6379/0"}, env_file=None),
        "http://127.0.0.1:8000",
    )

    assert "fallbacks        gemini-2.5-pro>gemini-2.5-flash (model circuits in this process)" in (
        embedded
    )
    assert "(model circuits in Redis)" in shared
    assert "fallbacks" not in banner(load_settings({}, env_file=None), "http://127.0.0.1:8000")
