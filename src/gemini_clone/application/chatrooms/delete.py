from __future__ import annotations

from gemini_clone.application.attachments.blob_cleanup import delete_blobs_unless_used
from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.chatrooms.get import owned_chatroom
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.reply_pieces import Piece, PieceKind, ReplyPieces
from gemini_clone.ports.repositories import UnitOfWorkFactory


class DeleteChatroom:
    """Delete a chatroom and its messages.

    - Its pending replies are cancelled first, so a worker holding one stores nothing.
    - Once deleted, their open streams end (`done`): no reader waits for a reply that
      will never come.
    - Quota units already taken are not returned: the user chose to stop.
    - Its files go with it: their rows in the same transaction (their bytes back to the
      storage allowance), their blobs after it commits (unless another row names one); a
      crash in between leaves blobs with no row, which the sweeper removes.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: Cache,
        clock: Clock,
        pieces: ReplyPieces,
        blobs: BlobStore,
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._cache = cache
        self._clock = clock
        self._pieces = pieces

    async def execute(self, user_id: UserId, chatroom_id: ChatroomId) -> None:
        async with self._uow() as uow:
            await owned_chatroom(uow, chatroom_id, user_id)
            cancelled = await uow.messages.cancel_pending(chatroom_id, self._clock.now())
            files = await uow.attachments.remove_for_room(chatroom_id)
            await uow.chatrooms.delete(chatroom_id)
            await uow.commit()
        for reply_id in cancelled:
            self._pieces.publish(reply_id, Piece(kind=PieceKind.DONE))
        await delete_blobs_unless_used(self._uow, self._blobs, [f.blob_key for f in files])
        await forget_chatroom_list(self._cache, user_id)
