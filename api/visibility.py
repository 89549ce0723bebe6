"""Lists from Temporal visibility, for every resource listed from its workflows' search attributes: the query
built from filters, ISV scoping, and one page per request."""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TypeVar

from temporalio.client import Client, WorkflowExecution
from temporalio.common import SearchAttributeKey

from api.errors import ApiError, invalid_request
from api.schemas import PageQuery, decode_page_token, encode_page_token
from domain.roles import Principal
from workflows import search_attributes as sa

ItemT = TypeVar("ItemT")
Filters = Mapping[SearchAttributeKey[str], str | None]

# A sorted list orders at most this many items (every one read on each page request); more is a 422 asking for
# narrower filters.
SORT_WINDOW = 1000
# A sorted list's page token: this and the next page's offset (a token of Temporal's never starts so: it is protobuf).
SORTED_TOKEN = b"sorted-offset:"

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
    order: Callable[[list[ItemT]], list[ItemT]] | None = None,
) -> tuple[list[ItemT], str | None]:
    """One page of items and the token of the next (None on the last page); with `order`, a page of every matching
    item in that order (`_sorted_page`)."""
    visible = scoped(principal, filters)
    if visible is None:
        return [], None
    query = list_query(workflow_type, visible, conditions)
    if order is not None:
        return await _sorted_page(client, query, page, item, order)
    token = decode_page_token(page.page_token) if page.page_token else None
    if token is not None and token.startswith(SORTED_TOKEN):
        raise _foreign_token("the page_token is from a sorted list: send its sort too")
    executions = client.list_workflows(query, page_size=page.page_size, next_page_token=token)
    await executions.fetch_next_page()  # one page per request: the client pages on with next_page_token
    items = [item(execution) for execution in executions.current_page or []]
    return items, encode_page_token(executions.next_page_token)


async def _sorted_page(
    client: Client,
    query: str,
    page: PageQuery,
    item: Callable[[WorkflowExecution], ItemT],
    order: Callable[[list[ItemT]], list[ItemT]],
) -> tuple[list[ItemT], str | None]:
    """SQL visibility cannot ORDER BY, so the items are read (at most SORT_WINDOW of them), ordered here, and cut
    into pages whose token is the next page's offset. Items that change between two page requests may move from one
    page to another, as in any offset paging."""
    offset = _sorted_offset(page.page_token)
    executions = [execution async for execution in client.list_workflows(query, limit=SORT_WINDOW + 1)]
    if len(executions) > SORT_WINDOW:
        raise ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "too_many_to_sort",
            f"more than {SORT_WINDOW} match; narrow the list with its filters to sort it",
            {"sort_window": SORT_WINDOW},
        )
    ordered = order([item(execution) for execution in executions])
    end = offset + page.page_size
    next_page_token = encode_page_token(SORTED_TOKEN + str(end).encode()) if end < len(ordered) else None
    return ordered[offset:end], next_page_token


def _sorted_offset(token: str | None) -> int:
    """The offset a sorted list's token carries (0 for the first page); 422 for a token of an unsorted list."""
    if token is None:
        return 0
    raw = decode_page_token(token)
    if not raw.startswith(SORTED_TOKEN) or not raw.removeprefix(SORTED_TOKEN).isdigit():
        raise _foreign_token("the page_token is not from a list with this sort")
    return int(raw.removeprefix(SORTED_TOKEN))


def _foreign_token(message: str) -> ApiError:
    return invalid_request([{"field": "query.page_token", "message": message}])


def business_id(execution: WorkflowExecution, workflow_id: Callable[[str], str]) -> str:
    """The resource id a workflow id was derived from, e.g. "subscription-{id}" -> "{id}"."""
    return execution.id.removeprefix(workflow_id(""))


def started_at(execution: WorkflowExecution) -> datetime:
    return execution.start_time.astimezone(UTC)


def closed_at(execution: WorkflowExecution) -> datetime | None:
    return execution.close_time.astimezone(UTC) if execution.close_time else None
