"""Schemathesis against the app's own OpenAPI schema, driven from a thread while the event loop serves the app.

Schemathesis (like Hypothesis) is synchronous, but the app, its Temporal client and the worker live on the test
session's event loop, which must keep running while examples are sent. So each Hypothesis run goes to a thread
(`asyncio.to_thread`), and every example is sent back onto the loop through the ASGI client
(`run_coroutine_threadsafe`); the answer is then judged by schemathesis' own checks.
"""

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeAlias

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from temporalio.client import Client
from temporalio.service import RPCError

from api.app import create_app
from domain.signing import Signing
from tests.api.conftest import api_settings

# Not a server error, and the answer is what the schema documents: a listed status, its content type, its body.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

Operation: TypeAlias = APIOperation[Any, Any, Any, Any]
FuzzCase: TypeAlias = Case[Any]

WEBHOOK = "POST /api/v1/payments/webhook"
ANSWER_TIMEOUT_SECONDS = 60.0
MAX_IDEMPOTENCY_KEY = 200  # the header's documented maxLength


def openapi_schema() -> OpenApiSchema:
    """The app's schema as the app serves it; building the app connects to nothing, so this runs at collection."""
    app = create_app(api_settings("sqlite+aiosqlite:///:memory:"))
    return schemathesis.openapi.from_dict(app.openapi(), config=schemathesis.Config())


def operations(schema: OpenApiSchema) -> list[Operation]:
    """Every operation of the schema; one the loader cannot read fails the collection rather than being skipped."""
    found: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        found.append(result.ok())
    return found


def label(operation: Operation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def has_inputs(operation: Operation) -> bool:
    """Whether there is anything to send wrong: an operation without parameters or body has no negative cases."""
    return bool(next(iter(operation.iter_parameters()), None) or operation.body)


def path_parameter_names(operation: Operation) -> set[str]:
    return {parameter.name for parameter in operation.path_parameters}


def body_field_names(operation: Operation) -> set[str]:
    """The top-level fields of the operation's JSON bodies."""
    names: set[str] = set()
    for body in operation.body:
        schema = body.resolved_schema
        if isinstance(schema, dict):
            names |= set(schema.get("properties") or {})
    return names


@dataclass
class Fuzzer:
    """Sends schemathesis' cases through the ASGI client on `loop` as the holder of `key`, and judges the answers.

    `known_paths` and `known_fields` name objects that exist (an onboarding, a subscription, a partner ...): a run
    `on_known` objects fixes those path parameters and body fields, so commands reach live workflows instead of
    answering 404 for random ids.
    """

    http: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    key: str
    webhook_secret: str
    known_paths: Mapping[str, str] = field(default_factory=dict)
    known_fields: Mapping[str, str] = field(default_factory=dict)

    def send(self, case: FuzzCase, known: bool = False) -> httpx.Response:
        if known and isinstance(case.body, dict):
            case.body.update({name: value for name, value in self.known_fields.items() if name in case.body})
        kwargs = case.as_transport_kwargs(base_url=str(self.http.base_url).rstrip("/"))
        headers = {str(name): str(value) for name, value in (kwargs.get("headers") or {}).items()}
        headers["Authorization"] = f"Bearer {self.key}"
        cookies = kwargs.get("cookies") or {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        content: bytes | None = None
        if "json" in kwargs:
            content = json.dumps(kwargs["json"]).encode()
        elif kwargs.get("data") is not None:
            data = kwargs["data"]
            content = data.encode() if isinstance(data, str) else bytes(data)
        key = next((name for name in headers if name.lower() == "idempotency-key"), None)
        if key is not None and headers[key]:
            headers[key] = _distinct_key(headers[key], kwargs["method"], kwargs["url"], content)
        if label(case.operation) == WEBHOOK:
            # Signed as the provider signs, so the fuzz reaches the event's parsing, not only the signature check: the
            # generated webhook-* headers make way for real ones.
            headers = {name: value for name, value in headers.items() if not name.lower().startswith("webhook-")}
            signing = Signing([self.webhook_secret])
            with contextlib.suppress(UnicodeDecodeError):  # Standard Webhooks signs text: such a body goes unsigned
                headers |= signing.headers(f"msg_{uuid.uuid4().hex}", int(time.time()), content or b"")
        request = self.http.request(
            kwargs["method"],
            kwargs["url"],
            # Latin-1, as HTTP/1.1 header values are; httpx alone would encode them as ASCII.
            headers=[(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()],
            params=kwargs.get("params"),
            content=content,
        )
        return asyncio.run_coroutine_threadsafe(request, self.loop).result(timeout=ANSWER_TIMEOUT_SECONDS)

    def run(self, operation: Operation, mode: GenerationMode, max_examples: int, on_known: bool = False) -> None:
        """One Hypothesis run of `operation`: reproducible (derandomized), no example database, no deadline (a
        command waits for its workflow's Update)."""
        known = self.known_paths if on_known else {}
        fixed = {name: known[name] for name in path_parameter_names(operation) if name in known}

        @settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
        def examples(case: FuzzCase) -> None:
            case.validate_response(self.send(case, known=on_known), checks=CHECKS)

        examples()

    def send_oversized(self, operation: Operation, limit: int) -> None:
        """A JSON body one byte over `limit`: refused with a documented 413, before any parsing or routing."""
        paths = {name: self.known_paths.get(name, "fuzz-x") for name in path_parameter_names(operation)}
        filler = "x" * limit
        case = operation.Case(path_parameters=paths, body={"filler": filler}, media_type="application/json")
        response = self.send(case)
        assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE, response.text
        case.validate_response(response, checks=CHECKS)


def _distinct_key(key: str, method: str, url: str, content: bytes | None) -> str:
    """The generated Idempotency-Key, made distinct per request: Hypothesis draws the same few short keys for every
    operation, and a key reused for another request is refused (422) before the command runs. A repeated request
    still repeats its key, so replays are fuzzed too."""
    digest = hashlib.sha256(b"\n".join((method.encode(), url.encode(), content or b""))).hexdigest()[:16]
    return f"{key[: MAX_IDEMPOTENCY_KEY - 17]}-{digest}"


def plan(operation: Operation, fuzzer: Fuzzer, max_examples: int) -> Iterator[tuple[GenerationMode, int, bool]]:
    """The runs one operation gets: valid and invalid data on random ids, and valid data on the known objects."""
    yield GenerationMode.POSITIVE, max_examples, False
    if has_inputs(operation):
        yield GenerationMode.NEGATIVE, max_examples, False
    if path_parameter_names(operation) & set(fuzzer.known_paths) or body_field_names(operation) & set(
        fuzzer.known_fields
    ):
        yield GenerationMode.POSITIVE, max_examples, True


async def fuzz(fuzzer: Fuzzer, operation: Operation, max_examples: int) -> None:
    for mode, examples, on_known in plan(operation, fuzzer, max_examples):
        # Off the loop, so that the loop keeps serving the app and the worker while Hypothesis waits for answers.
        await asyncio.to_thread(fuzzer.run, operation, mode, examples, on_known)


async def terminate_running(client: Client, task_queue: str) -> int:
    """Terminates every workflow still running on `task_queue`, as visibility lists them; how many it terminated."""
    terminated = 0
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"
    for _ in range(10):  # visibility may list a workflow a moment after it started, or one a moment after it ended
        running = [execution.id async for execution in client.list_workflows(query)]
        if not running:
            break
        for workflow_id in running:
            with contextlib.suppress(RPCError):  # it ended in between
                await client.get_workflow_handle(workflow_id).terminate("fuzz finished")
                terminated += 1
        await asyncio.sleep(0.1)
    return terminated
