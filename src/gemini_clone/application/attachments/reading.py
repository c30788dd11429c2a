"""The files sent with messages, joined to the messages a read answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from gemini_clone.domain.messages import Message, Role
from gemini_clone.ports.repositories import UnitOfWork


async def with_attachments(uow: UnitOfWork, messages: Sequence[Message]) -> tuple[Message, ...]:
    """The messages with their `attachments`; only questions carry files, so a read of
    replies only costs no query."""
    questions = [message.id for message in messages if message.role is Role.USER]
    if not questions:
        return tuple(messages)
    found = await uow.attachments.on_messages(questions)
    return tuple(
        replace(message, attachments=tuple(found[message.id])) if message.id in found else message
        for message in messages
    )
