"""Deleting blobs once no row names them, and the lock that keeps a deletion and an upload
of the same bytes apart.

Blobs are shared by content within a user, so "no row names it" must stay true until the
blob is gone: the check and the deletion run under the user's storage row (locked by
`AttachmentRepository.lock_storage`), which every upload also takes before it records a
row, and an upload then checks that its blob is still there (`blob_exists`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from gemini_clone.domain.attachments import blob_owner
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.repositories import UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.attachments")


async def delete_blobs_unless_used(
    uow: UnitOfWorkFactory, blobs: BlobStore, keys: Collection[str]
) -> int:
    """Delete those of `keys` no row names, their owners' storage rows locked meanwhile. A
    failure is logged and left to the sweeper: the rows are already gone, and a blob with
    no row is what it removes. Returns how many were deleted."""
    if not keys:
        return 0
    deleted = 0
    try:
        async with uow() as work:
            for owner in sorted({owner for key in keys if (owner := blob_owner(key))}):
                await work.attachments.lock_storage(owner)
            in_use = await work.attachments.keys_in_use(keys)
            for key in sorted(set(keys) - in_use):
                await blobs.delete(key)
                deleted += 1
            await work.commit()
    except Exception:
        logger.warning("blobs not deleted now; the sweeper will", exc_info=True)
    return deleted


async def blob_exists(blobs: BlobStore, key: str) -> bool:
    """Whether the store holds `key`: its first chunk is read (`get` raises `KeyError` at
    once for a missing key), never a listing (which matches whole folders only)."""
    chunks = blobs.get(key)
    try:
        await anext(chunks)
    except KeyError:
        return False
    except StopAsyncIteration:
        return True  # an empty file
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    return True
