"""Checks that an image decodes before it is kept: a file with an image's signature may
still be broken, or a decompression bomb (a few KB declaring a billion pixels)."""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSize:
    width: int
    height: int


class ImageCheck(Protocol):
    async def check(self, media_type: str, chunks: AsyncIterable[bytes]) -> ImageSize:
        """Read the image (`chunks`: the whole file, as the blob store gives it back) and
        answer its size. Raises `UnsupportedMediaType` when it does not decode as
        `media_type`, and `TooLarge` (`image_too_large`) when it has more pixels than the
        check allows, judged from its header before any pixel is decoded."""
        ...
