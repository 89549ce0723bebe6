"""The codec endpoint (Temporal's codec-server protocol): auditors and admins decode payloads, nobody else does."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.app import create_app
from api.deps import current_principal
from api.errors import register_error_handlers
from api.json_limits import MAX_JSON_DEPTH
from api.routers.codec import install_cors
from api.routers.codec import router as codec_router
from domain.payments import DirectDebit
from domain.roles import Principal
from payload_codec import ENCODING, KEY_ID, EncryptionCodec
from settings import Settings
from tests.api.conftest import api_settings, assert_error, auth
from worker import data_converter

DECODE = "/api/v1/codec/decode"
ENCODE = "/api/v1/codec/encode"
UI_ORIGIN = "http://localhost:8233"
METHOD = DirectDebit.model_validate(
    {
        "type": "direct_debit",
        "iban": "DE89370400440532013000",
        "mandate_reference": "MANDATE-0001",
        "account_holder": "Erika Mustermann",
    }
)


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return api_settings(sqlite_url)


@pytest_asyncio.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app as the lead's create_app will build it, with the codec's CORS installed; no Temporal needed."""
    app = create_app(settings)
    install_cors(app, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client
    await app.state.engine.dispose()


def as_json(payloads: list[Payload]) -> dict[str, Any]:
    """Protobuf JSON, as the Web UI and the temporal CLI send it."""
    return json_format.MessageToDict(Payloads(payloads=payloads))


def from_json(body: dict[str, Any]) -> list[Payload]:
    return list(json_format.ParseDict(body, Payloads()).payloads)


async def encrypted_method(settings: Settings) -> list[Payload]:
    """The payment method as the worker stores it in Temporal: pydantic JSON, then encrypted."""
    return await data_converter(settings).encode([METHOD])


async def test_an_auditor_decodes_what_the_worker_encrypted(settings: Settings, http: httpx.AsyncClient):
    encrypted = await encrypted_method(settings)
    assert encrypted[0].metadata["encoding"] == ENCODING

    response = await http.post(DECODE, json=as_json(encrypted), headers=auth("auditor") | {"X-Namespace": "default"})

    assert response.status_code == 200, response.text
    decoded = from_json(response.json())
    assert decoded[0].metadata["encoding"] == b"json/plain"
    assert data_converter(settings).payload_converter.from_payloads(decoded, [DirectDebit]) == [METHOD]


async def test_an_admin_encodes_and_what_comes_back_decrypts_with_the_codec(
    settings: Settings, http: httpx.AsyncClient
):
    plain = data_converter(settings).payload_converter.to_payloads([METHOD])

    response = await http.post(ENCODE, json=as_json(plain), headers=auth("admin"))

    assert response.status_code == 200, response.text
    encoded = from_json(response.json())
    assert encoded[0].metadata[KEY_ID] == settings.payload_encryption_key_id.encode()
    assert b"DE89370400440532013000" not in encoded[0].data
    assert await EncryptionCodec.from_settings(settings).decode(encoded) == plain


async def test_unencrypted_payloads_and_empty_lists_come_back_as_they_are(http: httpx.AsyncClient):
    plain = [
        Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"'),
        Payload(metadata={"encoding": b"binary/null"}),
    ]

    response = await http.post(DECODE, json=as_json(plain), headers=auth("auditor"))
    assert from_json(response.json()) == plain
    assert (await http.post(DECODE, json={"payloads": []}, headers=auth("auditor"))).json() == {"payloads": []}


@pytest.mark.parametrize("role", ["pm", "isv_a", "operator", "account_manager", "channel_partner"])
async def test_roles_other_than_admin_and_auditor_may_not_decode_or_encode(
    role: str, settings: Settings, http: httpx.AsyncClient
):
    body = as_json(await encrypted_method(settings))

    assert_error(await http.post(DECODE, json=body, headers=auth(role)), 403, "forbidden")
    assert_error(await http.post(ENCODE, json=body, headers=auth(role)), 403, "forbidden")


async def test_without_a_key_nothing_is_decoded(settings: Settings, http: httpx.AsyncClient):
    body = as_json(await encrypted_method(settings))

    assert_error(await http.post(DECODE, json=body), 401, "unauthenticated")
    assert_error(await http.post(DECODE, json=body, headers={"Authorization": "Bearer nope"}), 401, "unauthenticated")


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe{",
        b'{"payloads": [{"data": "%%%not-base64%%%"}]}',
        b'{"payloads": [{"metadata": {"encoding": "\xc3\xa4"}}]}',
        b'{"payloads": "nope"}',
        b"[]",
    ],
    ids=["not-json", "not-utf-8", "bad-data", "bad-metadata", "not-a-list", "not-an-object"],
)
async def test_garbage_is_refused_with_422_in_the_error_shape(content: bytes, http: httpx.AsyncClient):
    response = await http.post(DECODE, content=content, headers=auth("auditor") | {"Content-Type": "application/json"})

    details = assert_error(response, 422, "validation_error")
    assert details and all({"field", "message"} <= set(detail) for detail in details)


