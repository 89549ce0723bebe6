"""The whole API fuzzed by schemathesis against its own OpenAPI schema: every answer is no server error, and has a
documented status code, content type and body shape (schemathesis' own checks, tests/api/fuzz_support.py).

Every operation of the schema is fuzzed, none left out: with valid and invalid data on random ids, and with valid
data on objects that exist (one onboarding, subscription, partner and app, whose ids are fixed into the cases), as
an admin and, shorter, as an ISV and a channel partner. The payment webhook's cases are signed like the provider's;
the export download is fuzzed like any read (its ZIP answer is documented). Bodies over the size limit, which the
fuzz does not draw, are sent once per operation.

Bounded and reproducible: MAX_EXAMPLES per operation and run, derandomized, no example database; the module takes
about 40 s on a 2-core machine, most of it in the admin's runs.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from api import policy
from api.app import create_app
from domain.ids import onboarding_workflow_id
from settings import Settings
from tests.api.conftest import ISV_A, METHODS, api_settings, auth, key_of, publish_app, serving
from tests.api.fuzz_support import (
    Fuzzer,
    Operation,
    fuzz,
    label,
    openapi_schema,
    operations,
    path_parameter_names,
    terminate_running,
)
from tests.conftest import local_dev_server

OPERATIONS = operations(openapi_schema())
MAX_EXAMPLES = 12  # per operation and run; about 35 operations x 3 runs
SCOPED_EXAMPLES = 4  # the scoped callers' shorter runs


@dataclass
class Target:
    http: httpx.AsyncClient
    env: WorkflowEnvironment
    settings: Settings
    known_paths: dict[str, str]
    known_fields: dict[str, str]

    def fuzzer(self, role: str) -> Fuzzer:
        return Fuzzer(
            self.http,
            asyncio.get_running_loop(),
            key_of(role),
            self.settings.payment_webhook_secrets[0],
            self.known_paths,
            self.known_fields,
        )


@pytest_asyncio.fixture(scope="module")
async def fuzz_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of the fuzz's own (real visibility, real timers, no time skipping that would stall on workflows
    left waiting): the hundreds of random onboardings, subscriptions and partners it starts would otherwise show up
    in the lists other tests read from the shared `dev_server_env`."""
    async with local_dev_server() as env:
        yield env


async def _created(http: httpx.AsyncClient, path: str, body: dict[str, object]) -> dict[str, object]:
    response = await http.post(path, json=body, headers=auth("admin"))
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


@pytest_asyncio.fixture(scope="module")
async def target(fuzz_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    """The app and a worker on the fuzz's server, with one live object of each kind (ISV A's) for the runs on known
    objects. At the end, every workflow the fuzz left running is terminated."""
    async with serving(fuzz_server, tmp_path_factory.mktemp("fuzz")) as served:
        http, settings = served.http, served.settings
        suffix = uuid.uuid4().hex[:8]
        partner = await _created(
            http,
            "/api/v1/partners",
            {"id": f"fuzz-partner-{suffix}", "name": "Fuzz GmbH", "account_manager": "am-arno", "last_year_points": 0},
        )
        app_id = await publish_app(settings.database_url, ISV_A)
        booking = {
            "customer": {"id": f"fuzz-{suffix}", "name": "Fuzz GmbH", "employees": 10},
            "app_id": app_id,
            "term_months": 1,
            "payment_method": METHODS["credit_card"],
            "channel_partner_id": partner["id"],
        }
        subscription = await _created(http, "/api/v1/subscriptions", booking)
        onboarding = await _created(
            http,
            "/api/v1/onboardings",
            {
                "isv": {"id": ISV_A, "name": "Acme Software GmbH", "contact_email": "partners@acme.example"},
                "app": {"id": f"fuzz-app-{suffix}", "name": "Fuzz CRM", "category": "hr"},
                "partner_manager": "pm-anna",
            },
        )
        known_paths = {
            "onboarding_id": str(onboarding["id"]),
            "subscription_id": str(subscription["id"]),
            "partner_id": str(partner["id"]),
            "app_id": app_id,
            "workflow_id": onboarding_workflow_id(str(onboarding["id"])),
        }
        known_fields = {
            "app_id": app_id,
            "subscription_id": str(subscription["id"]),
            "channel_partner_id": str(partner["id"]),
        }
        yield Target(http, fuzz_server, settings, known_paths, known_fields)
        await terminate_running(fuzz_server.client, settings.task_queue)


@pytest.mark.parametrize("operation", OPERATIONS, ids=label)
async def test_every_answer_to_an_admin_is_documented(target: Target, operation: Operation):
    await fuzz(target.fuzzer("admin"), operation, MAX_EXAMPLES)


@pytest.mark.parametrize("operation", OPERATIONS, ids=label)
@pytest.mark.parametrize("role", ["isv_a", "channel_partner"])
async def test_every_answer_to_a_scoped_caller_is_documented(target: Target, operation: Operation, role: str):
    """Refusals (403), other tenants' objects (404) and scoped lists are documented answers too. The known objects
    are ISV A's, so the ISV reaches its own and the channel partner (of another partner) reaches none."""
    await fuzz(target.fuzzer(role), operation, SCOPED_EXAMPLES)


@pytest.mark.parametrize("operation", [operation for operation in OPERATIONS if operation.body], ids=label)
async def test_an_oversized_body_is_a_documented_413(target: Target, operation: Operation):
    """Too large for the fuzz to draw: every operation that takes a body documents the body limit's answer."""
    path = operation.path.format(**{name: "x" for name in path_parameter_names(operation)})
    route = policy.match(operation.method.upper(), path)
    assert route is not None
    limit = route.policy.body_limit or target.settings.max_body_bytes
    await asyncio.to_thread(target.fuzzer("admin").send_oversized, operation, limit)


def test_the_fuzz_covers_every_operation_of_the_schema():
    schema = create_app(api_settings("sqlite+aiosqlite:///:memory:")).openapi()
    documented = {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}
    assert {label(operation) for operation in OPERATIONS} == documented
