"""ASGI middleware in front of every request: a request id, the body-size limit, and for commands (routes the policy
table gives an `audit_as`) the Idempotency-Key replay and one audit log entry per answer, accepted or refused.

It is middleware rather than a dependency because it must see every answer, including the 401/403/422 that FastAPI
gives before any handler runs, and must be able to answer a replay without running the handler at all.
"""

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import policy
from api.deps import principal_for
from api.errors import ApiError, invalid_request, render
from domain.audit import AuditDraft, EntryKind, Outcome, payload_digest
from domain.roles import Principal
from settings import Settings
from store import audit, idempotency
from store.idempotency import Claim, ClaimState

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
REPLAYED_HEADER = "idempotent-replayed"
_STATE_KEY = "request_id"
_MAX_IDEMPOTENCY_KEY = 200  # as the Idempotency-Key header's documented limit
ANONYMOUS = "anonymous"


class _BodyTooLarge(Exception):
    pass


def request_id_of(scope: Scope) -> str:
    """The id this middleware gave the request (a fresh one for an app run without it, e.g. in a unit test)."""
    request_id = scope.get("state", {}).get(_STATE_KEY)
    return str(request_id) if request_id else uuid.uuid4().hex


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
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
class _Captured:
    """A response held back until the audit log has its entry."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)

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


def _fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join((method.encode(), path.encode(), body))).hexdigest()


def _outcome(status: int) -> Outcome:
    if status < HTTPStatus.BAD_REQUEST:
        return Outcome.ACCEPTED
    if status < HTTPStatus.INTERNAL_SERVER_ERROR:
        return Outcome.REFUSED
    return Outcome.FAILED


def _json_body(body: bytes) -> object:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


class CommandTrail:
    def __init__(self, app: ASGIApp, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Always our own id, never the caller's: it becomes the Update id of a command sent without an
        # Idempotency-Key, and a caller's reused id would make Temporal answer a new command with an old result.
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})[_STATE_KEY] = request_id
        send = _tagged(send, request_id)
        route = policy.match(scope["method"], scope["path"])
        limit = route.policy.body_limit if route and route.policy.body_limit else self.settings.max_body_bytes
        try:
            body = await _read_body(scope, receive, limit)
        except _BodyTooLarge:
            error = ApiError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", f"request bodies are limited to {limit} bytes"
            )
            await render(error)(scope, receive, send)
            return
        if route is None or not route.policy.is_command:
            await self.app(scope, _replaying(body, receive), send)
            return
        await self._command(scope, receive, send, route, body, request_id)

    async def _command(
        self, scope: Scope, receive: Receive, send: Send, route: policy.MatchedRoute, body: bytes, request_id: str
    ) -> None:
        principal = self._principal(scope)
        subject = principal.subject if principal else route.policy.open_caller or ANONYMOUS
        key = _header(scope, "idempotency-key")
        response = _Captured()
        outcome: Outcome | None = None
        if key is not None and not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY:
            message = f"must be 1 to {_MAX_IDEMPOTENCY_KEY} characters"
            error = invalid_request([{"field": "header.Idempotency-Key", "message": message}])
            await render(error)(scope, receive, response.collect)
            outcome, key = Outcome.REFUSED, key[:_MAX_IDEMPOTENCY_KEY]
        elif principal is not None and key is not None:
            now = datetime.now(UTC)
            fingerprint = _fingerprint(scope["method"], scope["path"], body)
            claim = await idempotency.claim(self.sessions, principal.subject, key, fingerprint, now)
            outcome = await self._answer_claim(claim, scope, receive, body, response)
            if claim.state == ClaimState.NEW:
                await self._settle(principal.subject, key, response)
        else:
            await self._run(scope, receive, body, response)
        await self._record(route, principal, subject, body, request_id, key, response, outcome)
        extra = [(REPLAYED_HEADER.encode(), b"true")] if outcome == Outcome.REPLAYED else []
        await response.send_to(send, extra)

    async def _run(self, scope: Scope, receive: Receive, body: bytes, response: _Captured) -> None:
        try:
            await self.app(scope, _replaying(body, receive), response.collect)
        except Exception:
            # A bug, not an answer: still one error shape, an audit entry, and a released Idempotency-Key.
            logger.exception("command %s %s failed", scope["method"], scope["path"])
            failed = ApiError(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an unexpected error occurred")
            response.status, response.headers, response.body = HTTPStatus.INTERNAL_SERVER_ERROR, [], bytearray()
            await render(failed)(scope, receive, response.collect)

    def _principal(self, scope: Scope) -> Principal | None:
        # Parsed as FastAPI's bearer scheme parses it, so the log names the caller the handler authenticated.
        scheme, key = get_authorization_scheme_param(_header(scope, "authorization"))
        if scheme.lower() != "bearer" or not key:
            return None
        return principal_for(key, self.settings)

    async def _answer_claim(
        self, claim: Claim, scope: Scope, receive: Receive, body: bytes, response: _Captured
    ) -> Outcome | None:
        """Runs the command for a new key, or answers without running it; the outcome when it did not run."""
        match claim.state:
            case ClaimState.NEW:
                await self._run(scope, receive, body, response)
                return None
            case ClaimState.ANSWERED:
                assert claim.status_code is not None
                response.status = claim.status_code
                if claim.content_type:
                    response.headers = [(b"content-type", claim.content_type.encode("latin-1"))]
                response.body = bytearray(claim.body or b"")
                return Outcome.REPLAYED
            case ClaimState.OTHER_REQUEST:
                error = ApiError(
                    HTTPStatus.UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used for a different request; use a new key",
                )
            case ClaimState.IN_FLIGHT:
                error = ApiError(
                    HTTPStatus.CONFLICT,
                    "idempotency_key_in_flight",
                    "a request with this Idempotency-Key is still being answered; retry shortly",
                )
        await render(error)(scope, receive, response.collect)
        return Outcome.REFUSED

    async def _settle(self, subject: str, key: str, response: _Captured) -> None:
        """Keeps the answer for replays; forgets the key when we failed, so a retry can run the command."""
        if response.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            await idempotency.release(self.sessions, subject, key)
        else:
            await idempotency.answer(
                self.sessions, subject, key, response.status, response.content_type, bytes(response.body)
            )

    async def _record(
        self,
        route: policy.MatchedRoute,
        principal: Principal | None,
        subject: str,
        body: bytes,
        request_id: str,
        key: str | None,
        response: _Captured,
        outcome: Outcome | None,
    ) -> None:
        assert route.policy.audit_as is not None
        draft = AuditDraft(
            kind=EntryKind.COMMAND,
            subject=subject[:200],
            role=",".join(sorted(principal.roles)) if principal else "none",
            action=route.policy.audit_as,
            target=policy.target_of(route, _json_body(body)),
            outcome=outcome or _outcome(response.status),
            occurred_at=datetime.now(UTC),
            request_id=request_id,
            idempotency_key=key,
            status_code=response.status,
            payload_digest=payload_digest(body),
            detail=response.error_code(),
        )
        try:
            await audit.append(self.sessions, draft)
        except Exception:
            # The command has happened; losing its answer would be worse than a gap the operator is told about.
            logger.exception("could not write the audit entry of request %s (%s)", request_id, draft.action)


def _tagged(send: Send, request_id: str) -> Send:
    """Adds the request id to every answer, so a caller can quote it and an auditor find the entry."""

    async def send_tagged(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            message = {**message, "headers": headers}
        await send(message)

    return send_tagged


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": _MAX_IDEMPOTENCY_KEY},
    "description": "Sent again with the same body, the command runs once and answers with its first result "
    "(header `Idempotent-Replayed: true`); with another body it is refused (422 `idempotency_key_reused`).",
}


def document_idempotency(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the Idempotency-Key header to every command the policy table names, as this middleware honours it."""
    for (method, path), route in policy.ROUTE_POLICY.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None or not route.is_command or route.permission is None:
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(parameter["name"] == "Idempotency-Key" for parameter in parameters):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
    return schema
