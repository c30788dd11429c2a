"""Images are decoded before they are kept: broken ones are refused (415), and ones with more
pixels than allowed (decompression bombs) are refused from their header (413)."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from gemini_clone.adapters.imaging import PillowImageCheck
from gemini_clone.adapters.imaging.pillow import FULL_DECODE_PIXELS
from gemini_clone.domain.errors import TooLarge, UnsupportedMediaType
from gemini_clone.domain.file_types import sniff_file_type
from gemini_clone.ports.images import ImageSize

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def made_image(fmt: str, size: tuple[int, int] = (7, 5)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(buffer, format=fmt)
    return buffer.getvalue()


async def chunks_of(data: bytes, chunk: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int) -> bytes:
    """A real bomb: a 1-bit grey PNG of side x side zeros, a few KB that inflate to
    side * side / 8 bytes."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + side // 8)
    compressed = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", compressed)
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", sorted(MEDIA_TYPES))
async def test_a_real_image_passes_with_its_size(fmt: str) -> None:
    data = made_image(fmt)
    media_type = sniff_file_type(data[:65536], whole=True).media_type

    size = await PillowImageCheck(max_pixels=1_000_000).check(media_type, chunks_of(data))

    assert media_type == MEDIA_TYPES[fmt]
    assert size == ImageSize(width=7, height=5)


@pytest.mark.parametrize("fmt", sorted(MEDIA_TYPES))
async def test_a_truncated_image_is_refused(fmt: str) -> None:
    data = made_image(fmt, (64, 64))

    with pytest.raises(UnsupportedMediaType) as refused:
        await PillowImageCheck(max_pixels=1_000_000).check(
            MEDIA_TYPES[fmt], chunks_of(data[: len(data) * 2 // 3])
        )

    assert refused.value.code == "unsupported_media_type"


async def test_a_png_whose_checksum_is_wrong_is_refused() -> None:
    data = bytearray(made_image("PNG", (32, 32)))
    data[data.index(b"IDAT") + 6] ^= 0xFF

    with pytest.raises(UnsupportedMediaType):
        await PillowImageCheck(max_pixels=1_000_000).check("image/png", chunks_of(bytes(data)))


async def test_a_signature_alone_is_not_an_image() -> None:
    with pytest.raises(UnsupportedMediaType):
        await PillowImageCheck(max_pixels=1_000_000).check(
            "image/png", chunks_of(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100)
        )


async def test_bytes_of_another_format_than_sniffed_are_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        await PillowImageCheck(max_pixels=1_000_000).check(
            "image/png", chunks_of(made_image("GIF"))
        )


async def test_a_decompression_bomb_is_refused_from_its_header_without_decoding() -> None:
    bomb = png_bomb(30_000)  # 900 million pixels, about 110 MB inflated, 100 KB sent
    assert len(bomb) < 200_000

    tracemalloc.start()
    try:
        with pytest.raises(TooLarge) as refused:
            await PillowImageCheck(max_pixels=50_000_000).check("image/png", chunks_of(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refused.value.code == "image_too_large"
    assert peak < 5_000_000


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [33, 40, 100])
async def test_one_pixel_over_the_limit_is_too_large(side: int) -> None:
    # 33 x 33 is just over; 40 x 40 is where Pillow itself warns, 100 x 100 where it raises.
    with pytest.raises(TooLarge):
        await PillowImageCheck(max_pixels=1000).check(
            "image/png", chunks_of(made_image("PNG", (side, side)))
        )


async def test_exactly_the_limit_passes() -> None:
    size = await PillowImageCheck(max_pixels=1000).check(
        "image/png", chunks_of(made_image("PNG", (40, 25)))
    )

    assert size == ImageSize(width=40, height=25)


async def test_a_large_jpeg_is_checked_through_a_reduced_draft() -> None:
    side = int(FULL_DECODE_PIXELS**0.5) + 16
    data = made_image("JPEG", (side, side))

    tracemalloc.start()
    try:
        size = await PillowImageCheck(max_pixels=50_000_000).check(
            "image/jpeg", chunks_of(data, 256 * 1024)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == ImageSize(width=side, height=side)
    assert peak < 16_000_000
