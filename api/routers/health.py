"""Liveness: the only path that needs no API key."""

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/health")
async def health() -> Health:
    # Answers without Temporal or the database: it says the process serves, not that its dependencies do.
    return Health(status="ok")
