"""ASGI middleware in front of every request: a request id, the body-size limit, and for commands (routes the policy
table gives an `audit_as`) the Idempotency-Key replay and one audit log entry per answer, accepted or refused.

It is middleware rather than a dependency because it must see every answer, including the 401/403/422 that FastAPI
gives before any handler runs, and must be able to answer a replay without running the handler at all.
"""

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from api import policy
from api.asgi_messages import BodyTooLarge, Captured, header, read_body, replaying
from api.audit_changes import Exchange, changes_of, named_ids
from api.deps import principal_for
from api.errors import PENDING_STATE, ApiError, PendingAnswer, invalid_request, render, store_unavailable
from api.json_limits import nesting_too_deep, too_deep
from api.request_id import request_id_of
from domain.audit import AuditDraft, EntryKind, Outcome, payload_digest
from domain.roles import Principal
from settings import Settings
from store import audit, idempotency, intents
from store.db import is_outage
from store.idempotency import Claim, ClaimState
from store.models import CommandIntent

logger = logging.getLogger(__name__)

REPLAYED_HEADER = "idempotent-replayed"
_MAX_IDEMPOTENCY_KEY = 200  # as the Idempotency-Key header's documented limit
ANONYMOUS = "anonymous"


def scope_state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


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


def _mapping(document: object) -> Mapping[str, Any]:
    return document if isinstance(document, Mapping) else {}


@dataclass
class _Command:
    """One command request as the trail records it."""

    route: policy.MatchedRoute
    principal: Principal | None
    subject: str
    body: bytes
    request_id: str
    key: str | None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def command_id(self) -> str:
        """What Temporal knows the command by: its Update id, or the marker in the memo of the workflow it starts."""
        return self.key or self.request_id

    @property
    def role(self) -> str:
        return ",".join(sorted(self.principal.roles)) if self.principal else "none"

    @property
    def target(self) -> str:
        return policy.target_of(self.route, _json_body(self.body))

    def intent(self, owner: str) -> CommandIntent:
        return CommandIntent(
            request_id=self.request_id,
            command_id=self.command_id,
            subject=self.subject[:200],
            role=self.role,
            action=self.route.policy.audit_as,
            target=self.target,
            idempotency_key=self.key,
            payload_digest=payload_digest(self.body),
            started_at=self.started_at,
            owner=owner,
        )

    def entry(self, response: Captured, outcome: Outcome) -> AuditDraft:
        action = self.route.policy.audit_as
        assert action is not None
        replayed = outcome == Outcome.REPLAYED
        body = _json_body(self.body)
        changes = None
        if outcome == Outcome.ACCEPTED:
            answer = _json_body(bytes(response.body))
            exchange = Exchange(self.route.params, _mapping(body), _mapping(answer))
            changes = changes_of(action, exchange)
        return AuditDraft(
            kind=EntryKind.COMMAND,
            subject=self.subject[:200],
            role=self.role,
            action=self.route.policy.audit_as,
            target=self.target,
            outcome=outcome,
            occurred_at=datetime.now(UTC),
            request_id=self.request_id,
            idempotency_key=self.key,
            status_code=response.status,
            payload_digest=payload_digest(self.body),
            detail=response.error_code(),
            event_key=None if replayed else command_event_key(self.subject, self.key, self.request_id),
            changes=changes,
            **named_ids(action, body).fields(),
        )


def replay_of(response: Captured) -> Callable[[CommandIntent], AuditDraft]:
    """The entry of an earlier attempt of a command whose answer is `response`: it reads as a replay of it."""

    def entry(intent: CommandIntent) -> AuditDraft:
        detail = "answered by a later request with the same Idempotency-Key"
        return intents.entry_of(intent, Outcome.REPLAYED, response.status, detail)

    return entry


def command_event_key(subject: str, key: str | None, request_id: str) -> str:
    """One command, one entry: every request that runs it under one Idempotency-Key shares this key, and the
    sequencer chains all but the first as `replayed`."""
    return f"command:{subject}:{key}"[:300] if key else f"request:{request_id}"


@dataclass
class CommandsInFlight:
    """This process, as the owner of the intents it writes, and the commands it is answering right now: recovery
    leaves those alone."""

    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    requests: set[str] = field(default_factory=set)


