"""X-Request-ID: every request gets an id of ours, answered in the response header, named by its audit entry
(api/command_trail.py) and written on every log line of the request (logs.request_id), so a caller who quotes it
leads to both. A caller's own X-Request-ID (say, a proxy's) is kept beside it on the log lines."""

import re
import uuid
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import logs

HEADER = "X-Request-ID"
_STATE_KEY = "request_id"
# A caller's id goes into log lines as it is: anything else (long, spaces, control characters) is left out.
ACCEPTED = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The request's id: the one RequestId gave it (made here, once, for an app run without it, e.g. in a test)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    request_id: str = state.setdefault(_STATE_KEY, uuid.uuid4().hex)
    return request_id


class RequestId:
    """Pure ASGI, so the id is in the context of everything the request runs, uvicorn's access log line included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Always our own id, never the caller's: it becomes the Update id of a command sent without an
        # Idempotency-Key, and a caller's reused id would make Temporal answer a new command with an old result.
        request_id = request_id_of(scope)
        given = Headers(scope=scope).get(HEADER)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        tokens = (
            logs.request_id.set(request_id),
            logs.caller_request_id.set(given if given is not None and ACCEPTED.fullmatch(given) else None),
        )
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(tokens[0])
            logs.caller_request_id.reset(tokens[1])
