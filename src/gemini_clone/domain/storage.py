"""The storage allowance of each plan: the bytes of the files a user keeps."""

from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.domain.subscriptions import Tier

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class StoragePlans:
    """Bytes each plan may keep in uploaded files."""

    basic_storage_bytes: int = 100 * MIB
    pro_storage_bytes: int = 5 * 1024 * MIB

    def allowance(self, tier: Tier) -> int:
        return self.pro_storage_bytes if tier is Tier.PRO else self.basic_storage_bytes


def allows_file(used: int, size: int, allowance: int) -> bool:
    """Whether a file of `size` bytes fits when `used` bytes are kept (an allowance of 0
    allows nothing, not even an empty file)."""
    return used + size <= allowance and allowance > 0


def after_release(used: int, size: int) -> int:
    """The bytes kept once a file of `size` is deleted: never below zero."""
    return max(used - size, 0)
