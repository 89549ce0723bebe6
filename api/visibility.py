"""Lists from Temporal visibility, for every resource listed from its workflows' search attributes: the query
built from filters, ISV scoping, and one page per request."""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from temporalio.client import Client, WorkflowExecution
from temporalio.common import SearchAttributeKey

from api.schemas import PageQuery, decode_page_token, encode_page_token
from domain.roles import Principal
from workflows import search_attributes as sa

ItemT = TypeVar("ItemT")
Filters = Mapping[SearchAttributeKey[str], str | None]

# Values reach the query only after validation as enums or slugs; this guard keeps it so if that ever changes.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,127}$")


def literal(value: str) -> str:
    if not _SAFE_VALUE.fullmatch(value):
        raise ValueError(f"unsafe value in a visibility query: {value!r}")
    return f"'{value}'"


def datetime_literal(value: datetime) -> str:
    """A date-time in a visibility query, in UTC (it comes from a parsed value, never from text)."""
    return f"'{value.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"


def list_query(workflow_type: str, filters: Filters, conditions: Sequence[str] = ()) -> str:
    """Filters whose value is None are left out; `conditions` are further clauses built from validated values."""
    clauses = [
        f"WorkflowType = {literal(workflow_type)}",
        # A run closed by continue-as-new is followed by a new run of the same workflow id: list that one only.
        "ExecutionStatus != 'ContinuedAsNew'",
    ]
    clauses += [f"{key.name} = {literal(value)}" for key, value in filters.items() if value is not None]
    clauses += conditions
    return " AND ".join(clauses)


def scoped(principal: Principal, filters: Filters) -> Filters | None:
    """The filters after ISV scoping: an ISV lists its own workflows whatever it asks for; None when it can see none
    of what it asks for (another ISV's, or it is tenant-scoped without an ISV)."""
    if not principal.is_tenant_scoped:
        return filters
    requested = filters.get(sa.ISV_ID)
    if principal.isv_id is None or (requested is not None and requested != principal.isv_id):
        return None
    return {**filters, sa.ISV_ID: principal.isv_id}


async def list_page(
    client: Client,
    workflow_type: str,
    filters: Filters,
    page: PageQuery,
    principal: Principal,
    item: Callable[[WorkflowExecution], ItemT],
    conditions: Sequence[str] = (),
) -> tuple[list[ItemT], str | None]:
    """One page of items and the token of the next (None on the last page)."""
    visible = scoped(principal, filters)
    if visible is None:
        return [], None
    executions = client.list_workflows(
        list_query(workflow_type, visible, conditions),
        page_size=page.page_size,
        next_page_token=decode_page_token(page.page_token) if page.page_token else None,
    )
    await executions.fetch_next_page()  # one page per request: the client pages on with next_page_token
    items = [item(execution) for execution in executions.current_page or []]
    return items, encode_page_token(executions.next_page_token)


def business_id(execution: WorkflowExecution, workflow_id: Callable[[str], str]) -> str:
    """The resource id a workflow id was derived from, e.g. "subscription-{id}" -> "{id}"."""
    return execution.id.removeprefix(workflow_id(""))


def started_at(execution: WorkflowExecution) -> datetime:
    return execution.start_time.astimezone(UTC)


def closed_at(execution: WorkflowExecution) -> datetime | None:
    return execution.close_time.astimezone(UTC) if execution.close_time else None
