"""Channel partners over Temporal and the store: enrol one, list items from visibility (a channel partner sees
itself only), contract events and review decisions as Updates, quality reports and usage reports in the store."""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError, invalid_request
from api.partner_schemas import (
    ContractAnswer,
    PartnerFilters,
    PartnerListItem,
    PartnerPage,
    UsageReportBody,
    UsageReportOut,
)
from api.visibility import Filters, business_id, closed_at, list_page
from api.workflow_commands import CommandRef, Commands, WorkflowResource, start_once
from domain.ids import partner_workflow_id
from domain.partners import rules
from domain.partners.model import (
    ContractEvent,
    Enrolment,
    PartnerView,
    QualityMetrics,
    QualityReport,
    RecordContracts,
)
from domain.roles import Principal
from store import models
from store.db import as_utc, insert_ignoring_conflict
from workflows import search_attributes as sa
from workflows.partner import PartnerInput, PartnerProgramWorkflow, search_attributes_of

CommandT = TypeVar("CommandT", bound=BaseModel)
ResultT = TypeVar("ResultT")


class PartnerResource(WorkflowResource[PartnerProgramWorkflow, PartnerView]):
    """The shared workflow resource, plus what partners need beyond it: "is this partner still in the programme"
    without asking the workflow."""

    async def ensure_active(self, client: Client, ident: str) -> None:
        """404 for an unknown partner, 409 once the partnership has ended; a describe, so no worker is needed."""
        handle = self.handle(client, ident)
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise self.not_found(ident) from error
            raise
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise await self._missing_or_closed(handle, ident)


PARTNERS = PartnerResource(
    kind="partner",
    workflow_id=partner_workflow_id,
    run=PartnerProgramWorkflow.run,
    view=PartnerProgramWorkflow.view,
    status_attribute=sa.PARTNER_STATUS,
    # Terminating the partnership completes the workflow: what is sent after that gets this 409.
    closed_code="partnership_terminated",
)


# --- enrolment ---------------------------------------------------------------------------------


async def enrol(client: Client, task_queue: str, enrolment: Enrolment, command: CommandRef) -> PartnerView:
    """Starts the workflow with its search attributes set, so it is listable before its first task runs, and
    answers with the state it starts in, which the workflow computes alike (no wait for a worker)."""
    now = command.at
    initial = rules.enrol(enrolment, command.actor, now)
    try:
        run = await start_once(
            client,
            PartnerProgramWorkflow.run,
            PartnerInput(partner_id=enrolment.id, actor=command.actor, enrolment=enrolment, enrolled_at=now),
            command,
            id=partner_workflow_id(enrolment.id),
            task_queue=task_queue,
            # A partner is enrolled once: a terminated partnership is not restarted under the same id either.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(search_attributes_of(initial)),
        )
    except WorkflowAlreadyStartedError as error:
        raise ApiError(
            HTTPStatus.CONFLICT,
            "partner_exists",
            f"partner {enrolment.id} is already enrolled; a partner is enrolled once",
            {"partner_id": enrolment.id},
        ) from error
    return rules.view(initial, now) if run.fresh else await run.handle.query(PartnerProgramWorkflow.view)


# --- lists -------------------------------------------------------------------------------------


def list_item(execution: WorkflowExecution) -> PartnerListItem:
    attributes = execution.typed_search_attributes
    return PartnerListItem(
        id=business_id(execution, partner_workflow_id),
        tier=attributes.get(sa.PARTNER_TIER),
        account_manager=attributes.get(sa.ACCOUNT_MANAGER),
        status=attributes.get(sa.PARTNER_STATUS),
        closed_at=closed_at(execution),
    )


async def list_partners(client: Client, filters: PartnerFilters, principal: Principal) -> PartnerPage:
    by_attribute: Filters = {
        sa.PARTNER_TIER: filters.tier.value if filters.tier else None,
        sa.ACCOUNT_MANAGER: filters.account_manager,
        sa.PARTNER_STATUS: filters.status.value if filters.status else None,
    }
    if principal.is_tenant_scoped:
        return PartnerPage(items=await _own_listing(client, by_attribute, principal), next_page_token=None)
    items, next_page_token = await list_page(
        client, PartnerProgramWorkflow.__name__, by_attribute, filters, principal, list_item
    )
    return PartnerPage(items=items, next_page_token=next_page_token)


