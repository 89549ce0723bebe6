"""Who the API key belongs to and what it may do: what the console reads to show only what the key allows."""

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentPrincipal
from api.errors import ERROR_RESPONSES
from domain.roles import Action, Role

router = APIRouter(tags=["session"], responses=ERROR_RESPONSES)


class Caller(BaseModel):
    subject: str
    roles: list[Role]
    isv_id: str | None
    partner_id: str | None
    permissions: list[Action]


@router.get("/me", description="The caller behind the API key: its roles, its tenant (ISV or partner) and permissions.")
async def me(principal: CurrentPrincipal) -> Caller:
    return Caller(
        subject=principal.subject,
        roles=sorted(principal.roles),
        isv_id=principal.isv_id,
        partner_id=principal.partner_id,
        permissions=[action for action in Action if principal.may(action)],
    )
