"""A worker on the time-skipping server and builders to enrol partners and report contract events."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.ids import partner_workflow_id
from domain.partners.config import ContractKind
from domain.partners.model import ContractEvent, Enrolment, PartnerView, RecordContracts, RecordContractsResult
from settings import Settings
from store import models
from store.db import create_engine
from tests.conftest import test_settings
from worker import create_worker
from workflows.partner import PartnerInput, PartnerProgramWorkflow

ACCOUNT_MANAGER = "am-bernd"

PartnerHandle = WorkflowHandle[PartnerProgramWorkflow, PartnerView]


def licences(reference: str, count: int) -> ContractEvent:
    """Digital Phone licences: 50 points each by the default catalogue, so totals are easy to aim at."""
    return ContractEvent(reference_id=reference, kind=ContractKind.DIGITAL_PHONE_LICENSES, quantity=count)


@dataclass
class PartnerHarness:
    env: WorkflowEnvironment
    settings: Settings
    engine: AsyncEngine

    @property
    def client(self) -> Client:
        return self.env.client

    async def enrol(self, **placement: Any) -> PartnerHandle:
        partner = f"partner-{uuid.uuid4().hex[:8]}"
        enrolment = Enrolment.model_validate(
            {"id": partner, "name": "Telesales Nord GmbH", "account_manager": ACCOUNT_MANAGER, **placement}
        )
        handle = await self.client.start_workflow(
            PartnerProgramWorkflow.run,
            PartnerInput(partner_id=partner, actor=ACCOUNT_MANAGER, enrolment=enrolment),
            id=partner_workflow_id(partner),
            task_queue=self.settings.task_queue,
        )
        return handle

    def latest(self, handle: PartnerHandle) -> WorkflowHandle[Any, PartnerView]:
        return self.client.get_workflow_handle(handle.id, result_type=PartnerView)

    async def record(self, handle: PartnerHandle, *events: ContractEvent) -> RecordContractsResult:
        return await self.latest(handle).execute_update(
            PartnerProgramWorkflow.record_contracts, RecordContracts(actor=ACCOUNT_MANAGER, events=list(events))
        )

    async def view(self, handle: PartnerHandle) -> PartnerView:
        return await self.latest(handle).query(PartnerProgramWorkflow.view)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sleep_until(self, moment: datetime, step: timedelta = timedelta(days=30)) -> None:
        while (left := moment - await self.now()) > timedelta():
            await self.env.sleep(min(left, step))

    async def rows(self, model: Any, **where: Any) -> list[Any]:
        query = select(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def seed_unpaid_invoice(self, partner: str, issued_at: datetime) -> None:
        """An invoice of one of the partner's customers that was never paid: bad payment behaviour."""
        number = f"inv-{uuid.uuid4().hex[:10]}"
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(models.InvoiceRow).values(
                    number=number,
                    subscription_id=f"cust-x-{number}",
                    customer_id="cust-x",
                    app_id="crm",
                    isv_id="acme",
                    channel_partner_id=partner,
                    kind="period",
                    net_cents=1990,
                    vat_cents=378,
                    gross_cents=2368,
                    currency="EUR",
                    status="failed",
                    issued_at=issued_at,
                    due_at=issued_at,
                )
            )


@asynccontextmanager
async def partner_harness(env: WorkflowEnvironment, database_url: str) -> AsyncIterator[PartnerHarness]:
    """A worker with settings of its own (the `partners` fixture; the history recorder)."""
    settings = test_settings(database_url, payout_schedule=False)
    engine = create_engine(database_url)
    try:
        async with create_worker(env.client, settings):
            yield PartnerHarness(env, settings, engine)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def partners(time_skipping_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[PartnerHarness]:
    async with partner_harness(time_skipping_env, sqlite_url) as harness:
        yield harness
