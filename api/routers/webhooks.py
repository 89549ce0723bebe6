"""Payment webhooks: the provider authenticates by its Standard Webhooks signature over the raw body (or, during the
transition docs/webhooks.md describes, the legacy X-Partnerflow-Signature), not by an API key."""

import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api import subscription_service as service
from api.deps import AppSettings, Sessions
from api.errors import ERROR_RESPONSES, ApiError, ErrorResponse, invalid_request, validation_details
from api.payment_relay import PaymentRelay
from api.request_id import request_id_of
from api.subscription_schemas import PaymentWebhook, WebhookAccepted, WebhookDuplicate
from api.temporal import TemporalConnector
from domain.signing import (
    LEGACY_SIGNATURE_HEADER,
    WEBHOOK_ID,
    WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
    SignatureError,
    has_standard_headers,
    verify,
    verify_standard,
)
from settings import Settings

router = APIRouter(prefix="/payments", tags=["payments"])

# No 401 or 403: the signature is the authentication.
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookDuplicate, "description": "The event was received before (a resend): nothing new is done"},
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
            "name": WEBHOOK_ID,
            "in": "header",
            "required": True,
            "description": "Standard Webhooks message id: the event id, the same in every resend",
            "schema": {"type": "string", "maxLength": 200},
        },
        {
            "name": WEBHOOK_TIMESTAMP,
            "in": "header",
            "required": True,
            "description": "Standard Webhooks: when it was signed, in unix seconds (at most 300 s from our clock)",
            "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        },
        {
            "name": WEBHOOK_SIGNATURE,
            "in": "header",
            "required": True,
            "description": (
                "Standard Webhooks: `v1,<base64 HMAC-SHA256 of id.timestamp.body>` keyed with one of "
                "PAYMENT_WEBHOOK_SECRETS; several, space-separated, during a rotation"
            ),
            "schema": {"type": "string", "maxLength": 1500},
        },
        {
            "name": LEGACY_SIGNATURE_HEADER,
            "in": "header",
            "required": False,
            "deprecated": True,
            "description": (
                "Legacy, only while PAYMENT_WEBHOOK_LEGACY_SIGNATURE is on and no webhook-* header is sent: "
                "`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>` keyed with PAYMENT_WEBHOOK_SECRET"
            ),
            "schema": {"type": "string", "maxLength": 200},
        },
    ],
}


@dataclass(frozen=True)
class _SignedEvent:
    event: PaymentWebhook
    payload: str  # the body as verified, kept as received (with any fields the event model ignores)


async def _signed_event(request: Request, settings: AppSettings) -> _SignedEvent:
    """The verified, parsed event. A dependency, so it runs before anything is stored or Temporal is connected."""
    body = await request.body()  # the signature covers the bytes as sent, so verify before parsing
    try:
        _verify(settings, request, body)
    except SignatureError as error:
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_signature", str(error)) from error
    try:
        event = PaymentWebhook.model_validate_json(body)
    except ValidationError as error:
        raise invalid_request(validation_details(_in_body(error))) from error
    # Parsed as JSON, so it is UTF-8 (the JSON parser refuses anything else).
    return _SignedEvent(event, body.decode())


def _verify(settings: Settings, request: Request, body: bytes) -> None:
    """Standard Webhooks, whenever a webhook-* header is sent; else, while the transition lasts, the legacy header."""
    headers = request.headers
    legacy = headers.get(LEGACY_SIGNATURE_HEADER)
    if has_standard_headers(headers) or not settings.payment_webhook_legacy_signature:
        verify_standard(settings.payment_webhook_secrets, headers, body)
    elif legacy is None:
        raise SignatureError(
            f"the {WEBHOOK_ID}, {WEBHOOK_TIMESTAMP} and {WEBHOOK_SIGNATURE} headers are required "
            f"(or, until the legacy signature is turned off, {LEGACY_SIGNATURE_HEADER})"
        )
    else:
        verify(settings.payment_webhook_secret, legacy, body, int(time.time()))


async def _temporal(request: Request) -> TemporalConnector:
    # The connector, not a client: the event is stored and accepted even when Temporal cannot be reached.
    connector: TemporalConnector = request.app.state.temporal
    return connector


async def _relay(request: Request) -> PaymentRelay:
    relay: PaymentRelay = request.app.state.payment_relay
    return relay


def _in_body(error: ValidationError) -> list[Any]:
    # Located like FastAPI's own body errors ("body.event_id"), so every 422 names fields the same way.
    return [{**detail, "loc": ("body", *detail["loc"])} for detail in error.errors()]


@router.post(
    "/webhook",
    status_code=HTTPStatus.ACCEPTED,
    response_model=WebhookAccepted,
    responses=_RESPONSES,
    openapi_extra=_OPENAPI_EXTRA,
    description=(
        "Signed by the provider as a Standard Webhook (docs/webhooks.md); needs no API key. The event is "
        "stored before it is answered: 202 once stored (delivered to the subscription now or by the relay later), 200 "
        "for an event received before; 404 or 409 for an event that can never be delivered, now and when resent."
    ),
)
async def payment_webhook(
    signed: Annotated[_SignedEvent, Depends(_signed_event)],
    request: Request,
    sessions: Sessions,
    temporal: Annotated[TemporalConnector, Depends(_temporal)],
    relay: Annotated[PaymentRelay, Depends(_relay)],
) -> WebhookAccepted | JSONResponse:
    event = signed.event
    receipt = await service.receive_payment(
        temporal, sessions, event, signed.payload, request_id_of(request.scope), relay.policy
    )
    if receipt == service.Receipt.DUPLICATE:
        # A 2xx, so a provider that resends until it gets one (Standard Webhooks) stops.
        duplicate = WebhookDuplicate(event_id=event.event_id)
        return JSONResponse(duplicate.model_dump(mode="json"), status_code=HTTPStatus.OK)
    return WebhookAccepted(event_id=event.event_id)
