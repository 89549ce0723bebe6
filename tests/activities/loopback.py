"""A real HTTP/1.1 server on 127.0.0.1 for activities that call out: it records each request and answers with
scripted statuses. Raw asyncio, so the bytes on the wire are exactly what an ISV or webhook receiver gets."""

import asyncio
import json
import socket
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LoopbackServer:
    """Answers the i-th request with `statuses[i]` (200 once they run out) and the JSON `reply`."""

    statuses: list[int] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    requests: list[Received] = field(default_factory=list)
    url: str = ""  # set once it listens; kept after it stops, for assertions
    delay: float = 0.0  # seconds before each answer: a slow endpoint
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> "LoopbackServer":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}/provisioning"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, path, _version = (await reader.readline()).decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(method, path, headers, body))
        await asyncio.sleep(self.delay)
        status = self.statuses[len(self.requests) - 1] if len(self.requests) <= len(self.statuses) else 200
        content = json.dumps(self.reply if status < 300 else {"error": HTTPStatus(status).phrase}).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(content)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + content)
        await writer.drain()
        writer.close()
        await writer.wait_closed()


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/provisioning"
