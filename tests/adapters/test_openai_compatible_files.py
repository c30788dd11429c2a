"""Files sent to an OpenAI-compatible server: images as `image_url` parts holding a base64
`data:` URL, text files as text parts headed by their name (the content-part shapes of
OpenAI's Chat Completions reference, https://platform.openai.com/docs/api-reference/chat/create
`messages[].content[]`: `{"type": "text", "text"}` and `{"type": "image_url", "image_url":
{"url"}}`, a URL or "the base64 encoded image data"; Ollama's OpenAI compatibility page,
https://github.com/ollama/ollama/blob/main/docs/openai.md, takes base64 images only)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable

from tests.adapters.test_openai_compatible import Harness, error, harness, recorded_stream

from gemini_clone.domain.messages import Role
from gemini_clone.ports.language_model import GenerationRequest, Turn, TurnFile

__all__ = ["harness"]  # the fixture, shared with the text-only tests

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


class Stored:
    """A blob as the store gives it back; counts how often it was read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0

    async def read(self) -> AsyncIterator[bytes]:
        self.reads += 1
        for start in range(0, len(self.data), 7):
            yield self.data[start : start + 7]


def attached(name: str, media_type: str, kind: str, stored: Stored) -> TurnFile:
    return TurnFile(
        filename=name, media_type=media_type, kind=kind, size=len(stored.data),
        sha256="0" * 64, read=stored.read,
    )  # fmt: skip


async def test_images_go_as_data_urls_and_text_files_as_named_text_parts(
    harness: Callable[..., Harness],
) -> None:
    h = harness(error(503), recorded_stream())
    image, notes, paper = Stored(PNG), Stored(b"# Plan\n```py\nx = 1\n```\n"), Stored(b"%PDF-1.7")
    request = GenerationRequest(
        turns=[
            Turn(role=Role.USER, text="Hi"),
            Turn(role=Role.MODEL, text="Hello!"),
            Turn(
                role=Role.USER,
                text="What is in these?",
                files=(
                    attached("shot.png", "image/png", "image", image),
                    attached("plan.md", "text/markdown", "text", notes),
                    attached("paper.pdf", "application/pdf", "pdf", paper),
                ),
            ),
        ],
        system_instruction="Be brief.",
    )

    await h.ask(request)

    first, retried = h.server.bodies()
    assert first == retried
    assert first["messages"][1:3] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert first["messages"][3] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in these?"},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
            },
            {"type": "text", "text": "File plan.md:\n````\n# Plan\n```py\nx = 1\n```\n\n````"},
            {"type": "text", "text": "(File paper.pdf, application/pdf: not readable here.)"},
        ],
    }
    # Read once for both attempts; a kind the server cannot take is never read.
    assert (image.reads, notes.reads, paper.reads) == (1, 1, 0)
