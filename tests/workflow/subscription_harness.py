"""A worker on the time-skipping server, a catalogue app, and builders to book and drive subscriptions."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.subscription.model import BookedPlan, BookingRequest, SubscriptionView
from settings import Settings
from store import models
from store.db import create_engine
from tests.conftest import test_settings
from worker import create_worker
from workflows.subscription import SubscriptionInput, SubscriptionWorkflow

OPERATOR = "operator-otto"
ISV = "acme"
PRICE_CENTS = 1_990  # net per month; 19 % VAT makes 378 cents, 2,368 gross
SHARE_PERCENT = 70.0

SubscriptionHandle = WorkflowHandle[SubscriptionWorkflow, SubscriptionView]

METHODS: dict[str, dict[str, Any]] = {
    "credit_card": {"type": "credit_card", "token": "tok_success"},
    "paypal": {"type": "paypal", "token": "tok_success"},
    "clickandbuy": {"type": "clickandbuy", "token": "tok_success"},
    "direct_debit": {
        "type": "direct_debit",
        "iban": "DE89370400440532013000",
        "mandate_reference": "MANDATE-0001",
        "account_holder": "Beispiel GmbH",
    },
    "phone_bill": {"type": "phone_bill"},
}
DECLINED_CARD = {"type": "credit_card", "token": "tok_declined"}


@dataclass
class SubscriptionHarness:
    env: WorkflowEnvironment
    settings: Settings
    engine: AsyncEngine
    app_id: str

    @property
    def client(self) -> Client:
        return self.env.client

    async def book(
        self,
        *,
        term_months: int = 12,
        payment_method: dict[str, Any] | None = None,
        channel_partner_id: str | None = None,
    ) -> SubscriptionHandle:
        customer = f"cust-{uuid.uuid4().hex[:8]}"
        request = BookingRequest.model_validate(
            {
                "customer": {
                    "id": customer,
                    "name": "Beispiel GmbH",
                    "employees": 42,
                    "telekom_customer_number": "12345678",
                },
                "app_id": self.app_id,
                "term_months": term_months,
                "payment_method": payment_method,
                "channel_partner_id": channel_partner_id,
            }
        )
        plan = BookedPlan(
            app_id=self.app_id,
            app_name="Acme CRM",
            isv_id=ISV,
            term_months=term_months,
            monthly_price_cents=PRICE_CENTS,
            revenue_share_percent=SHARE_PERCENT,
            trial_days=30,
        )
        subscription_id = f"{customer}-{self.app_id}"
        handle = await self.client.start_workflow(
            SubscriptionWorkflow.run,
            SubscriptionInput(subscription_id=subscription_id, actor=OPERATOR, request=request, plan=plan),
            id=f"subscription-{subscription_id}",
            task_queue=self.settings.task_queue,
        )
        return handle

    async def register_endpoint(self, url: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(models.App).where(models.App.id == self.app_id).values(provisioning_endpoint=url)
            )

    def latest(self, handle: SubscriptionHandle) -> SubscriptionHandle:
        """The handle of the newest run, after continue-as-new."""
        return self.client.get_workflow_handle_for(SubscriptionWorkflow.run, handle.id)

    async def sleep_days(self, days: float, step: float = 30) -> None:
        """Moves the test server's clock in steps: one long skip over many timers outlasts the RPC timeout."""
        left = days
        while left > 0:
            chunk = min(step, left)
            await self.env.sleep(timedelta(days=chunk))
            left -= chunk

    async def view(self, handle: SubscriptionHandle) -> SubscriptionView:
        return await self.latest(handle).query(SubscriptionWorkflow.view)

    async def count(self, model: Any, **where: Any) -> int:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        async with self.engine.connect() as connection:
            return int(await connection.scalar(query) or 0)

    async def rows(self, model: Any, order_by: Any = None, **where: Any) -> list[Any]:
        query = select(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        if order_by is not None:
            query = query.order_by(order_by)
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())


@asynccontextmanager
async def subscription_harness(
    env: WorkflowEnvironment, database_url: str, export_dir: Path
) -> AsyncIterator[SubscriptionHarness]:
    """A worker with settings of its own and a published app to book (the `subs` fixture; the history recorder)."""
    settings = test_settings(database_url, export_dir=export_dir, payout_schedule=False)
    engine = create_engine(database_url)
    app_id = f"crm-{uuid.uuid4().hex[:6]}"
    async with engine.begin() as connection:
        now = datetime.now(UTC)
        await connection.execute(
            insert(models.Isv).values(id=ISV, name="Acme", contact_email="a@acme.example", created_at=now)
        )
        await connection.execute(
            insert(models.App).values(
                id=app_id,
                isv_id=ISV,
                name="Acme CRM",
                category="crm_customer_management",
                revenue_share_percent=SHARE_PERCENT,
                trial_days=30,
                listing_fee_cents=0,
                onboarding_id=f"{ISV}-{app_id}",
                provisioning_endpoint=None,
                published_at=now,
            )
        )
    try:
        async with create_worker(env.client, settings):
            yield SubscriptionHarness(env, settings, engine, app_id)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def subs(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[SubscriptionHarness]:
    async with subscription_harness(time_skipping_env, sqlite_url, tmp_path / "exports") as harness:
        yield harness
