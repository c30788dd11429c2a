"""A stand-in for the Gemini streaming API with a fixed latency, for benchmarks.

Serves `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`: waits the latency,
then streams three SSE events (CRLF framing, text split across them, usage on the last).
With `--pieces N`, N events instead, `--piece-interval` seconds apart, each text saying
when it was sent (`[t=<unix time>]`), so a client can measure how long a piece took to
reach it. `GET /stats` answers the number of generations in flight now and at peak, and
the total.

    python bench/gemini_stand_in.py --port 8090 --latency 0.5 [--pieces 20 --piece-interval 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

import uvicorn

_EVENTS = [
    {"candidates": [{"content": {"parts": [{"text": "This is a "}], "role": "model"}}]},
    {"candidates": [{"content": {"parts": [{"text": "benchmark reply from "}], "role": "model"}}]},
    {
        "candidates": [
            {
                "content": {"parts": [{"text": "the stand-in."}], "role": "model"},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 12,
            "candidatesTokenCount": 9,
            "totalTokenCount": 21,
        },
        "modelVersion": "stand-in",
    },
]
_BODY = [f"data: {json.dumps(event)}\r\n\r\n".encode() for event in _EVENTS]


def _timed_event(index: int, count: int) -> bytes:
    """Piece `index` of `count`, stamped with the time it is sent."""
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": f"[t={time.time():.6f}] "}], "role": "model"}
    }
    event: dict[str, Any] = {"candidates": [candidate]}
    if index == count - 1:
        candidate["finishReason"] = "STOP"
        event["usageMetadata"] = {
            "promptTokenCount": 12,
            "candidatesTokenCount": count,
            "totalTokenCount": 12 + count,
        }
        event["modelVersion"] = "stand-in"
    return f"data: {json.dumps(event)}\r\n\r\n".encode()


class StandIn:
    def __init__(
        self,
        latency: float,
        pieces: int | None = None,
        interval: float = 0.0,
        stagger: bool = False,
    ) -> None:
        self.latency = latency
        self.pieces = pieces
        self.interval = interval
        self.stagger = stagger
        self.in_flight = 0
        self.peak = 0
        self.total = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/stats":
            await self._json(
                send, {"in_flight": self.in_flight, "peak": self.peak, "total": self.total}
            )
            return
        if scope["path"] == "/reset":
            self.peak = self.in_flight
            self.total = 0
            await self._json(send, {"ok": True})
            return
        while (await receive()).get("more_body"):
            pass
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            if self.pieces is None:
                for chunk in _BODY:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            else:
                if self.stagger:
                    # Streams started together do not stay in step, as real ones would not.
                    await asyncio.sleep(random.uniform(0, self.interval))
                for index in range(self.pieces):
                    if index and self.interval:
                        await asyncio.sleep(self.interval)
                    chunk = _timed_event(index, self.pieces)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            self.total += 1
        finally:
            self.in_flight -= 1

    @staticmethod
    async def _json(send: Any, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--pieces", type=int, default=None, help="time-stamped pieces per reply")
    parser.add_argument("--piece-interval", type=float, default=0.0, help="seconds between pieces")
    parser.add_argument(
        "--stagger", action="store_true", help="start each reply's pieces at a random phase"
    )
    args = parser.parse_args()
    uvicorn.run(
        StandIn(args.latency, args.pieces, args.piece_interval, args.stagger),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
