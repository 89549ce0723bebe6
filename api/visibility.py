"""Lists of onboardings from Temporal visibility: the query, and items built from search attributes."""

import re
from datetime import UTC

from temporalio.client import WorkflowExecution

from api.schemas import OnboardingFilters, OnboardingListItem
from domain.ids import onboarding_workflow_id
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow

# Values reach the query only after validation as enums or slugs; this guard keeps it so if that ever changes.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,127}$")
_WORKFLOW_ID_PREFIX = onboarding_workflow_id("")


def literal(value: str) -> str:
    if not _SAFE_VALUE.fullmatch(value):
        raise ValueError(f"unsafe value in a visibility query: {value!r}")
    return f"'{value}'"


def list_query(filters: OnboardingFilters, isv_id: str | None) -> str:
    """`isv_id` is the filter after scoping: the caller's own ISV for an ISV caller."""
    clauses = [
        f"WorkflowType = {literal(OnboardingWorkflow.__name__)}",
        # A run closed by continue-as-new is followed by a new run of the same onboarding: list that one only.
        "ExecutionStatus != 'ContinuedAsNew'",
    ]
    for key, value in (
        (sa.ONBOARDING_STAGE, filters.stage),
        (sa.ONBOARDING_STATUS, filters.status),
        (sa.SLA_STATUS, filters.sla_status),
        (sa.PARTNER_MANAGER, filters.partner_manager),
        (sa.ISV_ID, isv_id),
    ):
        if value is not None:
            clauses.append(f"{key.name} = {literal(value)}")
    return " AND ".join(clauses)


def list_item(execution: WorkflowExecution) -> OnboardingListItem:
    attributes = execution.typed_search_attributes
    return OnboardingListItem(
        id=execution.id.removeprefix(_WORKFLOW_ID_PREFIX),
        isv_id=attributes.get(sa.ISV_ID),
        app_id=attributes.get(sa.APP_ID),
        stage=attributes.get(sa.ONBOARDING_STAGE),
        status=attributes.get(sa.ONBOARDING_STATUS),
        sla_status=attributes.get(sa.SLA_STATUS),
        partner_manager=attributes.get(sa.PARTNER_MANAGER),
        started_at=execution.start_time.astimezone(UTC),
        closed_at=execution.close_time.astimezone(UTC) if execution.close_time else None,
    )
