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
    **{status: answer for status, answer in ERROR_RESPONSES.items() if status in (404, 409, 413, 422, 503)},
}


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with every `#/$defs/...` reference replaced by its definition (the event's models are not recursive)."""
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inlined(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inlined(value, definitions) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    return schema


def _event_schema() -> dict[str, Any]:
    schema = PaymentWebhook.model_json_schema()
    inlined: dict[str, Any] = _inlined(schema, schema.get("$defs", {}))
    return inlined


# The body is read raw by `_signed_event` (the signature covers its bytes), so FastAPI cannot see it: documented here.
_OPENAPI_EXTRA: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _event_schema()}}},
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>` with the shared webhook secret",
            "schema": {"type": "string", "maxLength": 200},
        }
    ],
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
    openapi_extra=_OPENAPI_EXTRA,
    description=f"Signed by the provider in `{SIGNATURE_HEADER}` (docs/payments-sandbox.md); needs no API key.",
)
async def payment_webhook(
    event: Annotated[PaymentWebhook, Depends(_signed_event)],
    sessions: Sessions,
    client: TemporalClient,
) -> WebhookAccepted:
    await service.receive_payment(client, sessions, event)
    return WebhookAccepted(event_id=event.event_id)
