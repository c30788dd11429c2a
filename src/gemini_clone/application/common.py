"""Old import path of the shared pieces, kept only for `application/messaging` until the
`house` branch's rework of that package lands and imports them from their homes:
`cursors` (page cursors), `cache_scope` (the chatroom list's cache scope), `keyed_locks`.
Everything else imports from those modules; this one is deleted with that merge."""

from __future__ import annotations

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.cursors import decode_cursor, encode_cursor
from gemini_clone.application.keyed_locks import KeyedLocks

__all__ = ["KeyedLocks", "decode_cursor", "encode_cursor", "forget_chatroom_list"]
