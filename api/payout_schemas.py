"""Query and answer bodies of the payouts resource."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.ids import Slug
from domain.payouts import Month, PayoutStatementView


class PayoutFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: Month | None = None
    isv_id: Slug | None = None


class PayoutList(BaseModel):
    items: list[PayoutStatementView]


class RunStatus(StrEnum):
    COMPLETED = "completed"
    RUNNING = "running"


class PayoutRun(BaseModel):
    """A month's run: its statements once it completed, those made so far while it is still running."""

    month: str
    workflow_id: str
    status: RunStatus
    statements: list[PayoutStatementView]