def nested_payloads(depth: int) -> bytes:
    return b'{"payloads": [' + b"[" * depth + b"]" * depth + b"]}"


async def test_a_body_nested_a_thousand_deep_is_refused_with_422_in_the_error_shape(http: httpx.AsyncClient):
    response = await http.post(
        DECODE, content=nested_payloads(1000), headers=auth("auditor") | {"Content-Type": "application/json"}
    )

    [detail] = assert_error(response, 422, "validation_error")
    assert detail["field"] == "body"


async def test_the_codec_route_refuses_a_too_deep_body_by_itself(settings: Settings):
    # Without the app's middleware: the router's own check must answer, before FastAPI's parser recurses.
    app = FastAPI()
    register_error_handlers(app)
    app.include_router(codec_router, prefix="/api/v1")
    app.state.payload_codec = EncryptionCodec.from_settings(settings)
    app.dependency_overrides[current_principal] = lambda: Principal(subject="auditor-aurel", roles=["auditor"])
    json_headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        too_deep = await client.post(DECODE, content=nested_payloads(MAX_JSON_DEPTH), headers=json_headers)
        at_the_limit = await client.post(DECODE, content=nested_payloads(MAX_JSON_DEPTH - 2), headers=json_headers)
        plain = await client.post(DECODE, json={"payloads": [{"data": "ImhlbGxvIg=="}]})

    [detail] = assert_error(too_deep, 422, "validation_error")
    assert detail == {"field": "body", "message": f"JSON may nest at most {MAX_JSON_DEPTH} levels deep"}
    # Deep enough to pass the check, but not payloads: pydantic's answer, not the depth check's.
    assert [detail["field"] for detail in assert_error(at_the_limit, 422, "validation_error")] == ["body.payloads.0"]
    assert plain.json() == {"payloads": [{"metadata": {}, "data": "ImhlbGxvIg=="}]}


async def test_a_payload_that_cannot_be_decrypted_is_refused_with_422(settings: Settings, http: httpx.AsyncClient):
    [encrypted] = await encrypted_method(settings)
    tampered = Payload(metadata=encrypted.metadata, data=encrypted.data[:-1] + bytes([encrypted.data[-1] ^ 1]))
    unknown_key = Payload(metadata={"encoding": ENCODING, KEY_ID: b"retired"}, data=encrypted.data)

    for payloads in ([tampered], [encrypted, unknown_key]):
        response = await http.post(DECODE, json=as_json(payloads), headers=auth("auditor"))
        details = assert_error(response, 422, "validation_error")
        assert details[0]["field"] == f"body.payloads.{len(payloads) - 1}"
    assert "retired" in details[0]["message"]


async def test_the_web_ui_origin_may_call_the_codec_endpoint_from_the_browser(
    settings: Settings, http: httpx.AsyncClient
):
    preflight = await http.options(
        DECODE,
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert all(header in allowed for header in ("authorization", "content-type", "x-namespace"))

    body = as_json(await encrypted_method(settings))
    response = await http.post(DECODE, json=body, headers=auth("auditor") | {"Origin": UI_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_other_origins_and_other_paths_get_no_cors_permission(http: httpx.AsyncClient):
    preflight_headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    foreign = await http.options(DECODE, headers={"Origin": "https://evil.example"} | preflight_headers)
    assert "access-control-allow-origin" not in foreign.headers

    elsewhere = await http.options("/api/v1/subscriptions", headers={"Origin": UI_ORIGIN} | preflight_headers)
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_the_openapi_schema_describes_payloads_in_protobuf_json(http: httpx.AsyncClient):
    schema = (await http.get("/openapi.json")).json()
    decode = schema["paths"][DECODE]["post"]

    assert set(decode["responses"]) >= {"200", "401", "403", "422"}
    payload = schema["components"]["schemas"]["CodecPayload"]["properties"]
    assert payload["data"]["format"] == "byte"
    assert payload["metadata"]["additionalProperties"]["format"] == "byte"
