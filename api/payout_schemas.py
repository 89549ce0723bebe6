"""Query and answer bodies of the payouts resource."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.ids import SLUG_PATTERN, Slug
from domain.payouts import MONTH_PATTERN, Month, PayoutStatementView

# A statement's key, month then ISV: the order the list pages in.
PAYOUT_PAGE_TOKEN_PATTERN = MONTH_PATTERN.removesuffix("$") + ":" + SLUG_PATTERN.removeprefix("^")


class PayoutFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: Month | None = None
    isv_id: Slug | None = None
    page_size: int = Field(50, ge=1, le=100)
    page_token: str | None = Field(
        None, pattern=PAYOUT_PAGE_TOKEN_PATTERN, description="`next_page_token` of the previous page (`yyyy-mm:isv`)"
    )


class PayoutList(BaseModel):
    items: list[PayoutStatementView]
    next_page_token: str | None = None


class RunStatus(StrEnum):
    COMPLETED = "completed"
    RUNNING = "running"


class PayoutRun(BaseModel):
    """A month's run: its statements once it completed, those made so far while it is still running."""

    month: str
    workflow_id: str
    status: RunStatus
    statements: list[PayoutStatementView]
