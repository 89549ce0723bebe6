"""The codec endpoint the Temporal Web UI calls to show encrypted payloads to authorised users.

It speaks Temporal's codec-server protocol: POST `.../codec/decode` (and `.../codec/encode`) with a
`temporal.api.common.v1.Payloads` message in protobuf JSON, `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`,
answered in the same shape.
"""

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api.deps import CurrentPrincipal
from api.errors import ERROR_RESPONSES, invalid_request
from api.json_limits import nesting_too_deep, too_deep
from payload_codec import EncryptionCodec, PayloadDecryptionError
from settings import Settings

PREFIX = "/codec"
PATH = f"/api/v1{PREFIX}"  # where api.app mounts this router; CORS is opened for this path only


class _DepthCheckedRoute(APIRoute):
    """Refuses a body nested too deep before FastAPI parses it: the parser's RecursionError would become FastAPI's
    400 "error parsing the body", not a 422. The codec takes bodies of up to 8 MiB, so it checks for itself."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def checked(request: Request) -> Response:
            if nesting_too_deep(await request.body()):  # the body is cached: FastAPI reads it again for free
                raise too_deep()
            return await handle(request)

        return checked


router = APIRouter(prefix=PREFIX, tags=["audit"], responses=ERROR_RESPONSES, route_class=_DepthCheckedRoute)


def _from_base64(text: str) -> bytes:
    """Protobuf JSON's bytes: standard or URL-safe base64, padding optional; anything else is refused."""
    normalized = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)


def _valid_base64(text: str) -> str:
    try:
        _from_base64(text)
    except (binascii.Error, ValueError) as error:  # ValueError: non-ASCII characters
        raise ValueError("not valid base64") from error
    return text


Base64 = Annotated[str, AfterValidator(_valid_base64), WithJsonSchema({"type": "string", "format": "byte"})]


class CodecPayload(BaseModel):
    """One `temporal.api.common.v1.Payload` in protobuf JSON: metadata values and data are base64."""

    metadata: dict[str, Base64] = Field(default_factory=dict, examples=[{"encoding": "anNvbi9wbGFpbg=="}])
    data: Base64 = Field(default="", examples=["eyJhIjogMX0="])

    def to_proto(self) -> Payload:
        metadata = {key: _from_base64(value) for key, value in self.metadata.items()}
        return Payload(metadata=metadata, data=_from_base64(self.data))

    @classmethod
    def of(cls, payload: Payload) -> "CodecPayload":
        metadata = {key: base64.b64encode(value).decode() for key, value in payload.metadata.items()}
        return cls(metadata=metadata, data=base64.b64encode(payload.data).decode())


class CodecPayloads(BaseModel):
    """A `temporal.api.common.v1.Payloads` message in protobuf JSON."""

    payloads: list[CodecPayload] = Field(default_factory=list)


async def _codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec = request.app.state.payload_codec
    return codec


Codec = Annotated[EncryptionCodec, Depends(_codec)]


@router.post("/encode", summary="Encrypt payloads (Temporal codec-server protocol)")
async def encode(body: CodecPayloads, codec: Codec, _: CurrentPrincipal) -> CodecPayloads:
    return CodecPayloads(payloads=[CodecPayload.of(codec.encrypt(payload.to_proto())) for payload in body.payloads])


@router.post("/decode", summary="Decrypt payloads for the Temporal Web UI and CLI (codec-server protocol)")
async def decode(body: CodecPayloads, codec: Codec, _: CurrentPrincipal) -> CodecPayloads:
    decoded: list[CodecPayload] = []
    for index, payload in enumerate(body.payloads):
        try:
            decoded.append(CodecPayload.of(codec.decrypt(payload.to_proto())))
        except PayloadDecryptionError as error:
            raise invalid_request([{"field": f"body.payloads.{index}", "message": str(error)}]) from error
    return CodecPayloads(payloads=decoded)


class _CodecCors:
    """Starlette's CORS middleware for the codec endpoint only: the rest of the API stays closed to browsers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=settings.codec_cors_origins,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(f"{PATH}/"):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Lets the Temporal Web UI (settings.codec_cors_origins) call the codec endpoint from the browser."""
    app.add_middleware(_CodecCors, settings=settings)