class CommandTrail:
    """Per command: the intent and the Idempotency-Key claim in one transaction before it runs, the audit entry
    (replacing the intent) and the kept answer in one transaction after; neither is held across the command."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        in_flight: CommandsInFlight,
    ) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)  # api/request_id.py: answered in X-Request-ID, on the request's log lines
        route = policy.match(scope["method"], scope["path"])
        limit = route.policy.body_limit if route and route.policy.body_limit else self.settings.max_body_bytes
        try:
            body = await read_body(scope, receive, limit)
        except BodyTooLarge:
            error = ApiError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", f"request bodies are limited to {limit} bytes"
            )
            await render(error)(scope, receive, send)
            return
        if route is None or not route.policy.is_command:
            if nesting_too_deep(body):
                await render(too_deep())(scope, receive, send)
                return
            await self.app(scope, replaying(body, receive), send)
            return
        principal = self._principal(scope)
        command = _Command(
            route=route,
            principal=principal,
            subject=principal.subject if principal else route.policy.open_caller or ANONYMOUS,
            body=body,
            request_id=request_id,
            key=header(scope, "idempotency-key"),
        )
        # In the set before its intent is written, so recovery never takes a command that is being answered.
        self.in_flight.requests.add(request_id)
        try:
            response = await self._command(scope, receive, command)
        finally:
            self.in_flight.requests.discard(request_id)
        extra = [(REPLAYED_HEADER.encode(), b"true")] if response.replayed else []
        await response.send_to(send, extra)

    async def _command(self, scope: Scope, receive: Receive, command: _Command) -> Captured:
        response = Captured()
        refusal = self._refusal_before_running(command)
        if refusal is not None:
            await render(refusal)(scope, receive, response.collect)
            command.key = command.key[:_MAX_IDEMPOTENCY_KEY] if command.key else None
            await self._record(command, response, Outcome.REFUSED)
            return response
        if command.principal is None and command.route.policy.permission is not None:
            # No caller, no command: FastAPI answers 401 and nothing runs, so no intent is needed.
            await self._run(scope, receive, command.body, response)
            await self._record(command, response, _outcome(response.status))
            return response
        try:
            claim = await self._begin(command)
        except Exception as error:
            if not is_outage(error):
                raise
            logger.warning("command %s refused: the store is unavailable: %s", command.request_id, error)
            await render(store_unavailable())(scope, receive, response.collect)
            return response
        if claim is not None and claim.state != ClaimState.RUN:
            self._answer_claim(claim, response)
            await self._record(command, response, Outcome.REPLAYED if response.replayed else Outcome.REFUSED)
            return response
        await self._run(scope, receive, command.body, response)
        await self._settle(scope, command, response)
        return response

    def _refusal_before_running(self, command: _Command) -> ApiError | None:
        if command.key is not None and not 0 < len(command.key) <= _MAX_IDEMPOTENCY_KEY:
            message = f"must be 1 to {_MAX_IDEMPOTENCY_KEY} characters"
            return invalid_request([{"field": "header.Idempotency-Key", "message": message}])
        if nesting_too_deep(command.body):
            return too_deep()
        return None

    async def _begin(self, command: _Command) -> Claim | None:
        """The claim of the Idempotency-Key (if any) and, when the command is to run, its intent: one transaction."""
        async with self.sessions.begin() as session:
            claim = None
            if command.principal is not None and command.key is not None:
                fingerprint = _fingerprint(command.route.method, command.route.path, command.body)
                claim = await idempotency.claim(session, command.subject, command.key, fingerprint, datetime.now(UTC))
                if claim.state != ClaimState.RUN:
                    return claim
            intents.record(session, command.intent(self.in_flight.owner))
            return claim

    async def _run(self, scope: Scope, receive: Receive, body: bytes, response: Captured) -> None:
        try:
            await self.app(scope, replaying(body, receive), response.collect)
        except Exception as error:
            # A bug, not an answer: still one error shape, and the intent goes to recovery to find what happened.
            logger.exception("command %s %s failed", scope["method"], scope["path"])
            failed = (
                store_unavailable()
                if is_outage(error)
                else ApiError(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an unexpected error occurred")
            )
            response.status, response.headers, response.body = HTTPStatus.INTERNAL_SERVER_ERROR, [], bytearray()
            await render(failed)(scope, receive, response.collect)

    def _principal(self, scope: Scope) -> Principal | None:
        # Parsed as FastAPI's bearer scheme parses it, so the log names the caller the handler authenticated.
        scheme, key = get_authorization_scheme_param(header(scope, "authorization"))
        if scheme.lower() != "bearer" or not key:
            return None
        return principal_for(key, self.settings)

    @staticmethod
    def _answer_claim(claim: Claim, response: Captured) -> None:
        """Answers without running the command: the stored first answer, or the refusal of a reused key."""
        if claim.state == ClaimState.ANSWERED:
            assert claim.status_code is not None
            response.status = claim.status_code
            if claim.content_type:
                response.headers = [(b"content-type", claim.content_type.encode("latin-1"))]
            response.body = bytearray(claim.body or b"")
            response.replayed = True
            return
        error = ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request; use a new key",
        )
        rendered = render(error)
        response.status, response.headers = error.status, list(rendered.raw_headers)
        response.body = bytearray(rendered.body)

    async def _settle(self, scope: Scope, command: _Command, response: Captured) -> None:
        """Replaces the intent by the command's entry and keeps the answer for replays, in one transaction.

        A 5xx or a 202 "pending" is not an outcome: the command may take effect after all (a start or Update can
        reach Temporal before its answer is lost; an accepted Update may still fail), so the intent is handed to
        recovery, which asks Temporal and records the truth, and no answer is kept: a retry learns the outcome.
        """
        try:
            if response.status >= HTTPStatus.INTERNAL_SERVER_ERROR or scope_state(scope).get(PENDING_STATE):
                await intents.hand_over(self.sessions, command.request_id)
                return
            async with self.sessions.begin() as session:
                outcome = _outcome(response.status)
                if command.key is not None and command.principal is not None:
                    first = await idempotency.answer(
                        session,
                        command.subject,
                        command.key,
                        response.status,
                        response.content_type,
                        bytes(response.body),
                    )
                    if not first:  # a concurrent request with this key answered first: this one is its replay
                        outcome = Outcome.REPLAYED
                await intents.settle(session, command.request_id, command.entry(response, outcome))
                if command.key is not None:
                    # Earlier attempts of this command (a request that died, or stopped waiting) are answered now.
                    await intents.settle_earlier_attempts(
                        session, command.subject, command.key, command.started_at, replay_of(response)
                    )
        except Exception:
            # The command has happened and its caller gets the answer; the intent stays, and recovery writes the
            # entry from Temporal once the store is back.
            logger.exception("could not record the outcome of request %s; recovery will", command.request_id)

    async def _record(self, command: _Command, response: Captured, outcome: Outcome) -> None:
        """The entry of a request that ran no command (refused before running, or replayed)."""
        try:
            await audit.enqueue(self.sessions, command.entry(response, outcome))
        except Exception:
            # Nothing happened that the log must prove; losing its answer would be worse than this gap.
            logger.exception("could not write the audit entry of request %s", command.request_id)


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": _MAX_IDEMPOTENCY_KEY},
    "description": "Sent again with the same body, the command runs once and answers with its first result "
    "(header `Idempotent-Replayed: true`); with another body it is refused (422 `idempotency_key_reused`).",
}


def document_idempotency(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the Idempotency-Key header to every command the policy table names, as this middleware honours it, and
    to every Update command the 202 it answers when the workflow is still carrying the command out."""
    pending = {"$ref": "#/components/schemas/PendingAnswer"}
    schema.setdefault("components", {}).setdefault("schemas", {})["PendingAnswer"] = PendingAnswer.model_json_schema()
    for (method, path), route in policy.ROUTE_POLICY.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None or not route.is_command or route.permission is None:
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(parameter["name"] == "Idempotency-Key" for parameter in parameters):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        if route.effect == policy.Effect.UPDATE:
            operation["responses"].setdefault(
                str(HTTPStatus.ACCEPTED.value),
                {
                    "description": "Accepted, still being carried out: send it again with the same "
                    "Idempotency-Key for its result",
                    "content": {"application/json": {"schema": pending}},
                },
            )
    return schema
