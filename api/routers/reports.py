"""Figures per month (paid revenue, the ISVs' share, payouts) for the console's overview."""

from http import HTTPStatus

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentPrincipal, Sessions
from api.errors import ERROR_RESPONSES, ApiError
from store import reports

router = APIRouter(prefix="/reports", tags=["reports"], responses=ERROR_RESPONSES)


class MonthOut(BaseModel):
    month: str
    paid_net_cents: int
    isv_share_cents: int
    payouts_cents: int


class MonthlyReport(BaseModel):
    items: list[MonthOut]


@router.get(
    "/monthly",
    description="Per month, oldest first: net of the invoices paid, the ISVs' share of it, and what payout runs "
    "transferred. An ISV's key sees its own figures only.",
)
async def monthly(principal: CurrentPrincipal, sessions: Sessions) -> MonthlyReport:
    isv_id = None
    if principal.is_tenant_scoped:
        if principal.isv_id is None:
            raise ApiError(HTTPStatus.FORBIDDEN, "forbidden", f"{principal.subject} has no ISV of its own")
        isv_id = principal.isv_id
    figures = await reports.monthly(sessions, isv_id)
    return MonthlyReport(items=[MonthOut(**vars(month)) for month in figures])
