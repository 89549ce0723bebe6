"""The audit log: every command the API answered and every system action, hash-chained; its reading and check."""

import json
from collections.abc import AsyncIterator
from datetime import UTC
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import audit_cross_check
from api.audit_cross_check import CrossCheck
from api.csv_safe import csv_text
from api.deps import ChainedUpToNow, Sessions, current_principal
from api.errors import ERROR_RESPONSES
from api.params import IsoDateTime
from api.temporal import TemporalConnector
from domain.audit import BUSINESS_ID_FIELDS, AuditDraft, BusinessIds, ChainedEntry, Verification
from domain.ids import OnboardingId, Slug
from store import audit, intents
from store.audit import LogFilter

router = APIRouter(
    prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES, dependencies=[Depends(current_principal)]
)

MAX_PAGE_SIZE = 500
CSV_MEDIA_TYPE = "text/csv"
CSV_COLUMNS = ["seq", *AuditDraft.model_fields, "prev_hash", "hash"]


class LogFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class LogQuery(BaseModel):
    subject: str | None = Field(None, max_length=200)
    target: str | None = Field(None, max_length=300, description="e.g. a workflow id: `subscription-cust-crm`")
    action: str | None = Field(None, max_length=100, description="e.g. `onboarding.advance`, `invoice.issued`")
    outcome: str | None = Field(None, max_length=16, description="accepted, refused, replayed, failed or done")
    since: IsoDateTime | None = Field(None, description="from this time on (inclusive)")
    until: IsoDateTime | None = Field(None, description="before this time")
    # The business objects an entry is about: an onboarding's entries name its ISV and app too, a subscription's
    # its customer, app, ISV and channel partner; so `isv_id` finds everything about an ISV's apps.
    onboarding_id: OnboardingId | None = Field(None, description="`{isv}-{app}`, e.g. `acme-acme-crm`")
    app_id: Slug | None = None
    isv_id: Slug | None = None
    subscription_id: OnboardingId | None = Field(None, description="`{customer}-{app}`")
    customer_id: Slug | None = None
    partner_id: Slug | None = Field(None, description="a channel partner")
    page_token: str | None = Field(None, pattern=r"^[0-9]{1,18}$", description="`next_page_token` of the previous page")
    page_size: int = Field(100, ge=1, le=MAX_PAGE_SIZE)
    format: LogFormat = Field(LogFormat.JSON, description="`csv` exports every matching entry, unpaged")

    def where(self) -> LogFilter:
        return LogFilter(
            subject=self.subject,
            target=self.target,
            action=self.action,
            outcome=self.outcome,
            since=self.since.astimezone(UTC) if self.since else None,
            until=self.until.astimezone(UTC) if self.until else None,
            about=BusinessIds(**self.model_dump(include=BUSINESS_ID_FIELDS)),
        )


class AuditLogPage(BaseModel):
    items: list[ChainedEntry]
    next_page_token: str | None


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else value


def _csv_row(entry: ChainedEntry) -> str:
    values: dict[str, Any] = entry.model_dump(mode="json")
    # Idempotency-Keys, targets and refusal details carry callers' text: csv_text neutralises formulas in them.
    return csv_text([[_csv_value(values[column]) for column in CSV_COLUMNS]])


async def _csv(sessions: Sessions, where: LogFilter) -> AsyncIterator[str]:
    yield csv_text([CSV_COLUMNS])
    async for entry in audit.entries(sessions, where):
        yield _csv_row(entry)


@router.get(
    "/log",
    response_model=AuditLogPage,
    responses={200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
    description="Entries oldest first; `format=csv` streams every matching entry as a CSV export.",
)
async def read_log(query: Annotated[LogQuery, Query()], sessions: Sessions, _: ChainedUpToNow) -> Any:
    if query.format == LogFormat.CSV:
        return StreamingResponse(
            _csv(sessions, query.where()),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )
    after = int(query.page_token) if query.page_token else 0  # the token is the last `seq` of the page before
    # One row more than asked tells whether another page follows.
    entries = await audit.page(sessions, query.where(), after, query.page_size + 1)
    more = len(entries) > query.page_size
    items = entries[: query.page_size]
    return AuditLogPage(items=items, next_page_token=str(items[-1].seq) if more else None)


class AuditVerification(Verification):
    """The chain's check, what is not in the chain yet, and (on request) the check against Temporal's histories."""

    queued: int = Field(description="entries answered but not chained yet (the sequencer takes them within a second)")
    unresolved_commands: int = Field(
        description="commands whose outcome is not recorded yet: still being answered, or left by a process that "
        "stopped; recovery asks Temporal what became of them and records their entries"
    )
    cross_check: CrossCheck | None = None


@router.get(
    "/verify",
    description="Chains what is queued, then recomputes the hash chain from the first entry and names the first "
    "entry that breaks; also counts what is not in the chain yet.",
)
async def verify_log(
    request: Request,
    sessions: Sessions,
    _: ChainedUpToNow,
    cross_check: Annotated[
        bool,
        Query(
            description="also read every workflow history in Temporal and check that each command it accepted (each "
            "accepted Update, each command-started run) has its entry; costly, it reads every history"
        ),
    ] = False,
) -> AuditVerification:
    result = await audit.verify(sessions)
    backlog = await audit.backlog(sessions)
    checked = None
    if cross_check:
        connector: TemporalConnector = request.app.state.temporal
        checked = await audit_cross_check.cross_check(await connector.client(), sessions)
    return AuditVerification(
        **result.model_dump(),
        queued=backlog.queued,
        unresolved_commands=await intents.count(sessions),
        cross_check=checked,
    )
