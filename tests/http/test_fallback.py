"""A reply written by a fallback model says so (`model`, `fallback_from`) in every answer
that carries it: the post's wait, a read, the room's list, the seed's polling route, the
stream's `done`, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dependency_injector import providers
from tests.http.conftest import Api, number
from tests.sse import events_only, parse

from gemini_clone.adapters.memory.circuits import InMemoryCircuitBreaker
from gemini_clone.application.messaging.fallback import ModelFallback
from gemini_clone.application.messaging.generate_reply import GenerateReply
from gemini_clone.domain.circuits import CircuitPolicy
from gemini_clone.domain.fallbacks import FallbackChains
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelUnavailable,
)


class OfflineDown(LanguageModel):
    """The offline model is out of service; its fallback, `backup`, answers."""

    name = "offline"

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        if request.model == "offline":
            raise ModelUnavailable("503 after every retry")
        yield GenerationPiece(text="Backup here.")
        yield GenerationPiece(finish_reason="stop", usage=TokenUsage(total_tokens=3))


async def test_a_reply_written_by_a_fallback_says_so_in_every_answer(api: Api) -> None:
    container = api.container
    model = OfflineDown()
    generate = GenerateReply(
        container.reply_store(),
        model,
        container.clock(),
        container.reply_settings(),
        container.model_access(),
        pieces=container.reply_pieces(),
        fallback=ModelFallback(
            model,
            container.clock(),
            chains=FallbackChains({"offline": "backup"}, catalogue=("offline", "backup")),
            circuits=InMemoryCircuitBreaker(CircuitPolicy()),
        ),
    )
    session = await api.login(number(1))
    room = await api.chatroom(session)
    headers = session.headers

    with container.generate_reply.override(providers.Object(generate)):
        posted = await api.client.post(
            f"/chatroom/{room}/message?wait=20", json={"content": "Hi"}, headers=headers
        )
        assert posted.status_code == 200, posted.text
        reply = posted.json()["reply"]
        read = await api.client.get(f"/chatroom/{room}/message/{reply['id']}", headers=headers)
        listed = await api.client.get(f"/chatroom/{room}/messages", headers=headers)
        polled = await api.client.get(f"/chatroom/message-status/{reply['id']}", headers=headers)
        streamed = await api.client.get(
            f"/chatroom/{room}/message/{reply['id']}/stream", headers=headers
        )

    assert streamed.status_code == 200, streamed.text
    events = events_only(parse(streamed.text.splitlines()))
    assert events[-1].event == "done"
    done = events[-1].data
    answers = [reply, read.json(), listed.json()["items"][-1], polled.json()["message"], done]
    assert [(a["content"], a["model"], a["fallback_from"]) for a in answers] == [
        ("Backup here.", "backup", "offline")
    ] * len(answers)
    question = listed.json()["items"][0]
    assert question["fallback_from"] is None


async def test_the_openapi_document_describes_fallback_from(api: Api) -> None:
    document = (await api.client.get("/schema/openapi.json")).json()

    message = document["components"]["schemas"]["MessageBody"]
    assert "fallback_from" in message["required"]
    assert "model asked" in message["properties"]["fallback_from"]["description"]
