"""The worker's metrics endpoint (WORKER_METRICS_ADDRESS): the Temporal SDK's own metrics, served by its runtime."""

import socket

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

import worker
from devstack import worker_metrics_addresses
from domain.onboarding.model import OnboardingStatus
from tests.api.conftest import eventually
from tests.conftest import test_settings
from tests.workflow.conftest import Harness
from workflows.onboarding import OnboardingWorkflow


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


async def test_the_worker_serves_the_sdks_task_latencies_and_sticky_cache_after_a_workflow_ran(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
):
    address = free_address()
    target = time_skipping_env.client.service_client.config.target_host
    settings = test_settings(sqlite_url, worker_metrics_address=address, temporal_address=target)
    client = await worker.connect(settings, runtime=worker.metrics_runtime(settings))
    async with worker.create_worker(client, settings):
        handle = await Harness(time_skipping_env, settings).start()
        view = await handle.query(OnboardingWorkflow.view)  # answered once the worker ran the first workflow task
        assert view.status == OnboardingStatus.IN_PROGRESS
        async with httpx.AsyncClient() as http:

            async def scrape() -> str:
                return (await http.get(f"http://{address}/metrics")).text

            # The onboarding's first activity (it registers the ISV) may still be running when the query answers.
            text = await eventually(scrape, lambda text: "\ntemporal_activity_execution_latency_bucket{" in text)
        await handle.terminate("test finished")

    for name in (
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_workflow_task_execution_latency_bucket",
        "temporal_activity_schedule_to_start_latency_bucket",
        "temporal_activity_execution_latency_bucket",
        "temporal_sticky_cache_size",
    ):
        assert f"\n{name}{{" in text, name
    assert f'task_queue="{settings.task_queue}"' in text


def test_an_address_in_use_stops_the_worker_with_what_to_set(sqlite_url: str):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(SystemExit, match="WORKER_METRICS_ADDRESS"):
            worker.metrics_runtime(test_settings(sqlite_url, worker_metrics_address=address))


def test_a_worker_serves_no_metrics_unless_given_an_address(sqlite_url: str):
    assert worker.metrics_runtime(test_settings(sqlite_url)) is None
    assert worker.metrics_runtime(test_settings(sqlite_url, worker_metrics_address="")) is None


def test_the_main_job_gives_each_worker_process_a_port_of_its_own(sqlite_url: str):
    def addresses(**overrides: object) -> list[str]:
        return worker_metrics_addresses(test_settings(sqlite_url, worker_processes=3, **overrides))

    assert addresses() == ["127.0.0.1:9464", "127.0.0.1:9465", "127.0.0.1:9466"]
    assert addresses(worker_metrics_address="0.0.0.0:9500") == ["0.0.0.0:9500", "0.0.0.0:9501", "0.0.0.0:9502"]
    assert addresses(worker_metrics_address="") == ["", "", ""]
