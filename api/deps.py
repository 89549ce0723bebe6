"""Request dependencies: settings, Temporal client, database sessions, the caller and its permissions."""

import hmac
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api import policy
from api.errors import ApiError
from api.temporal import TemporalConnector
from domain.roles import Principal
from settings import ApiKeyGrant, Settings
from store import audit


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sessions_of(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


# The dependencies are coroutines, even those that do not wait: FastAPI runs a plain function in a thread of its
# pool, and that hop costs more than the function on every request.
async def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return _sessions_of(request)


async def _temporal_client(request: Request) -> Client:
    connector: TemporalConnector = request.app.state.temporal
    return await connector.client()


async def _chained_up_to_now(request: Request) -> None:
    """Chains every audit entry queued so far, so a reader of the log sees every command answered before it asked."""
    await audit.drain(_sessions_of(request))


AppSettings = Annotated[Settings, Depends(_settings)]
ChainedUpToNow = Annotated[None, Depends(_chained_up_to_now)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
TemporalClient = Annotated[Client, Depends(_temporal_client)]

# auto_error=False: a missing key must get our 401 in our error shape, not FastAPI's default answer.
_bearer = HTTPBearer(auto_error=False, description="An API key from API_KEYS, sent as `Authorization: Bearer <key>`")


def _unauthenticated(message: str) -> ApiError:
    return ApiError(HTTPStatus.UNAUTHORIZED, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def _grant_for(presented: str, api_keys: dict[str, ApiKeyGrant]) -> ApiKeyGrant | None:
    """Compares against every key in constant time, so timing tells nothing about which key is close."""
    found = None
    for key, grant in api_keys.items():
        if hmac.compare_digest(presented.encode(), key.encode()):
            found = grant
    return found


def principal_for(presented_key: str, settings: Settings) -> Principal | None:
    """The caller an API key stands for, or None for an unknown key. The key itself is never logged."""
    grant = _grant_for(presented_key, settings.api_keys)
    if grant is None:
        return None
    return Principal(subject=grant.subject, roles=grant.roles, isv_id=grant.isv_id, partner_id=grant.partner_id)


async def current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], settings: AppSettings
) -> Principal:
    if credentials is None:
        raise _unauthenticated("an API key is required: Authorization: Bearer <key>")
    principal = principal_for(credentials.credentials, settings)
    if principal is None:
        raise _unauthenticated("the API key is not valid")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def enforce_route_policy(request: Request, settings: AppSettings) -> None:
    """Lets a request through only as api/policy.py's table says; a route missing from the table is refused.

    It reads the Authorization header itself rather than through the bearer scheme, so that the open routes (the
    signed webhook) are not documented as needing a key; the routes that do need one declare CurrentPrincipal."""
    route = policy.match(request.method, request.scope["path"])
    if route is None:
        raise ApiError(HTTPStatus.FORBIDDEN, "forbidden", "no access policy covers this route")
    permission = route.policy.permission
    if permission is None:
        return
    principal = await current_principal(await _bearer(request), settings)
    if not principal.may(permission):
        raise ApiError(HTTPStatus.FORBIDDEN, "forbidden", f"{principal.subject} may not {permission.value}")
