"""The ISV connector: signed calls to an app's provisioning endpoint, or the embedded local connector.

Each call is signed as a Standard Webhook with the app's own secret (store/app_secrets.py; during a rotation with the
previous one as well) and, while the legacy signature's transition lasts, with the marketplace-wide legacy secret in
X-Partnerflow-Signature too (docs/webhooks.md).

Idempotent by event id: a call whose event id has a recorded answer returns that answer without calling
again, and the ISV gets the event id as the `webhook-id` to apply a repeated delivery once.
"""

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.audit_trail import system_action
from activities.subscriptions import record_snapshot
from domain.audit import AuditDraft, SystemAction
from domain.ids import subscription_workflow_id
from domain.signing import LEGACY_EVENT_ID_HEADER, Signing
from domain.subscription.model import ConnectorAction, ConnectorCall, ConnectorReply, RecordedCall
from store import audit, models
from store.app_secrets import AppSecrets
from store.db import insert_ignoring_conflict, table_of

LOCAL = "local"  # apps.provisioning_endpoint of apps served by the embedded local connector (as is None)
RETRYABLE_STATUSES = frozenset({408, 425, 429})  # besides every 5xx: the ISV asks us to come back later
# Read as columns of their tables: a mapped App would also load its plans, which a call does not need.
APPS = table_of(models.App)
CALLS = table_of(models.ConnectorCallRow)


def request_body(call: ConnectorCall) -> bytes:
    """event_id, action, app_id, subscription_id, customer_id, occurred_at, payload, as JSON."""
    return json.dumps(call.model_dump(mode="json"), separators=(",", ":")).encode()


def local_reply(call: ConnectorCall) -> dict[str, Any]:
    """What the embedded local connector answers: an acknowledgement, and for `export` the app's data."""
    reply: dict[str, Any] = {"status": "ok", "connector": LOCAL, "event_id": call.event_id, "action": call.action.value}
    if call.action == ConnectorAction.EXPORT:
        reply["data"] = {
            "app_id": call.app_id,
            "customer_id": call.customer_id,
            "subscription_id": call.subscription_id,
            "exported_at": call.occurred_at.isoformat(),
            "records": [{"type": "workspace", "id": f"{call.customer_id}-{call.app_id}", "users": 1}],
        }
    return reply


def reply_body(text: str | None) -> dict[str, Any]:
    """An answer's JSON object; any other body is kept as text."""
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"text": text[:2000]}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


class ConnectorActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        app_secrets: AppSecrets,
        legacy_secret: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._http = http  # its timeout bounds each call (settings.connector_timeout_seconds)
        self._app_secrets = app_secrets
        self._legacy_secret = legacy_secret  # None once the legacy signature's transition has ended

    @activity.defn(name=names.CALL_CONNECTOR)
    async def call(self, call: ConnectorCall) -> ConnectorReply:
        """Tells the app's registered endpoint about `call`.

        5xx, 408/425/429, timeouts and connection errors raise a retryable `connector_unavailable`, so
        Temporal's activity retry delivers the same event id again with backoff; any other answer that is not
        2xx raises a non-retryable `connector_rejected`.

        A deprovisioning the ISV acknowledged is the deletion of the customer's data, and is recorded in the audit
        log with the answer, once per event id.
        """
        async with self._sessions() as session:  # one read for both: the app's endpoint, and an earlier answer
            app = (await session.execute(select(APPS.c.provisioning_endpoint).where(APPS.c.id == call.app_id))).first()
            recorded = await _recorded_in(session, call.event_id)
        if app is None:
            raise ApplicationError(f"app {call.app_id} is not in the catalogue", type="unknown_app", non_retryable=True)
        return recorded or await self._send(call, app.provisioning_endpoint)

    @activity.defn(name=names.RECORD_AND_CALL_CONNECTOR)
    async def record_and_call(self, step: RecordedCall) -> ConnectorReply:
        """A lifecycle step's snapshot (and notice), then its call to the ISV: `record_subscription` and `call` in one
        activity. The snapshot comes first, so an ISV that is down or refuses never holds up the store's copy or its
        audit entry; a retry writes the same snapshot again (a no-op) and repeats the call under the same event id,
        which the ISV applies once."""
        await record_snapshot(self._sessions, step.record, step.notice)
        return await self.call(step.call)

    @activity.defn(name=names.TEST_CONNECTOR)
    async def test(self, call: ConnectorCall) -> ConnectorReply:
        """A signed test call to `call.payload["endpoint"]` (the app is not published yet; absent: local).

        Fails fast: any failure raises a non-retryable `connector_test_failed` naming endpoint and cause.
        """
        endpoint = call.payload.get("endpoint")
        async with self._sessions() as session:
            recorded = await _recorded_in(session, call.event_id)
        if recorded is not None:
            return recorded
        try:
            return await self._send(call, str(endpoint) if endpoint else None)
        except ApplicationError as error:
            raise ApplicationError(
                f"connector test failed: {error.message}",  # which names the endpoint
                type="connector_test_failed",
                non_retryable=True,
            ) from error

    async def _send(self, call: ConnectorCall, endpoint: str | None) -> ConnectorReply:
        body = request_body(call)
        if endpoint is None or endpoint == LOCAL:
            return await self._record(call, LOCAL, body, 200, json.dumps(local_reply(call)))
        headers = await self._headers(call, body)
        response = await self._post(endpoint, body, headers)
        return await self._record(call, endpoint, body, response.status_code, response.text)

    async def _headers(self, call: ConnectorCall, body: bytes) -> dict[str, str]:
        """Signed anew for each attempt, so a retry's timestamp is fresh; the event id is the message id."""
        now = datetime.now(UTC)
        secrets = [secret.secret for secret in await self._app_secrets.signing(call.app_id, now)]
        headers = Signing(secrets, self._legacy_secret).headers(call.event_id, int(now.timestamp()), body)
        if self._legacy_secret is not None:
            headers[LEGACY_EVENT_ID_HEADER] = call.event_id
        return {"Content-Type": "application/json", **headers}

    async def _post(self, endpoint: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        try:
            response = await self._http.post(endpoint, content=body, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            raise ApplicationError(
                f"{endpoint} is not a usable URL: {error}", type="connector_misconfigured", non_retryable=True
            ) from error
        except httpx.HTTPError as error:
            raise ApplicationError(
                f"{endpoint} is unreachable: {type(error).__name__} {error}".rstrip(), type="connector_unavailable"
            ) from error
        status = response.status_code
        activity.logger.info("connector %s -> %s", endpoint, status)
        if response.is_success:
            return response
        if status >= 500 or status in RETRYABLE_STATUSES:
            raise ApplicationError(f"{endpoint} answered HTTP {status}", type="connector_unavailable")
        raise ApplicationError(
            f"{endpoint} answered HTTP {status}: {response.text[:200]}", type="connector_rejected", non_retryable=True
        )

    async def _record(
        self, call: ConnectorCall, endpoint: str, body: bytes, status: int, answer: str
    ) -> ConnectorReply:
        """Keeps the answer once per event id; a concurrent delivery of this event that recorded its answer first
        wins, and that answer is returned. A deletion is recorded in the audit log with the answer that is it."""
        values = {
            "event_id": call.event_id,
            "app_id": call.app_id,
            "action": call.action.value,
            "subscription_id": call.subscription_id,
            "endpoint": endpoint,
            "request_body": body.decode(),
            "status_code": status,
            "response_body": answer,
            "created_at": datetime.now(UTC),
        }
        async with self._sessions.begin() as session:
            if not await insert_ignoring_conflict(session, models.ConnectorCallRow, values):
                recorded = await _recorded_in(session, call.event_id)
                if recorded is not None:
                    return recorded
            deletion = _deletion(call, status)
            if deletion is not None:
                audit.enqueue_in(session, deletion)
        return ConnectorReply(status_code=status, body=reply_body(answer))


async def _recorded_in(session: AsyncSession, event_id: str) -> ConnectorReply | None:
    answer = select(CALLS.c.status_code, CALLS.c.response_body).where(CALLS.c.event_id == event_id)
    row = (await session.execute(answer)).first()
    if row is None or row.status_code is None:
        return None
    return ConnectorReply(status_code=row.status_code, body=reply_body(row.response_body))


def _deletion(call: ConnectorCall, status: int) -> AuditDraft | None:
    """When suspend mode ends the workflow tells the ISV to delete the customer's data (`deprovision`), then
    terminates the subscription. The data lives with the ISV, so its 2xx answer is the deletion: recorded with
    the answer, not at the termination, because a deprovisioning the ISV refuses for good leaves the data in place
    while the subscription still terminates."""
    if call.action != ConnectorAction.DEPROVISION or call.subscription_id is None or not 200 <= status < 300:
        return None
    return system_action(
        SystemAction.DATA_DELETED,
        target=subscription_workflow_id(call.subscription_id),
        at=call.occurred_at,
        detail=(
            f"the ISV connector of app {call.app_id} acknowledged deleting the customer's data "
            f"(HTTP {status}, event {call.event_id})"
        ),
        event_key=f"{SystemAction.DATA_DELETED.value}:{call.subscription_id}:{call.event_id}",
    )
