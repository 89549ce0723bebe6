"""An app's own signing secret for the ISV connector calls (docs/webhooks.md): its ISV reads it to verify the calls,
and rotates it; during the overlap after a rotation the calls carry a signature by the previous secret as well.

The secret is only ever in the answer of the read: the rotation's answer (which the Idempotency-Key keeps for
replays, and the audit log describes) names the new generation, not the secret.
"""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from api.deps import AppSettings, CurrentPrincipal, Sessions
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.onboarding_service import app_owner
from api.workflow_commands import UpdateId
from domain.ids import SLUG_PATTERN
from payload_codec import EncryptionCodec
from store.app_secrets import AppSecrets, RotationConflict, SigningSecret

router = APIRouter(prefix="/apps", tags=["isv connector"], responses=ERROR_RESPONSES)

AppIdPath = Annotated[str, Path(pattern=SLUG_PATTERN)]


class RetiringSecret(BaseModel):
    generation: int
    retires_at: datetime


class SigningSecretOut(BaseModel):
    app_id: str
    secret: str  # whsec_...: Standard Webhooks' form, as the standardwebhooks package takes it
    generation: int
    created_at: datetime
    # Earlier secrets that still sign beside this one after a rotation, until `retires_at`.
    also_signing: list[RetiringSecret]


class RotationOut(BaseModel):
    app_id: str
    generation: int
    created_at: datetime
    previous_retires_at: datetime | None  # None when the app had no secret before
    # Where the new secret is read.
    secret_url: str


async def _owned_app(app_id: AppIdPath, principal: CurrentPrincipal, sessions: Sessions) -> str:
    """The app id, if the caller may manage its secret: the app's own ISV, or staff allowed by the policy. Any other
    ISV gets the same 404 as for an app that does not exist."""
    owner = await app_owner(sessions, app_id)
    if owner is None or not principal.sees_isv(owner):
        raise not_found("app_not_found", f"there is no app {app_id} of yours")
    return app_id


OwnedApp = Annotated[str, Depends(_owned_app)]


async def _app_secrets(request: Request, sessions: Sessions, settings: AppSettings) -> AppSecrets:
    codec: EncryptionCodec = request.app.state.payload_codec
    return AppSecrets(sessions, codec, timedelta(hours=settings.connector_secret_overlap_hours))


Secrets = Annotated[AppSecrets, Depends(_app_secrets)]


@router.get("/{app_id}/signing-secret")
async def read_signing_secret(app_id: OwnedApp, secrets: Secrets) -> SigningSecretOut:
    """The app's current secret (made now if it has none yet): the ISV's endpoint verifies each connector call's
    `webhook-signature` with it."""
    newest, *older = await secrets.signing(app_id, datetime.now(UTC))
    return SigningSecretOut(
        app_id=app_id,
        secret=newest.secret,
        generation=newest.generation,
        created_at=newest.created_at,
        also_signing=[_retiring(secret) for secret in older],
    )


@router.post("/{app_id}/signing-secret/rotate", status_code=HTTPStatus.CREATED)
async def rotate_signing_secret(
    app_id: OwnedApp, secrets: Secrets, principal: CurrentPrincipal, command_id: UpdateId, settings: AppSettings
) -> RotationOut:
    """A new secret signs from now on; the previous one signs too, beside it, for CONNECTOR_SECRET_OVERLAP_HOURS, so
    the ISV can switch its endpoint over in that time. A retry with the same Idempotency-Key rotates once."""
    try:
        rotated = await secrets.rotate(app_id, principal.subject, command_id, datetime.now(UTC))
    except RotationConflict as error:
        raise ApiError(HTTPStatus.CONFLICT, "rotation_conflict", f"{error}; read the current secret") from error
    older = [secret for secret in await secrets.signing(app_id, rotated.created_at) if secret is not rotated]
    return RotationOut(
        app_id=app_id,
        generation=rotated.generation,
        created_at=rotated.created_at,
        previous_retires_at=max((secret.retires_at for secret in older if secret.retires_at), default=None),
        secret_url=f"/api/v1/apps/{app_id}/signing-secret",
    )


def _retiring(secret: SigningSecret) -> RetiringSecret:
    assert secret.retires_at is not None, "only the newest secret has no retirement"
    return RetiringSecret(generation=secret.generation, retires_at=secret.retires_at)
