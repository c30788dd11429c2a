"""A fault-injecting TCP proxy (toxiproxy's ideas, in asyncio): the kernel here has no
`netem`, so delay and loss on a path come from this, placed on it.

Each connection it accepts is forwarded to the upstream. While faults are set it delays
every chunk each way, cuts connections at random (a reset, as a lost route would end
them) and can stop accepting new ones."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass
class Faults:
    delay_seconds: float = 0.0
    """Added to every chunk, each way."""
    cut_chance_per_second: float = 0.0
    """Each open connection is cut with this chance every second."""
    accepting: bool = True
    setup_seconds: float = 0.0
    """Each new connection is forwarded this long after the previous one was: a server
    that sets connections up one at a time, slowly (a loaded machine)."""


@dataclass
class FaultyProxy:
    listen_host: str
    upstream_host: str
    upstream_port: int
    faults: Faults = field(default_factory=Faults)
    port: int = 0
    accepted: int = 0
    cuts: int = 0
    _server: asyncio.Server | None = None
    _open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _cutter: asyncio.Task[None] | None = None
    _setting_up: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.listen_host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._cutter = asyncio.create_task(self._cut_at_random())

    async def stop(self) -> None:
        if self._cutter is not None:
            self._cutter.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self._open):
            _cut(connection)
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    def clear(self) -> None:
        self.faults = Faults()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.faults.accepting:
            _reset(writer)
            return
        self.accepted += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        if self.faults.setup_seconds:
            async with self._setting_up:
                await asyncio.sleep(self.faults.setup_seconds)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            _reset(writer)
            return
        connection = (writer, up_writer)
        self._open.add(connection)
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open.discard(connection)
            _cut(connection)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while chunk := await source.read(CHUNK):
            if self.faults.delay_seconds:
                await asyncio.sleep(self.faults.delay_seconds)
            sink.write(chunk)
            await sink.drain()
        raise ConnectionResetError("one side closed")

    async def _cut_at_random(self) -> None:
        while True:
            await asyncio.sleep(1)
            chance = self.faults.cut_chance_per_second
            for connection in list(self._open):
                if chance and random.random() < chance:
                    self.cuts += 1
                    _cut(connection)


def _cut(connection: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
    for writer in connection:
        _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0), not a polite FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
