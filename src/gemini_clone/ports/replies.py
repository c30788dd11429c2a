"""The worker's reads and writes for one reply, behind one port of their own so that each
database does them in as few round trips as it allows (the worker makes one claim and one
finish per reply, hundreds a second)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from gemini_clone.domain.chatrooms import TitleSource, wants_model_title
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import MessageError, MessageStatus, TokenUsage
from gemini_clone.domain.metering import ModelCall
from gemini_clone.domain.summaries import PathSummary
from gemini_clone.ports.language_model import Turn


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaUnit:
    """The unit of a user's daily quota that a message took."""

    user_id: UserId
    day: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyRoom:
    """The room a claimed reply is written in, as its model call and its title need it."""

    chatroom_id: ChatroomId
    user_id: UserId
    system_instruction: str | None
    """None: the service's default."""
    model: str | None
    """The room's chosen model; None: the default (`ModelAccess.answering_model` decides)."""
    owner_plan_status: str | None
    """The owner's subscription status (None: never subscribed)."""
    title_source: TitleSource
    title_tries: int

    @property
    def wants_model_title(self) -> bool:
        return wants_model_title(self.title_source, self.title_tries)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedReply:
    question: str
    """The user's message the reply answers."""
    history: Sequence[Turn]
    """Turns of the room's answered exchanges older than the question, newest first,
    within the token budget (see `ReplyStore.claim`)."""
    quota: QuotaUnit | None
    """The unit the question took, if any: a reply that fails gives it back."""
    room: ReplyRoom
    attempt: int
    """Which claim of the reply this is (its `attempts` after the claim; 1 for the
    first): a later one starts over, and only this claim may renew the lease."""
    summary: PathSummary | None = None
    """The summary leading the history (`domain.summaries.cut_path`); `history` holds
    only turns after what it covers."""
    fell_out: MessageId | None = None
    """The newest answered turn that fell out of the budget and no summary covers: a
    summary through it is what the next replies need (None: nothing fell out uncovered)."""
    question_id: MessageId | None = None
    """The question's id (None only from stores that predate files on questions)."""
    question_has_files: bool = False
    """Whether the question carries attachments: only then does the worker read them, so
    a question without files costs the claim nothing more (one indexed probe in SQL)."""
    history_files: Mapping[int, MessageId] = field(default_factory=dict)
    """The turns of `history` that are questions carrying attachments: each one's index in
    `history` and its message id. The worker reads all their files in one read after the
    claim (`QuestionFiles`); their tokens already counted in the history's budget."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyResult:
    """What a reply ends with."""

    status: MessageStatus
    content: str
    model: str | None
    finish_reason: str | None
    usage: TokenUsage | None
    error: MessageError | None
    completed_at: datetime
    fallback_from: str | None = None
    """The model asked for, when `model` wrote the reply in its place (`ModelFallback`)."""


class Finish(enum.Enum):
    """What became of a finish (`ReplyStore.finish`)."""

    STORED = "stored"
    """The outcome is stored: the reply is final."""
    TAKEN_OVER = "taken_over"
    """Refused: the reply is still pending under another claim (a worker that claimed it
    after this one's lease ran out, or queued for one); its stream is that claim's."""
    ENDED = "ended"
    """Refused: the reply is final already (stopped, superseded, finished)."""
    GONE = "gone"
    """Refused: the reply's row no longer exists (its room or its account was deleted,
    and the deletion ended its stream): nothing of it may be published again."""


class ReplyStore(Protocol):
    async def claim(
        self,
        reply_id: MessageId,
        *,
        now: datetime,
        lease_until: datetime,
        token_budget: int,
        history_limit: int,
        summary_reach: int | None = None,
    ) -> ClaimedReply | None:
        """Move the reply to `processing` until `lease_until` (counting an attempt) if it
        is queued or its lease ended before `now`, and read what the model needs.

        The rule is `Message.is_claimable`. None, changing nothing, when the reply is
        missing, is not a reply, answers no stored question, is held by a live lease, or is
        final. Of two concurrent claims, one wins. The history holds the turns of the
        answered exchanges on the path above the question (`domain.tree.answered_on_path`,
        its ancestors), newest first, cut by `domain.history.within_budget` at
        `token_budget` and `history_limit`. With `summary_reach` (None: summaries are
        ignored), `domain.summaries.cut_path` decides instead: the summary found on the
        path leads, what it covers is left out, and what fell out uncovered is named.
        A turn's tokens are its text's and its files' (`domain.history.estimate_file_tokens`),
        and so are the question's; the questions kept that carry files are named
        (`history_files`).
        """
        ...

    async def finish(
        self,
        reply_id: MessageId,
        result: ReplyResult,
        *,
        attempt: int,
        give_back: QuotaUnit | None,
        call: ModelCall | None = None,
        earlier_calls: Sequence[ModelCall] = (),
    ) -> Finish:
        """All or nothing: while claim number `attempt` still holds the reply
        (`Message.is_held_by`), store its outcome and give `give_back` back (a count never
        goes below zero): `STORED`. Otherwise nothing changes: `TAKEN_OVER` when the reply
        is still pending (claimed again after this claim's lease ran out, or queued
        again), `ENDED` when it is final (cancelled, finished), `GONE` when it is deleted.

        `call`, the model call that made the outcome, is added to the usage ledger in the
        same transaction, also when the finish is refused: the provider billed it; so are
        `earlier_calls`, the models asked before it that failed (a fallback chain's).
        """
        ...

    async def cancel(
        self, reply_id: MessageId, *, cancelled_at: datetime, being_written: bool
    ) -> bool:
        """All or nothing: if the reply may be cancelled (`Message.is_cancellable`), make it
        `cancelled` at `cancelled_at` with no lease, and give back the unit its question
        took (a count never goes below zero). False, changing nothing, otherwise: final
        already, missing, not a reply, or being written without `being_written`.
        """
        ...

    async def renew(self, reply_id: MessageId, *, attempt: int, lease_until: datetime) -> bool:
        """Move the lease to `lease_until` while claim number `attempt` still holds the
        reply (`Message.is_held_by`). False, changing nothing, otherwise: the reply was
        stopped, deleted, finished or claimed again after the lease ran out."""
        ...

    async def release(self, reply_id: MessageId, *, attempt: int) -> None:
        """Put the reply back to `queued` with no lease (`Message.handed_back`) while claim
        number `attempt` still holds it (`Message.is_held_by`): its worker is stopping and
        hands it back. A reply in any other state, or held by another claim, is left
        alone."""
        ...
