"""Rooms that name themselves: the model titles a room after its first reply."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.metering.side_calls import SideCalls
from gemini_clone.domain.chatrooms import TITLE_MAX_LENGTH, TITLE_TRIES
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.metering import CallOutcome
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.language_model import GenerationRequest, LanguageModel, Purpose, Turn
from gemini_clone.ports.metering import CallMeter
from gemini_clone.ports.repositories import UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.titles")

TITLE_MAX_WORDS = 6
EXCERPT_CHARACTERS = 2_000
"""Of the question and of the answer: enough to name a conversation, and a bounded cost."""
TITLE_INSTRUCTION = (
    "You name conversations. Answer with a short title for the conversation above: at most "
    f"{TITLE_MAX_WORDS} words, in the language of the conversation, no quotes, no "
    "punctuation at the end, nothing else."
)
_WRAPPING = "\"'`*_#\u201c\u201d\u2018\u2019\u00ab\u00bb \t"
"""Quotes (straight, curly, guillemets), Markdown emphasis and blanks around a title."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TitleInput:
    chatroom_id: ChatroomId
    user_id: UserId
    question: str
    answer: str


class TitleChatroom:
    """Ask the model for a room's title after one of its replies completed.

    - Only while the title is the default: a user's title always wins, also one set while
      the model was asked (the title is stored only if it is still the default).
    - At most `TITLE_TRIES` tries per room, each counted before the call: a failed call
      leaves the default and the room is tried once more after its next reply, never more.
    - Titles cost no quota. They are asked of `title_model` (None: the default model) as a
      `Purpose.TITLE` request, which adapters answer with the least thinking.
    - The answer is cleaned up: its first line, without quotes or a "Title:" label, at most
      six words and 200 characters. An empty answer is a failed try.
    - The call is metered (purpose `title`): its usage-ledger row is stored in the
      transaction that stores the title, or on its own when no title is stored.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        model: LanguageModel,
        cache: Cache,
        clock: Clock,
        title_model: str | None = None,
        *,
        models: ModelAccess | None = None,
        meter: CallMeter | None = None,
    ) -> None:
        self._uow = uow
        self._side_calls = SideCalls(model, clock, models)
        self._cache = cache
        self._clock = clock
        self._title_model = title_model
        self._meter = meter

    async def execute(self, data: TitleInput) -> str | None:
        """The model's title if it was stored; None otherwise."""
        async with self._uow() as uow:
            if not await uow.chatrooms.start_title_try(data.chatroom_id, TITLE_TRIES):
                return None
            await uow.commit()
        answer = await self._side_calls.ask(
            GenerationRequest(
                turns=(
                    Turn(role=Role.USER, text=data.question[:EXCERPT_CHARACTERS]),
                    Turn(role=Role.MODEL, text=data.answer[:EXCERPT_CHARACTERS]),
                    Turn(role=Role.USER, text=TITLE_INSTRUCTION),
                ),
                model=self._title_model,
                purpose=Purpose.TITLE,
            ),
            user_id=data.user_id,
            chatroom_id=data.chatroom_id,
            subject=f"title of room {data.chatroom_id}",
        )
        # An empty title (the call failed, was blocked or said nothing) is a failed try:
        # the room is tried again after its next reply while tries remain.
        title = clean_model_title(answer.text)
        if title is None and answer.call.outcome is CallOutcome.COMPLETED:
            logger.info("title of room %s: the model's answer was empty", data.chatroom_id)
        async with self._uow() as uow:
            stored = title is not None and await uow.chatrooms.set_model_title(
                data.chatroom_id, title, self._clock.now()
            )
            await uow.ledger.record(answer.call)
            await uow.commit()
        if self._meter is not None:
            self._meter.observe(answer.call)
        if title is None or not stored:
            return None
        await forget_chatroom_list(self._cache, data.user_id)
        return title


def clean_model_title(text: str) -> str | None:
    """The title in a model's answer: the first non-blank line, without a "Title:" label,
    wrapping quotes or markup and final punctuation, at most six words and 200 characters.
    None when nothing is left."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"^title\s*:\s*", "", line.strip(_WRAPPING), flags=re.IGNORECASE)
    line = line.strip(_WRAPPING)
    words = line.split()[:TITLE_MAX_WORDS]
    title = " ".join(words).rstrip(".,;:!?…" + _WRAPPING)[:TITLE_MAX_LENGTH].strip()
    return title or None
