"""A file's type is told from its first bytes: images, PDF and UTF-8 text are taken, the rest
(HTML and SVG included, though they are text) refused with 415 `unsupported_media_type`."""

from __future__ import annotations

import pytest

from gemini_clone.domain.errors import UnsupportedMediaType
from gemini_clone.domain.file_types import SNIFF_BYTES, sniff_file_type
from gemini_clone.domain.history import estimate_file_tokens


@pytest.mark.parametrize(
    ("head", "media_type", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg", "image"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif", "image"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif", "image"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp", "image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf", "pdf"),
    ],
)
def test_images_and_pdf_are_told_by_their_signature(
    head: bytes, media_type: str, kind: str
) -> None:
    found = sniff_file_type(head, whole=False, filename="whatever.txt")

    assert (found.media_type, found.kind) == (media_type, kind)


@pytest.mark.parametrize(
    ("text", "filename", "media_type"),
    [
        ("plain words\n", "notes.txt", "text/plain"),
        ("# Title\n\n*stressed* words\n", "README.md", "text/markdown"),
        ("a,b\n1,2\n", "data.CSV", "text/csv"),
        ('{"a": [1, 2]}', "x.json", "application/json"),
        ("def f():\n\treturn 1\f\r\n", "code.py", "text/plain"),
        ("no name at all", None, "text/plain"),
        ("naïve café, 東京, emoji 🎉\n", "u.txt", "text/plain"),
        ("\ufeffwith a byte-order mark", "bom.txt", "text/plain"),
        ("", "empty.txt", "text/plain"),
    ],
)
def test_utf8_text_is_text_and_the_name_picks_its_flavour(
    text: str, filename: str | None, media_type: str
) -> None:
    found = sniff_file_type(text.encode(), whole=True, filename=filename)

    assert (found.media_type, found.kind) == (media_type, "text")


def test_a_name_cannot_make_binary_bytes_text() -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        sniff_file_type(b"\x00\x01binary", whole=True, filename="notes.txt")

    assert refused.value.code == "unsupported_media_type"


@pytest.mark.parametrize(
    "head",
    [
        b"PK\x03\x04zip or docx",
        b"\x7fELF\x02\x01\x01",
        b"MZ\x90\x00",
        b"plain until a NUL\x00 appears",
        b"a bell \x07 rings",
        b"escape \x1b[31m red",
        "a C1 control \x85 character".encode(),
        b"latin-1 caf\xe9 is not UTF-8",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"\xff\xd8 too short for JPEG",
    ],
)
def test_other_bytes_are_refused(head: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff_file_type(head, whole=True)


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><html><body>hi</body></html>",
        "<html>\n<script>alert(1)</script>",
        "   \n<HTML lang=en>",
        "<head><title>x</title></head>",
        "<body onload=alert(1)>",
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        '<?xml version="1.0"?><!-- made by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"'
        ' "x.dtd"><svg/>',
        "<!-- a comment first -->\n<html><body></body></html>",
        "\ufeff<!doctype html>",
        "<script>alert(1)</script>",
        "<iframe src=x>",
        "<object data=x></object>",
    ],
)
def test_html_and_svg_are_refused_though_they_are_text(text: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff_file_type(text.encode(), whole=True, filename="page.txt")


@pytest.mark.parametrize(
    "text",
    [
        '<p align="center"><img src="logo.png"></p>\n\n# Project\n',
        "<!-- badges -->\n# Title\n",
        '<?xml version="1.0"?>\n<project><name>x</name></project>\n',
        "a < b and b > c\n",
        "<htmlish> is not a tag we fear\n",
    ],
)
def test_text_that_merely_contains_markup_stays_text(text: str) -> None:
    assert sniff_file_type(text.encode(), whole=True).kind == "text"


def test_a_head_may_end_inside_a_character_but_a_whole_file_may_not() -> None:
    head = ("é" * SNIFF_BYTES).encode()[: SNIFF_BYTES - 2] + b"\xc3"

    assert sniff_file_type(head, whole=False).kind == "text"
    with pytest.raises(UnsupportedMediaType):
        sniff_file_type(b"complete text cut at the end \xc3", whole=True)


def test_a_whole_file_longer_than_the_sniffed_head_is_judged_by_the_head() -> None:
    # The head given is longer than what is read: its cut character is no fault.
    head = ("a" + "é" * SNIFF_BYTES).encode()

    assert sniff_file_type(head, whole=True).kind == "text"


@pytest.mark.parametrize(
    ("kind", "size", "tokens"),
    [
        ("image", 5_000_000, 258),
        ("image", 10, 258),
        ("pdf", 10, 258),
        ("pdf", 50_000, 258),
        ("pdf", 50_001, 516),
        ("pdf", 1_000_000, 258 * 20),
        ("text", 4_000, 1_000),
    ],
)
def test_a_files_share_of_the_history_budget(kind: str, size: int, tokens: int) -> None:
    assert estimate_file_tokens(kind, size) == tokens
