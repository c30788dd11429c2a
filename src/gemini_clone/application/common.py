"""Old import path of two shared pieces, kept only for `application/messaging` (reading,
send_message) until it imports them from their homes: `cursors` (page cursors) and
`cache_scope` (the chatroom list's cache scope). Everything else imports from those
modules; delete this one with that change."""

from __future__ import annotations

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.cursors import decode_cursor, encode_cursor

__all__ = ["decode_cursor", "encode_cursor", "forget_chatroom_list"]
