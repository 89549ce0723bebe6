"""Recovery of commands whose answer was never recorded: the API process died mid-request, the store failed after
the command ran, or the request stopped waiting (503, 202). Each such command left its intent (store/intents.py);
this job asks where the command would have taken effect whether it did, and records its audit entry accordingly:

- a start: the workflow's latest run names the command in its memo (api/workflow_commands.py `start_once`);
- an Update: Temporal keeps every Update it accepted under its id, with its outcome;
- a store write (a usage report, a payment webhook, an app's rotated signing secret, a partner policy backtest): the
  row names its command.

A command found nowhere did not take effect, and its entry says so. One still being carried out (an accepted
Update not yet completed) is looked at again on the next run.
"""

import asyncio
import logging
from datetime import UTC, datetime
from http import HTTPStatus

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api import policy
from api.command_trail import CommandsInFlight, command_event_key
from api.policy import Effect
from api.temporal import TemporalConnector
from api.workflow_commands import started_by, within
from background import PeriodicJob
from domain.audit import AuditDraft, Outcome
from store import intents, models
from store.models import CommandIntent

logger = logging.getLogger(__name__)

RECOVERY_INTERVAL_SECONDS = 2.0
# How long one look for an Update's outcome may take; one not completed by then is looked at on the next run.
_OUTCOME_WAIT_SECONDS = 2.0

_EFFECTS = {route.audit_as: route.effect for route in policy.ROUTE_POLICY.values() if route.is_command}


class Finding:
    """What became of a command, as its audit entry will say."""

    def __init__(self, outcome: Outcome, status_code: int | None, detail: str) -> None:
        self.outcome, self.status_code, self.detail = outcome, status_code, detail


_NOT_APPLIED = Finding(Outcome.FAILED, None, "not_applied: no answer was recorded, and the command did not take effect")


class IntentRecovery:
    def __init__(
        self,
        temporal: TemporalConnector,
        sessions: async_sessionmaker[AsyncSession],
        in_flight: CommandsInFlight,
        *,
        interval: float = RECOVERY_INTERVAL_SECONDS,
    ) -> None:
        self._temporal = temporal
        self._sessions = sessions
        self._in_flight = in_flight
        self.job = PeriodicJob("command-intent-recovery", interval, self.run_once)

    async def run_once(self) -> int:
        """Tells the others this process is alive, then settles every orphaned intent whose fate is known now; how
        many it settled."""
        now = datetime.now(UTC)
        await intents.beat(self._sessions, self._in_flight.owner, now)
        # The live set itself, not a copy: it is checked after the query, so a request that wrote its intent while
        # the query ran is still seen as live.
        orphans = await intents.orphans(
            self._sessions, owner=self._in_flight.owner, live=self._in_flight.requests, now=now
        )
        if not orphans:
            return 0
        client = await self._temporal.client()
        settled = 0
        for intent in orphans:
            finding = await self._find(client, intent)
            if finding is None:
                continue
            if await intents.resolve(self._sessions, intent.request_id, _entry(intent, finding)):
                settled += 1
                logger.info("recovered command %s (%s): %s", intent.request_id, intent.action, finding.detail)
        return settled

    async def _find(self, client: Client, intent: CommandIntent) -> Finding | None:
        match _EFFECTS.get(intent.action):
            case Effect.START:
                return await _find_start(client, intent)
            case Effect.UPDATE:
                return await _find_update(client, intent)
            case Effect.STORE:
                return await self._find_row(intent)
        return _NOT_APPLIED

    async def _find_row(self, intent: CommandIntent) -> Finding:
        if intent.action == "payment.webhook":
            query = select(models.WebhookEvent.id).where(models.WebhookEvent.request_id == intent.request_id)
        elif intent.action == "app.rotate_signing_secret":
            query = select(models.AppSigningSecret.generation).where(
                models.AppSigningSecret.created_by == intent.subject,
                models.AppSigningSecret.command_id == intent.command_id,
            )
        elif intent.action == "partner.backtest":
            query = select(models.PartnerBacktest.year).where(  # any non-null column: the row is there
                models.PartnerBacktest.created_by == intent.subject,
                models.PartnerBacktest.command_id == intent.command_id,
            )
        else:
            query = select(models.UsageReport.id).where(
                models.UsageReport.reported_by == intent.subject, models.UsageReport.command_id == intent.command_id
            )
        async with self._sessions() as session:
            found = await session.scalar(query.limit(1))
        if found is None:
            return _NOT_APPLIED
        return Finding(Outcome.ACCEPTED, None, "recovered: the command's record is in the store")


async def _find_start(client: Client, intent: CommandIntent) -> Finding:
    try:
        ours = await started_by(client.get_workflow_handle(intent.target), intent.subject, intent.command_id)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return _NOT_APPLIED
    if not ours:
        return _NOT_APPLIED
    return Finding(Outcome.ACCEPTED, HTTPStatus.CREATED, "recovered: the workflow was started by this command")


async def _find_update(client: Client, intent: CommandIntent) -> Finding | None:
    update = client.get_workflow_handle(intent.target).get_update_handle(intent.command_id)
    try:
        await within(update.result(), asyncio.get_running_loop().time() + _OUTCOME_WAIT_SECONDS)
    except TimeoutError:
        return None  # accepted, still being carried out
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        code = (cause.type if isinstance(cause, ApplicationError) else None) or "command_refused"
        return Finding(Outcome.REFUSED, HTTPStatus.CONFLICT, code)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return _NOT_APPLIED  # never reached the workflow, or refused by its validator (which keeps no record)
    return Finding(Outcome.ACCEPTED, HTTPStatus.OK, "recovered: the workflow applied this Update")


def _entry(intent: CommandIntent, finding: Finding) -> AuditDraft:
    # A command that did not take effect does not use up its Idempotency-Key's one entry: a retry may still run it.
    took_effect = finding.outcome in (Outcome.ACCEPTED, Outcome.REFUSED)
    event_key = command_event_key(intent.subject, intent.idempotency_key if took_effect else None, intent.request_id)
    return intents.entry_of(intent, finding.outcome, finding.status_code, finding.detail, event_key)
