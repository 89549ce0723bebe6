"""Payment webhooks: the provider authenticates by an HMAC signature over the raw body, not by an API key."""

import time
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from api import subscription_service as service
from api.deps import AppSettings, Sessions, TemporalClient
from api.errors import ERROR_RESPONSES, ApiError, ErrorResponse, invalid_request, validation_details
from api.subscription_schemas import PaymentWebhook, WebhookAccepted
from domain.signing import SIGNATURE_HEADER, SignatureError, verify

router = APIRouter(prefix="/payments", tags=["payments"])

# No 401 or 403: the signature is the authentication.
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Missing, wrong or stale signature"},
    **{status: answer for status, answer in ERROR_RESPONSES.items() if status in (404, 409, 422, 503)},
}


async def _signed_event(request: Request, settings: AppSettings) -> PaymentWebhook:
    """The verified, parsed event. A dependency, so it runs before the Temporal client is even connected."""
    body = await request.body()  # the signature covers the bytes as sent, so verify before parsing
    try:
        verify(settings.payment_webhook_secret, request.headers.get(SIGNATURE_HEADER), body, int(time.time()))
    except SignatureError as error:
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_signature", str(error)) from error
    try:
        return PaymentWebhook.model_validate_json(body)
    except ValidationError as error:
        raise invalid_request(validation_details(_in_body(error))) from error


def _in_body(error: ValidationError) -> list[Any]:
    # Located like FastAPI's own body errors ("body.event_id"), so every 422 names fields the same way.
    return [{**detail, "loc": ("body", *detail["loc"])} for detail in error.errors()]


@router.post(
    "/webhook",
    status_code=HTTPStatus.ACCEPTED,
    responses=_RESPONSES,
    description=f"Signed by the provider in `{SIGNATURE_HEADER}` (docs/payments-sandbox.md); needs no API key.",
)
async def payment_webhook(
    event: Annotated[PaymentWebhook, Depends(_signed_event)],
    sessions: Sessions,
    client: TemporalClient,
) -> WebhookAccepted:
    await service.receive_payment(client, sessions, event)
    return WebhookAccepted(event_id=event.event_id)
