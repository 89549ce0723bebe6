"""The store's copy of a subscription follows the newest snapshot, notifications go out once, and a data export
is one ZIP per export id with the customer's subscription and invoices and the ISV's data."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.sandbox_gateway import SandboxGateway
from activities.subscriptions import SubscriptionActivities
from domain.subscription.model import (
    ExportJob,
    InvoiceIssue,
    NotificationRecord,
    SubscriptionRecord,
    SubscriptionStatus,
    SuspensionReason,
)
from store import models
from tests.activities.builders import invoice_issue
from tests.store.test_onboarding_activities import count, run_twice

BOOKED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SUSPENDED = datetime(2026, 7, 5, 10, 0, tzinfo=UTC)


def snapshot(status: SubscriptionStatus, updated_at: datetime, booked_at: datetime = BOOKED) -> SubscriptionRecord:
    return SubscriptionRecord(
        subscription_id="acme-crm-pro",
        customer_id="acme",
        customer_name="Acme Bäckerei GmbH",
        app_id="crm-pro",
        isv_id="crm-isv",
        channel_partner_id=None,
        status=status,
        suspension_reason=SuspensionReason.CANCELLED if status == SubscriptionStatus.SUSPENDED else None,
        term_months=1,
        booked_at=booked_at,
        contract_started_at=booked_at + timedelta(days=30),
        cancel_requested_at=None,
        cancel_at=None,
        terminated_at=None,
        updated_at=updated_at,
    )


def invoice_issue_of(seq: int) -> InvoiceIssue:
    return invoice_issue(f"acme-crm-pro-{seq:04d}", BOOKED + timedelta(days=30 * seq))


EXPORT = ExportJob(
    export_id="exp-acme-crm-pro-1",
    subscription_id="acme-crm-pro",
    requested_at=SUSPENDED + timedelta(days=2),
    isv_export={"records": [{"type": "contact", "name": "Erika Mustermann"}]},
)


@pytest.fixture
def exports_path(tmp_path: Path) -> Path:
    return tmp_path / "exports"


@pytest.fixture
def subscriptions(sessions: async_sessionmaker[AsyncSession], exports_path: Path) -> SubscriptionActivities:
    return SubscriptionActivities(sessions, exports_path)


async def stored_statuses(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = (await session.scalars(select(models.Subscription).order_by(models.Subscription.booked_at))).all()
    return [(row.subscription_id, row.status) for row in rows]


async def test_recording_a_subscription_again_updates_its_one_row(
    subscriptions: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await run_twice(subscriptions.record_subscription, snapshot(SubscriptionStatus.TRIALING, BOOKED))
    await ActivityEnvironment().run(subscriptions.record_subscription, snapshot(SubscriptionStatus.ACTIVE, SUSPENDED))

    assert await stored_statuses(sessions) == [("acme-crm-pro", "active")]


async def test_an_older_snapshot_does_not_overwrite_a_newer_one(
    subscriptions: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    environment = ActivityEnvironment()
    await environment.run(subscriptions.record_subscription, snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED))

    await environment.run(subscriptions.record_subscription, snapshot(SubscriptionStatus.ACTIVE, BOOKED))

    assert await stored_statuses(sessions) == [("acme-crm-pro", "suspended")]


async def test_a_new_booking_of_the_same_subscription_is_a_row_of_its_own(
    subscriptions: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rebooked = SUSPENDED + timedelta(days=60)
    environment = ActivityEnvironment()
    await environment.run(subscriptions.record_subscription, snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED))
    await environment.run(
        subscriptions.record_subscription, snapshot(SubscriptionStatus.TRIALING, rebooked, booked_at=rebooked)
    )

    assert await stored_statuses(sessions) == [("acme-crm-pro", "suspended"), ("acme-crm-pro", "trialing")]


async def test_sending_the_same_notification_twice_stores_it_once(
    subscriptions: SubscriptionActivities, migrated_database: AsyncEngine
) -> None:
    note = NotificationRecord(
        key="subscription:acme-crm-pro:dunning:acme-crm-pro-0002:1",
        subject_ref="acme-crm-pro",
        kind="dunning_reminder",
        recipient="acme",
        message="Invoice acme-crm-pro-0002 is unpaid",
        at=SUSPENDED,
    )

    await run_twice(subscriptions.send_notification, note)

    assert await count(migrated_database, models.Notification) == 1


async def export_with_two_invoices(
    subscriptions: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession], exports_path: Path
) -> Path:
    billing = BillingActivities(sessions, SandboxGateway(sessions, webhook_secret="whsec-test"))
    environment = ActivityEnvironment()
    await environment.run(subscriptions.record_subscription, snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED))
    for seq in (1, 2):
        await environment.run(billing.issue_invoice, invoice_issue_of(seq))

    exported = await environment.run(subscriptions.produce_export, EXPORT)

    return exports_path / exported.file_name


async def test_an_export_holds_the_subscription_its_invoices_as_json_and_csv_and_the_isv_data(
    subscriptions: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession], exports_path: Path
) -> None:
    path = await export_with_two_invoices(subscriptions, sessions, exports_path)

    assert path.name == "exp-acme-crm-pro-1.zip"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["invoices.csv", "invoices.json", "isv_export.json", "subscription.json"]
        subscription = json.loads(archive.read("subscription.json"))
        invoices = json.loads(archive.read("invoices.json"))
        csv_rows = list(csv.DictReader(io.StringIO(archive.read("invoices.csv").decode())))
        isv_export = json.loads(archive.read("isv_export.json"))

    assert (subscription["customer_name"], subscription["status"], subscription["booked_at"]) == (
        "Acme Bäckerei GmbH",
        "suspended",
        "2026-01-05T10:00:00Z",
    )
    assert [(row["number"], row["gross_cents"]) for row in invoices] == [
        ("acme-crm-pro-0001", 2_368),
        ("acme-crm-pro-0002", 2_368),
    ]
    assert [(row["number"], row["gross_cents"], row["proration_cents"], row["status"]) for row in csv_rows] == [
        ("acme-crm-pro-0001", "2368", "0", "open"),
        ("acme-crm-pro-0002", "2368", "0", "open"),
    ]
    assert isv_export == EXPORT.isv_export


async def test_producing_the_same_export_again_returns_the_same_file(
    subscriptions: SubscriptionActivities,
    sessions: async_sessionmaker[AsyncSession],
    exports_path: Path,
    migrated_database: AsyncEngine,
) -> None:
    path = await export_with_two_invoices(subscriptions, sessions, exports_path)
    first_bytes = path.read_bytes()

    again = await ActivityEnvironment().run(subscriptions.produce_export, EXPORT)

    assert (again.file_name, again.size_bytes) == (path.name, len(first_bytes))
    assert path.read_bytes() == first_bytes
    assert await count(migrated_database, models.Export) == 1


async def test_an_export_id_that_is_not_a_plain_file_name_is_refused(subscriptions: SubscriptionActivities) -> None:
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(subscriptions.produce_export, EXPORT.model_copy(update={"export_id": "../x"}))

    assert refused.value.non_retryable
