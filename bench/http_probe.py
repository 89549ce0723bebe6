"""A minimal HTTP/1.1 client for timing the API: one keep-alive connection, one request at a time.

The benchmarks compare an API call with the raw Temporal SDK call it makes. httpx, a full client written in Python,
spends a good part of a millisecond per request on itself; that is the bench's cost, not the API's, so latencies are
taken with this client, which only writes the request and reads the answer.
"""

import asyncio
import json
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    """An answer with another status than expected."""


class Connection:
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/")
        self.headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> "Connection":
        await self._connect()
        return self

    async def _connect(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self._writer.close()

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """The status and the body of the answer to one request; `body` is sent as JSON unless None."""
        if self._reader is None or self._reader.at_eof():
            await self._connect()  # the server closes a connection left idle (uvicorn: after 5 s)
        assert self._reader is not None and self._writer is not None
        content = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.headers}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
        self._writer.write(head.encode("latin-1") + b"\r\n" + content)
        header = await self._reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" not in fields:
            raise HttpError(f"{method} {path}: no Content-Length in the answer (chunked answers are not read)")
        return status, await self._reader.readexactly(int(fields["content-length"]))

    async def expect(self, status: int, method: str, path: str, body: Any = None) -> bytes:
        got, answer = await self.request(method, path, body)
        if got != status:
            raise HttpError(f"{method} {path}: {got} {answer[:500]!r}")
        return answer
