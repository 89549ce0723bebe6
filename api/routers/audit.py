"""The audit log: every command the API answered and every system action, hash-chained; its reading and check."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Sessions, current_principal
from api.errors import ERROR_RESPONSES
from domain.audit import AuditDraft, ChainedEntry, Verification
from store import audit
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
    since: AwareDatetime | None = Field(None, description="from this time on (inclusive)")
    until: AwareDatetime | None = Field(None, description="before this time")
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page")
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
        )


class AuditLogPage(BaseModel):
    items: list[ChainedEntry]
    next_cursor: str | None


def _csv_row(entry: ChainedEntry) -> str:
    out = io.StringIO()
    values: dict[str, Any] = entry.model_dump(mode="json")
    csv.writer(out).writerow(["" if values[column] is None else values[column] for column in CSV_COLUMNS])
    return out.getvalue()


async def _csv(sessions: Sessions, where: LogFilter) -> AsyncIterator[str]:
    yield ",".join(CSV_COLUMNS) + "\r\n"
    async for entry in audit.entries(sessions, where):
        yield _csv_row(entry)


@router.get(
    "/log",
    response_model=AuditLogPage,
    responses={200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
    description="Entries oldest first; `format=csv` streams every matching entry as a CSV export.",
)
async def read_log(query: Annotated[LogQuery, Query()], sessions: Sessions) -> Any:
    if query.format == LogFormat.CSV:
        return StreamingResponse(
            _csv(sessions, query.where()),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )
    after = int(query.cursor) if query.cursor else 0
    # One row more than asked tells whether another page follows.
    entries = await audit.page(sessions, query.where(), after, query.page_size + 1)
    more = len(entries) > query.page_size
    items = entries[: query.page_size]
    return AuditLogPage(items=items, next_cursor=str(items[-1].seq) if more else None)


@router.get("/verify", description="Recomputes the hash chain from the first entry and names the first that breaks.")
async def verify_log(sessions: Sessions) -> Verification:
    return await audit.verify(sessions)
