"""bench.http_probe: the minimal keep-alive client the benchmarks time the API with."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bench.http_probe import Connection, HttpError


@asynccontextmanager
async def server(close_after_each: bool) -> AsyncIterator[tuple[str, list[bytes]]]:
    """Answers every request with 200 and its request line as JSON; optionally closes the connection after it."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            lines = head.decode().split("\r\n")
            length = next((int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")), 0)
            seen.append(lines[0].encode() + b" " + await reader.readexactly(length))
            body = json.dumps({"line": lines[0]}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            if close_after_each:
                break
        writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}/api/v1", seen


async def test_requests_share_one_connection_and_send_json_bodies():
    async with server(close_after_each=False) as (url, seen), Connection(url, {"Authorization": "Bearer k"}) as http:
        assert await http.expect(200, "GET", "/things/1") == b'{"line": "GET /api/v1/things/1 HTTP/1.1"}'
        await http.expect(200, "POST", "/things", {"a": 1})

    assert seen == [b"GET /api/v1/things/1 HTTP/1.1 ", b'POST /api/v1/things HTTP/1.1 {"a": 1}']


async def test_a_connection_the_server_closed_while_idle_is_opened_again():
    async with server(close_after_each=True) as (url, seen), Connection(url, {}) as http:
        await http.expect(200, "GET", "/a")
        await asyncio.sleep(0.05)  # the server's close arrives while the connection is idle
        await http.expect(200, "GET", "/b")

    assert len(seen) == 2


async def test_another_status_than_expected_is_an_error():
    async with server(close_after_each=False) as (url, _), Connection(url, {}) as http:
        with pytest.raises(HttpError):
            await http.expect(201, "GET", "/a")
