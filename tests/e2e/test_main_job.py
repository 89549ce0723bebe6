"""The main job on loopback: real dev server, worker and API; one app onboarded to the catalogue over HTTP."""

import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from tests.ports import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PM_KEY, ISV_KEY, OPERATOR_KEY, AM_KEY = "e2e-pm", "e2e-isv", "e2e-operator", "e2e-am"
API_KEYS = {
    PM_KEY: {"subject": "pm-anna", "roles": ["partner_manager"]},
    OPERATOR_KEY: {"subject": "operator-otto", "roles": ["operator"]},
    AM_KEY: {"subject": "am-bernd", "roles": ["account_manager"]},
    ISV_KEY: {"subject": "isv-acme", "roles": ["isv"], "isv_id": "acme"},
}


def bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


WORKER_PROCESSES = 2


def free_ports(count: int) -> int:
    """The first of `count` free ports in a row: the main job serves worker i's metrics on the first + i."""
    while True:
        first = free_port()
        if all(bindable(port) for port in range(first, first + count)):
            return first


class Stack:
    """`python -m devstack` as the README's main-job command runs it."""

    def __init__(self, tmp: Path) -> None:
        self.temporal_port, self.api_port = free_port(), free_port()
        self.worker_metrics_port = free_ports(WORKER_PROCESSES)
        self.env = {
            **os.environ,
            "DATA_DIR": str(tmp / "data"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'partnerflow.db'}",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "TEMPORAL_UI_PORT": str(free_port()),
            "API_PORT": str(self.api_port),
            "API_KEYS": json.dumps(API_KEYS),
            "WORKER_PROCESSES": str(WORKER_PROCESSES),
            "WORKER_METRICS_ADDRESS": f"127.0.0.1:{self.worker_metrics_port}",
        }
        self.database = tmp / "partnerflow.db"
        self.log = tmp / "stack.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _move_off_taken_ports(self) -> None:
        """A port picked free at the first start may be in use by the time of a restart: another test's connection
        can get it as its local port. The stack keeps its state across a restart whatever its ports are."""
        if not bindable(self.temporal_port):
            self.temporal_port = free_port()
            self.env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{self.temporal_port}"
        if not bindable(self.api_port):
            self.api_port = free_port()
            self.env["API_PORT"] = str(self.api_port)
        if not bindable(int(self.env["TEMPORAL_UI_PORT"])):
            self.env["TEMPORAL_UI_PORT"] = str(free_port())
        if not all(bindable(self.worker_metrics_port + index) for index in range(WORKER_PROCESSES)):
            self.worker_metrics_port = free_ports(WORKER_PROCESSES)
            self.env["WORKER_METRICS_ADDRESS"] = f"127.0.0.1:{self.worker_metrics_port}"

    def start_in_background(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devstack"], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def start(self) -> None:
        self._move_off_taken_ports()
        self.start_in_background()
        assert self.process is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the stack exited early:\n{self.log.read_text()}"
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        pytest.fail(f"the stack did not come up:\n{self.log.read_text()}")

    def interrupt(self) -> int:
        """Ctrl-C, as a person at the terminal would press it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path)
    yield running
    running.kill()


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def call(api: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    response = api.request(method, f"/api/v1{path}", **kwargs)
    assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def test_the_main_job_onboards_an_app_to_the_catalogue_and_keeps_it_across_restarts(stack: Stack):
    stack.start()
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {PM_KEY}"}, timeout=30) as api:
        call(
            api,
            "POST",
            "/onboardings",
            json={
                "isv": {"id": "acme", "name": "Acme Software GmbH", "contact_email": "partners@acme.example"},
                "app": {"id": "acme-crm", "name": "Acme CRM", "category": "crm_customer_management"},
                "partner_manager": "pm-anna",
            },
        )
        for stage in ONBOARDING.stages:
            for criterion in stage.criteria:
                if criterion.source == CriterionSource.CHECKLIST:
                    call(api, "POST", f"/onboardings/acme-acme-crm/checklist/{criterion.id}", json={})
            if stage.id == StageId.COMMERCIAL:
                terms = {
                    "revenue_share_percent": 70,
                    "plans": [{"term_months": 1, "monthly_price_cents": 1990}],
                    "trial_days": 30,
                }
                call(api, "PUT", "/onboardings/acme-acme-crm/commercial-terms", json=terms)
            view = call(api, "POST", "/onboardings/acme-acme-crm/advance", json={"comment": f"{stage.id} done"})
        assert view["status"] == "live"

        app = call(api, "GET", "/apps/acme-crm")
        assert app["isv_id"] == "acme"
        assert app["revenue_share_percent"] == 70
        assert app["plans"] == [{"term_months": 1, "monthly_price_cents": 1990}]

    subscribe_and_export(stack)
    enrol_a_partner(stack)
    scrape_metrics(stack)

    assert stack.interrupt() == 0
    assert stack.log.read_text().rstrip().endswith("Partnerflow stopped")
    assert not port_open(stack.api_port), "the API still listens after Ctrl-C"
    assert not port_open(stack.temporal_port), "the Temporal dev server still listens after Ctrl-C"

    stack.start()
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {ISV_KEY}"}, timeout=30) as api:
        assert call(api, "GET", "/onboardings/acme-acme-crm")["status"] == "live"
        assert call(api, "GET", "/apps/acme-crm")["name"] == "Acme CRM"
    assert stack.interrupt() == 0


def subscribe_and_export(stack: Stack) -> None:
    """A customer books the app, cancels in the trial, and exports its data: the export fee is charged by the
    sandbox gateway, whose signed webhook comes back to the API over real HTTP."""
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30) as api:
        booking = {
            "customer": {"id": "beispiel", "name": "Beispiel GmbH", "employees": 42},
            "app_id": "acme-crm",
            "term_months": 1,
            "payment_method": {"type": "credit_card", "token": "tok_success"},
        }
        assert call(api, "POST", "/subscriptions", json=booking)["status"] == "trialing"
        assert call(api, "POST", "/subscriptions/beispiel-acme-crm/cancel", json={})["status"] == "suspended"
        view = call(api, "POST", "/subscriptions/beispiel-acme-crm/export-request", json={})
        export = view["exports"][0]
        archive = api.get(f"/api/v1/subscriptions/beispiel-acme-crm/exports/{export['export_id']}")
        assert archive.status_code == 200
        assert zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
        invoices = call(api, "GET", "/subscriptions/beispiel-acme-crm/invoices")["items"]
        assert [(i["kind"], i["gross_cents"], i["status"]) for i in invoices] == [("export_fee", 5831, "paid")]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(stack.database) as db:
            (webhooks,) = db.execute("SELECT count(*) FROM webhook_events WHERE type = 'payment.succeeded'").fetchone()
        if webhooks:
            return
        time.sleep(0.2)
    pytest.fail("the sandbox's webhook for the export fee never reached the API")


def enrol_a_partner(stack: Stack) -> None:
    """A channel partner is enrolled, earns points once per reference id, and is listed by its tier."""
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {AM_KEY}"}, timeout=30) as api:
        enrolment = {"id": "telesales-nord", "name": "Telesales Nord GmbH", "account_manager": "am-bernd"}
        assert call(api, "POST", "/partners", json={**enrolment, "legacy_level": "gold"})["tier"] == "advanced"
        event = {"reference_id": "order-4711", "kind": "new_customer_contract", "monthly_value_cents": 4990}
        first = call(api, "POST", "/partners/telesales-nord/contracts", json=event)
        repeat = call(api, "POST", "/partners/telesales-nord/contracts", json=event)
        assert (first["points_awarded"], first["duplicate"]) == (599, False)
        assert (repeat["points_awarded"], repeat["duplicate"], repeat["points"]) == (599, True, 599)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listed = call(api, "GET", "/partners?tier=advanced&account_manager=am-bernd")["items"]
            if [item["id"] for item in listed] == ["telesales-nord"]:
                return
            time.sleep(0.3)
        pytest.fail("the partner never appeared in the list by tier (visibility)")


def scrape_metrics(stack: Stack) -> None:
    """Prometheus's view: the API's business gauges, and each worker process's Temporal SDK metrics on its own port."""
    api_metrics = httpx.get(f"{stack.url}/metrics", timeout=10)
    assert api_metrics.status_code == 200
    assert 'partnerflow_subscriptions{status="suspended"} 1.0' in api_metrics.text
    assert 'partnerflow_scrape_source_up{source="temporal"} 1.0' in api_metrics.text
    workers = [
        httpx.get(f"http://127.0.0.1:{stack.worker_metrics_port + index}/metrics", timeout=10).text
        for index in range(WORKER_PROCESSES)
    ]
    assert all("\ntemporal_" in text for text in workers)
    for name in ("temporal_workflow_task_schedule_to_start_latency_bucket", "temporal_sticky_cache_size"):
        assert any(f"\n{name}{{" in text for text in workers), name


def test_a_busy_worker_metrics_port_is_said_in_one_line_before_anything_starts(stack: Stack):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", stack.worker_metrics_port + 1))
        taken.listen()
        stack.start_in_background()
        assert stack.process is not None
        assert stack.process.wait(timeout=30) == 1
    last_line = stack.log.read_text().strip().splitlines()[-1]
    assert last_line == f"port {stack.worker_metrics_port + 1} is in use (set WORKER_METRICS_ADDRESS)"
    assert not port_open(stack.temporal_port)  # nothing was started


def test_a_busy_api_port_is_said_in_one_line_before_anything_starts(stack: Stack):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", stack.api_port))
        taken.listen()
        stack.start_in_background()
        assert stack.process is not None
        assert stack.process.wait(timeout=30) == 1
    assert stack.log.read_text().strip().splitlines()[-1] == f"port {stack.api_port} is in use (set API_PORT)"
    assert not port_open(stack.temporal_port)  # nothing was started
