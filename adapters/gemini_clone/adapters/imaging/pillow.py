"""`ImageCheck` with Pillow.

The image is spooled to a temporary file (in memory up to `SPOOL_BYTES`), then read by a
thread, so the event loop never decodes and a 20 MiB upload is never held whole:
- the header gives the size; more than `max_pixels` is refused before any pixel is decoded
  (Pillow's own bomb check is set to the same limit);
- `verify()` checks what the format allows without decoding (PNG's chunk checksums);
- the first frame is then decoded where that is cheap: whole up to `FULL_DECODE_PIXELS`,
  and a JPEG above it as a reduced draft (libjpeg scales while it decodes). A larger PNG,
  GIF or WEBP is checked by its header and `verify()` only: decoding it whole would cost
  4 bytes a pixel, in a process shared by every upload.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterable
from typing import IO

from PIL import Image, UnidentifiedImageError

from gemini_clone.domain.errors import TooLarge, UnsupportedMediaType
from gemini_clone.ports.images import ImageCheck, ImageSize

SPOOL_BYTES = 1024 * 1024
FULL_DECODE_PIXELS = 16_000_000
"""Decoded whole at most 64 MB (RGBA) a check."""
DRAFT_SIDE = 1024
"""A large JPEG is decoded at the smallest scale (1/2 to 1/8) still this wide or high."""
PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}


class PillowImageCheck(ImageCheck):
    def __init__(self, *, max_pixels: int) -> None:
        self._max_pixels = max_pixels
        # Process-wide in Pillow (this adapter is the only code here that opens images): it
        # raises past twice the limit while reading the header; between the two it warns
        # once, and the size check below refuses.
        Image.MAX_IMAGE_PIXELS = max_pixels

    async def check(self, media_type: str, chunks: AsyncIterable[bytes]) -> ImageSize:
        expected = PILLOW_FORMATS.get(media_type)
        if expected is None:
            raise UnsupportedMediaType(f"{media_type} is not an image type.")
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            async for chunk in chunks:
                await asyncio.to_thread(spool.write, chunk)
            return await asyncio.to_thread(self._decode, spool, expected)

    def _decode(self, file: IO[bytes], expected: str) -> ImageSize:
        unreadable = UnsupportedMediaType("The image could not be decoded.")
        try:
            file.seek(0)
            with Image.open(file, formats=[expected]) as image:
                width, height = image.size
                if width * height > self._max_pixels:
                    raise too_large(self._max_pixels)
                image.verify()
            file.seek(0)
            # `verify` leaves the image unusable: it is opened again to decode.
            with Image.open(file, formats=[expected]) as image:
                if width * height <= FULL_DECODE_PIXELS:
                    image.load()
                elif expected == "JPEG":
                    image.draft("RGB", (DRAFT_SIDE, DRAFT_SIDE))
                    image.load()
        except Image.DecompressionBombError:
            raise too_large(self._max_pixels) from None
        except TooLarge:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            # Pillow's decoders report a broken file with any of these.
            raise unreadable from None
        return ImageSize(width=width, height=height)


def too_large(max_pixels: int) -> TooLarge:
    return TooLarge(f"An image may have at most {max_pixels} pixels.", code="image_too_large")
