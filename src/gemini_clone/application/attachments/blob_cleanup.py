"""Deleting blobs once no row names them: a blob is deleted after its row is gone."""

from __future__ import annotations

import logging
from collections.abc import Collection

from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.repositories import UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.attachments")


async def delete_blobs_unless_used(
    uow: UnitOfWorkFactory, blobs: BlobStore, keys: Collection[str]
) -> int:
    """Delete those of `keys` no row names (two uploads of the same bytes by one user share
    a blob). A failure is logged and left to the sweeper: the rows are already gone, and a
    blob with no row is what it removes. Returns how many were deleted."""
    if not keys:
        return 0
    try:
        async with uow() as work:
            in_use = await work.attachments.keys_in_use(keys)
        deleted = 0
        for key in set(keys) - in_use:
            await blobs.delete(key)
            deleted += 1
    except Exception:
        logger.warning("blobs not deleted now; the sweeper will", exc_info=True)
        return 0
    return deleted
