"""The audit log: every command the API answered and every system action, hash-chained; its reading and check."""

from fastapi import APIRouter

from api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)
