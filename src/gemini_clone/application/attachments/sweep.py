"""The attachments' sweep: uploads left on no message, and blobs no row names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gemini_clone.application.attachments.blob_cleanup import delete_blobs_unless_used
from gemini_clone.domain.attachments import UNUSED_UPLOAD_LIFETIME
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory

SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class SweptAttachments:
    unused: int
    """Upload rows on no message deleted."""
    blobs: int
    """Blobs deleted (of those rows, and stray ones)."""


class SweepAttachments:
    """Remove what nobody will use, so nothing is orphaned either way.

    - Uploads on no message older than a day: their rows deleted (bytes given back to the
      allowance), then their blobs unless another row names them.
    - Blobs no row names, older than a day: a crash between writing a blob and recording
      its row, or between deleting a row and its blob. Younger ones may be uploads whose
      row is about to commit, so they wait.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        blobs: BlobStore,
        clock: Clock,
        *,
        lifetime: timedelta = UNUSED_UPLOAD_LIFETIME,
        batch: int = SWEEP_BATCH,
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._clock = clock
        self._lifetime = lifetime
        self._batch = batch

    async def execute(self) -> SweptAttachments:
        cutoff = self._clock.now() - self._lifetime
        async with self._uow() as uow:
            unused = await uow.attachments.unused_before(cutoff, limit=self._batch)
            removed = [a for a in unused if await uow.attachments.remove_unused(a)]
            await uow.commit()
        deleted = await delete_blobs_unless_used(
            self._uow, self._blobs, [a.blob_key for a in removed]
        )
        stray: list[str] = []
        async for blob in self._blobs.list("users"):
            if blob.modified_at < cutoff:
                stray.append(blob.key)
            if len(stray) >= self._batch:
                deleted += await delete_blobs_unless_used(self._uow, self._blobs, stray)
                stray = []
        deleted += await delete_blobs_unless_used(self._uow, self._blobs, stray)
        return SweptAttachments(unused=len(removed), blobs=deleted)