async def _own_listing(client: Client, filters: Filters, principal: Principal) -> list[PartnerListItem]:
    """A channel partner's list: itself, if it matches the filters, and no other partner. Read with a describe of
    its own workflow (one page of at most one item), so it never depends on how visibility scopes tenants."""
    if principal.partner_id is None:
        return []
    try:
        description = await PARTNERS.handle(client, principal.partner_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return []
        raise
    attributes = description.typed_search_attributes
    if any(value is not None and attributes.get(key) != value for key, value in filters.items()):
        return []
    return [list_item(description)]


# --- contract events ---------------------------------------------------------------------------


async def record_contract(
    commands: Commands[PartnerProgramWorkflow, PartnerView], event: ContractEvent
) -> ContractAnswer:
    recorded = await commands.run(
        PartnerProgramWorkflow.record_contracts, RecordContracts(actor=commands.actor, events=[event])
    )
    [award] = recorded.results
    return ContractAnswer(
        reference_id=award.reference_id,
        points_awarded=award.points_awarded,
        duplicate=award.duplicate,
        awarded_at=award.awarded_at,
        points=recorded.points,
    )


# --- records in the store ----------------------------------------------------------------------


async def quality_reports(sessions: async_sessionmaker[AsyncSession], partner_id: str) -> list[QualityReport]:
    query = select(models.QualityReportRow).where(models.QualityReportRow.partner_id == partner_id)
    async with sessions() as session:
        rows = (await session.scalars(query.order_by(models.QualityReportRow.period_end.desc()))).all()
    return [_quality_report(row) for row in rows]


def _quality_report(row: models.QualityReportRow) -> QualityReport:
    return QualityReport(
        partner_id=row.partner_id,
        period_start=as_utc(row.period_start),
        period_end=as_utc(row.period_end),
        metrics=QualityMetrics.model_validate(row, from_attributes=True),  # the columns carry the metrics' names
        failing=[name for name in row.failing.split(",") if name],
        below_thresholds=row.below_thresholds,
        bad_streak=row.bad_streak,
        created_at=as_utc(row.created_at),
    )


async def record_usage(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    partner_id: str,
    body: UsageReportBody,
    principal: Principal,
    command_id: str,
) -> UsageReportOut:
    """Writes a usage report for the partner's next quality report. Usage can cost a partner its partnership, so a
    named subscription must be one the partner sold, and an ISV reports on subscriptions of its own apps only.

    An ISV may not read partners, so it learns nothing of one it has no subscription with: its body and its
    subscription are checked before the partner is looked up, and an unknown or ended partner answers as any other."""
    if not principal.is_tenant_scoped:
        await PARTNERS.ensure_active(client, partner_id)
    if body.subscription_id is None:
        if principal.is_tenant_scoped:
            raise invalid_request(
                [{"field": "body.subscription_id", "message": "an ISV reports the usage of one of its subscriptions"}]
            )
    elif not await _sold_by(sessions, partner_id, body.subscription_id, principal):
        raise ApiError(
            HTTPStatus.NOT_FOUND,
            "subscription_not_found",
            f"partner {partner_id} sold no subscription {body.subscription_id}",
        )
    if principal.is_tenant_scoped:
        await PARTNERS.ensure_active(client, partner_id)  # the ISV's own subscription names this partner
    async with sessions.begin() as session:
        # Written once per command: a retry with the same Idempotency-Key finds the report of its first attempt.
        await insert_ignoring_conflict(
            session,
            models.UsageReport,
            {
                "partner_id": partner_id,
                "subscription_id": body.subscription_id,
                "usage_share": body.usage_share,
                "reported_by": principal.subject,
                "reported_at": datetime.now(UTC),
                "command_id": command_id,
            },
        )
        row = await session.scalar(
            select(models.UsageReport).where(
                models.UsageReport.reported_by == principal.subject, models.UsageReport.command_id == command_id
            )
        )
    assert row is not None, "written or found in this transaction"
    return UsageReportOut(
        id=row.id,
        partner_id=row.partner_id,
        subscription_id=row.subscription_id,
        usage_share=row.usage_share,
        reported_by=row.reported_by,
        reported_at=as_utc(row.reported_at),
    )


async def _sold_by(
    sessions: async_sessionmaker[AsyncSession], partner_id: str, subscription_id: str, principal: Principal
) -> bool:
    query = select(models.Subscription.id).where(
        models.Subscription.subscription_id == subscription_id,
        models.Subscription.channel_partner_id == partner_id,
    )
    if principal.is_tenant_scoped:
        query = query.where(models.Subscription.isv_id == principal.isv_id)
    async with sessions() as session:
        return (await session.scalar(query.limit(1))) is not None
