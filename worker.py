"""The worker: every workflow and activity, and the one data converter all clients and workers use."""

import asyncio
import logging
import signal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.onboarding import OnboardingActivities
from settings import Settings, get_settings
from store.db import create_engine, create_session_factory
from workflows import search_attributes
from workflows.onboarding import OnboardingWorkflow

WORKFLOWS = [OnboardingWorkflow]

# Pure modules shared with the workflows; passing them through keeps the sandbox from re-importing
# pydantic models (and the e-mail validator they load lazily) for every run.
PASSTHROUGH_MODULES = ("domain", "email_validator", "idna")


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker and replayer uses."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def data_converter(settings: Settings | None = None) -> DataConverter:
    return pydantic_data_converter


class PartnerflowWorker(Worker):
    """A worker that owns the store engine its activities use and closes it when it stops."""

    def __init__(self, client: Client, *, engine: AsyncEngine, **options: Any) -> None:
        super().__init__(client, **options)
        self._engine = engine

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self._engine.dispose()


def create_worker(client: Client, settings: Settings | None = None) -> Worker:
    settings = settings or get_settings()
    engine = create_engine(settings.database_url)
    onboarding = OnboardingActivities(create_session_factory(engine))
    return PartnerflowWorker(
        client,
        engine=engine,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=[onboarding.register_isv, onboarding.record_step, onboarding.send_notice, onboarding.publish_app],
    )


async def connect(settings: Settings | None = None) -> Client:
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, data_converter=data_converter(settings)
    )


async def ensure_search_attributes(client: Client) -> None:
    """Registers the custom search attributes the workflows use; those that exist are left alone."""
    for key in search_attributes.ALL:
        request = AddSearchAttributesRequest(
            namespace=client.namespace, search_attributes={key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
        )
        try:
            await client.operator_service.add_search_attributes(request)
        except RPCError as error:
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise


async def main() -> None:
    """`python -m worker`: the worker alone, as docker-compose runs it; SIGTERM drains in-flight tasks."""
    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    client = await connect(settings)
    await ensure_search_attributes(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with create_worker(client, settings):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
