"""ASGI messages held in hand: a request body read up to a limit and handed on again, and a response held back until
the middleware that captured it lets it go (api/command_trail.py)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

from starlette.types import Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """The request's body is over the limit (declared, or as it arrives)."""


def header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = header(scope, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the buffered body to the app, then passes on whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


@dataclass
class Captured:
    """A response held back until the audit log has its entry."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    replayed: bool = False  # the stored first answer to this Idempotency-Key, not a new one

    async def collect(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    @property
    def content_type(self) -> str | None:
        for key, value in self.headers:
            if key.lower() == b"content-type":
                return value.decode("latin-1")
        return None

    def error_code(self) -> str | None:
        if self.status < HTTPStatus.BAD_REQUEST:
            return None
        try:
            code = json.loads(self.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None
        return str(code)

    async def send_to(self, send: Send, extra_headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        headers = [(k, v) for k, v in self.headers if k.lower() != b"content-length"]
        headers += [(b"content-length", str(len(self.body)).encode()), *extra_headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(self.body)})
