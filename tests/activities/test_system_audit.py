"""Every system action the activities take is in the audit log once, however often Temporal runs the activity: under
the workflow id of its process, at the business time the workflow handed over, with ids and amounts but no personal
data, and the hash chain verifies after each write."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import activities.billing
import activities.payouts
import activities.subscriptions
from activities.billing import BillingActivities
from activities.connector import ConnectorActivities
from activities.partners import PartnerActivities
from activities.payouts import PayoutActivities
from activities.sandbox_gateway import SandboxGateway
from activities.subscriptions import SubscriptionActivities
from domain.audit import SYSTEM_ROLE, SYSTEM_SUBJECT, ChainedEntry, EntryKind, Outcome, SystemAction
from domain.partners.config import Tier
from domain.partners.model import TierChange
from domain.payouts import PayoutStatementView, StatementStatus
from domain.subscription.model import ConnectorAction, InvoiceStatus, SubscriptionStatus
from store import audit
from store.db import as_utc
from tests.activities.builders import app_secrets
from tests.activities.loopback import LoopbackServer
from tests.activities.test_billing import ISSUED, PAID, issue, outcome
from tests.activities.test_connector import AT, connector_call, register_app
from tests.activities.test_partners import PARTNER, decision
from tests.activities.test_subscriptions import BOOKED, EXPORT, SUSPENDED, snapshot
from tests.store.test_onboarding_activities import run_twice
from tests.workflow.test_payout_workflow import book

SUBSCRIPTION = "subscription-acme-crm-pro"
INVOICE = "acme-crm-pro-0001"
# What the builders put in the activities' inputs about people and accounts; none of it belongs in the log.
PERSONAL = ("Acme Bäckerei GmbH", "Erika Mustermann", "DE89", "0532 0130", "dev@crm.example", "CRM GmbH")


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def billing_activities(sessions: async_sessionmaker[AsyncSession]) -> BillingActivities:
    return BillingActivities(sessions, SandboxGateway(sessions, webhook_secret="whsec-test"))


@pytest.fixture
def subscription_activities(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> SubscriptionActivities:
    return SubscriptionActivities(sessions, tmp_path / "exports")


@pytest.fixture
def payout_activities(sessions: async_sessionmaker[AsyncSession]) -> PayoutActivities:
    return PayoutActivities(sessions, SandboxGateway(sessions, webhook_secret="whsec-test"))


@pytest.fixture
def crash_before_the_audit_write(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType], None]:
    """Makes the next audit write of an activity module fail once: a worker that died between the activity's
    store write and its audit write."""

    def crash(module: ModuleType) -> None:
        original = module.record_system_action

        def died(*args: Any, **kwargs: Any) -> None:
            monkeypatch.setattr(module, "record_system_action", original)
            raise RuntimeError("the worker died before the audit write")

        monkeypatch.setattr(module, "record_system_action", died)

    return crash


async def logged(sessions: async_sessionmaker[AsyncSession], action: SystemAction) -> list[ChainedEntry]:
    """The chained entries of `action`, once the sequencer has taken what the activities queued."""
    await audit.drain(sessions)
    return [entry async for entry in audit.entries(sessions, audit.LogFilter(action=action.value))]


async def the_one_entry(sessions: async_sessionmaker[AsyncSession], action: SystemAction) -> ChainedEntry:
    """The single entry of `action`, after checking that the whole chain verifies."""
    entries = await logged(sessions, action)
    assert len(entries) == 1, entries
    assert (await audit.verify(sessions)).ok
    return entries[0]


def assert_system_action(
    entry: ChainedEntry, action: SystemAction, target: str, at: datetime, event_key: str, *figures: str
) -> None:
    assert (entry.kind, entry.subject, entry.role, entry.outcome) == (
        EntryKind.SYSTEM,
        SYSTEM_SUBJECT,
        SYSTEM_ROLE,
        Outcome.DONE,
    )
    assert (entry.action, entry.target, as_utc(entry.occurred_at), entry.event_key) == (action, target, at, event_key)
    assert entry.detail is not None
    for figure in figures:
        assert figure in entry.detail, (figure, entry.detail)
    written = entry.model_dump_json()
    for personal in PERSONAL:
        assert personal not in written


# --- billing ---------------------------------------------------------------------------------------


async def test_an_issued_invoice_is_recorded_once_in_the_audit_log(
    billing_activities: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await run_twice(billing_activities.issue_invoice, issue())

    entry = await the_one_entry(sessions, SystemAction.INVOICE_ISSUED)
    assert_system_action(
        entry,
        SystemAction.INVOICE_ISSUED,
        SUBSCRIPTION,
        ISSUED,
        f"invoice.issued:{INVOICE}",
        INVOICE,
        "2368 cents gross",
        "1990 net",
        "378 VAT",
    )


async def test_an_invoice_stored_before_a_crash_is_recorded_by_the_retry(
    billing_activities: BillingActivities,
    sessions: async_sessionmaker[AsyncSession],
    crash_before_the_audit_write: Callable[[ModuleType], None],
) -> None:
    crash_before_the_audit_write(activities.billing)
    with pytest.raises(RuntimeError):
        await ActivityEnvironment().run(billing_activities.issue_invoice, issue())
    assert await logged(sessions, SystemAction.INVOICE_ISSUED) == []

    await ActivityEnvironment().run(billing_activities.issue_invoice, issue())

    assert (await the_one_entry(sessions, SystemAction.INVOICE_ISSUED)).event_key == f"invoice.issued:{INVOICE}"


async def test_a_payment_outcome_is_recorded_once_per_invoice_payment_and_status(
    billing_activities: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ActivityEnvironment().run(billing_activities.issue_invoice, issue())

    await run_twice(billing_activities.record_payment, outcome(InvoiceStatus.PAID, "pay_1"))

    entry = await the_one_entry(sessions, SystemAction.PAYMENT_RECORDED)
    assert_system_action(
        entry,
        SystemAction.PAYMENT_RECORDED,
        SUBSCRIPTION,
        PAID,
        f"payment.recorded:{INVOICE}:pay_1:paid",
        "pay_1",
        INVOICE,
        "succeeded",
        "2368 cents gross EUR",
    )


async def test_a_returned_payment_is_recorded_without_the_providers_reason(
    billing_activities: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ActivityEnvironment().run(billing_activities.issue_invoice, issue())
    await ActivityEnvironment().run(billing_activities.record_payment, outcome(InvoiceStatus.PAID, "pay_1"))
    reason = "account DE89 3704 0044 0532 0130 00 of Erika Mustermann closed"

    await run_twice(billing_activities.record_payment, outcome(InvoiceStatus.FAILED, "pay_1", reason))

    paid, returned = await logged(sessions, SystemAction.PAYMENT_RECORDED)
    assert (await audit.verify(sessions)).ok
    assert paid.event_key == f"payment.recorded:{INVOICE}:pay_1:paid"
    assert_system_action(
        returned,
        SystemAction.PAYMENT_RECORDED,
        SUBSCRIPTION,
        PAID,
        f"payment.recorded:{INVOICE}:pay_1:failed",
        "pay_1",
        "returned",
    )


async def test_a_payment_outcome_the_invoice_ignores_is_not_recorded(
    billing_activities: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ActivityEnvironment().run(billing_activities.issue_invoice, issue())
    await ActivityEnvironment().run(billing_activities.record_payment, outcome(InvoiceStatus.PAID, "pay_2"))

    # An earlier attempt's late failure: the paid invoice stays paid, and nothing happened to record.
    await ActivityEnvironment().run(billing_activities.record_payment, outcome(InvoiceStatus.FAILED, "pay_1"))

    assert [entry.event_key for entry in await logged(sessions, SystemAction.PAYMENT_RECORDED)] == [
        f"payment.recorded:{INVOICE}:pay_2:paid"
    ]


# --- subscriptions -------------------------------------------------------------------------------


async def test_a_subscription_entering_suspend_mode_is_recorded_once(
    subscription_activities: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ActivityEnvironment().run(
        subscription_activities.record_subscription, snapshot(SubscriptionStatus.ACTIVE, BOOKED)
    )

    await run_twice(subscription_activities.record_subscription, snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED))
    # A later snapshot of the same suspension is not a new one.
    later = snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED + timedelta(days=2))
    await ActivityEnvironment().run(subscription_activities.record_subscription, later)

    entry = await the_one_entry(sessions, SystemAction.SUBSCRIPTION_SUSPENDED)
    assert_system_action(
        entry,
        SystemAction.SUBSCRIPTION_SUSPENDED,
        SUBSCRIPTION,
        SUSPENDED,
        "subscription.suspended:acme-crm-pro:20260105T100000.000000Z:20260705T100000.000000Z",
        "cancelled",
        "crm-pro",
        "crm-isv",
    )


async def test_a_suspension_after_a_reinstatement_is_recorded_again(
    subscription_activities: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    again = SUSPENDED + timedelta(days=40)
    environment = ActivityEnvironment()
    await environment.run(
        subscription_activities.record_subscription, snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED)
    )
    await environment.run(
        subscription_activities.record_subscription,
        snapshot(SubscriptionStatus.ACTIVE, SUSPENDED + timedelta(days=3)),
    )
    await environment.run(subscription_activities.record_subscription, snapshot(SubscriptionStatus.SUSPENDED, again))

    entries = await logged(sessions, SystemAction.SUBSCRIPTION_SUSPENDED)
    assert [as_utc(entry.occurred_at) for entry in entries] == [SUSPENDED, again]
    assert (await audit.verify(sessions)).ok


async def test_a_terminated_subscription_is_recorded_once_and_not_as_a_deletion(
    subscription_activities: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ended = SUSPENDED + timedelta(days=30)
    terminated = snapshot(SubscriptionStatus.TERMINATED, ended).model_copy(update={"terminated_at": ended})

    await run_twice(subscription_activities.record_subscription, terminated)

    entry = await the_one_entry(sessions, SystemAction.SUBSCRIPTION_TERMINATED)
    assert_system_action(
        entry,
        SystemAction.SUBSCRIPTION_TERMINATED,
        SUBSCRIPTION,
        ended,
        "subscription.terminated:acme-crm-pro:20260105T100000.000000Z:20260804T100000.000000Z",
        "terminated",
    )
    # The deletion is the ISV's acknowledged deprovisioning (see the connector tests below), not the status.
    assert await logged(sessions, SystemAction.DATA_DELETED) == []
    assert await logged(sessions, SystemAction.SUBSCRIPTION_SUSPENDED) == []


async def test_a_produced_export_is_recorded_once_without_the_exported_data(
    subscription_activities: SubscriptionActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    produced = await ActivityEnvironment().run(subscription_activities.produce_export, EXPORT)
    await ActivityEnvironment().run(subscription_activities.produce_export, EXPORT)

    entry = await the_one_entry(sessions, SystemAction.EXPORT_PRODUCED)
    assert_system_action(
        entry,
        SystemAction.EXPORT_PRODUCED,
        SUBSCRIPTION,
        EXPORT.requested_at,
        f"export.produced:{EXPORT.export_id}",
        EXPORT.export_id,
        produced.file_name,
        f"{produced.size_bytes} bytes",
    )


async def test_an_export_written_before_a_crash_is_recorded_by_the_retry(
    subscription_activities: SubscriptionActivities,
    sessions: async_sessionmaker[AsyncSession],
    crash_before_the_audit_write: Callable[[ModuleType], None],
) -> None:
    crash_before_the_audit_write(activities.subscriptions)
    with pytest.raises(RuntimeError):
        await ActivityEnvironment().run(subscription_activities.produce_export, EXPORT)

    await ActivityEnvironment().run(subscription_activities.produce_export, EXPORT)

    assert (await the_one_entry(sessions, SystemAction.EXPORT_PRODUCED)).target == SUBSCRIPTION


# --- the ISV connector: deleting the customer's data ---------------------------------------------------


async def test_a_deprovisioning_the_isv_acknowledged_is_recorded_once_as_the_deletion_of_the_data(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await register_app(sessions, None)  # the embedded local connector answers 200
    deprovision = connector_call(ConnectorAction.DEPROVISION)
    async with httpx.AsyncClient(timeout=5) as http:
        connector = ConnectorActivities(sessions, http, app_secrets(sessions))
        await ActivityEnvironment().run(connector.call, connector_call(ConnectorAction.SUSPEND))
        await ActivityEnvironment().run(connector.call, deprovision)
        await ActivityEnvironment().run(connector.call, deprovision)

    entry = await the_one_entry(sessions, SystemAction.DATA_DELETED)
    assert_system_action(
        entry,
        SystemAction.DATA_DELETED,
        SUBSCRIPTION,
        AT,
        f"customer_data.deleted:acme-crm-pro:{deprovision.event_id}",
        "crm-pro",
        "HTTP 200",
        deprovision.event_id,
    )


async def test_a_deprovisioning_the_isv_refused_is_not_recorded_as_a_deletion(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with LoopbackServer(statuses=[422]) as isv, httpx.AsyncClient(timeout=5) as http:
        await register_app(sessions, isv.url)
        with pytest.raises(ApplicationError):
            await ActivityEnvironment().run(
                ConnectorActivities(sessions, http, app_secrets(sessions)).call,
                connector_call(ConnectorAction.DEPROVISION),
            )

    assert await logged(sessions, SystemAction.DATA_DELETED) == []


# --- payouts ---------------------------------------------------------------------------------------


async def prepared(payout_activities: PayoutActivities, month: str) -> list[PayoutStatementView]:
    statements: list[PayoutStatementView] = await ActivityEnvironment().run(payout_activities.prepare_statements, month)
    return statements


async def test_a_transferred_payout_is_recorded_once_per_isv_and_month(
    payout_activities: PayoutActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await book(sessions, ("acme", "2026-02", 1_234), ("acme", "2026-02", 766))
    [statement] = await prepared(payout_activities, "2026-02")

    transferred = await ActivityEnvironment().run(payout_activities.transfer, statement)
    again = await ActivityEnvironment().run(payout_activities.transfer, statement)

    assert transferred.status == again.status == StatementStatus.TRANSFERRED
    assert transferred.transferred_at is not None and transferred.transfer_id is not None
    entry = await the_one_entry(sessions, SystemAction.PAYOUT_TRANSFERRED)
    assert_system_action(
        entry,
        SystemAction.PAYOUT_TRANSFERRED,
        "payout-2026-02",
        transferred.transferred_at,
        "payout.transferred:acme:2026-02",
        "2026-02",
        "ISV acme",
        "2000 cents EUR",
        "2 ledger entries",
        transferred.transfer_id,
    )
    assert entry.isv_id == "acme"  # the month's workflow pays every ISV: the entry names the one it paid


async def test_a_payout_transferred_before_a_crash_is_recorded_by_the_retry(
    payout_activities: PayoutActivities,
    sessions: async_sessionmaker[AsyncSession],
    crash_before_the_audit_write: Callable[[ModuleType], None],
) -> None:
    await book(sessions, ("acme", "2026-02", 500))
    [statement] = await prepared(payout_activities, "2026-02")
    crash_before_the_audit_write(activities.payouts)
    with pytest.raises(RuntimeError):
        await ActivityEnvironment().run(payout_activities.transfer, statement)

    # The retry finds the statement settled and transfers nothing, but the transfer still gets its entry.
    await ActivityEnvironment().run(payout_activities.transfer, statement)

    assert (await the_one_entry(sessions, SystemAction.PAYOUT_TRANSFERRED)).event_key == (
        "payout.transferred:acme:2026-02"
    )


async def test_a_refused_payout_is_not_recorded_as_transferred(
    payout_activities: PayoutActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await book(sessions, ("isv-account-closed", "2026-02", 900))  # the sandbox refuses transfers to this ISV
    [statement] = await prepared(payout_activities, "2026-02")

    failed = await ActivityEnvironment().run(payout_activities.transfer, statement)

    assert failed.status == StatementStatus.FAILED
    assert await logged(sessions, SystemAction.PAYOUT_TRANSFERRED) == []


# --- the partner programme -------------------------------------------------------------------------


async def test_every_year_end_tier_decision_is_recorded_once_a_change_as_a_change(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    partners = PartnerActivities(sessions)
    kept = decision(year=2027, points=15_500).model_copy(
        update={"from_tier": Tier.EXPERT, "to_tier": Tier.EXPERT, "change": TierChange.KEEP}
    )

    await run_twice(partners.record_tier_decision, decision())
    await run_twice(partners.record_tier_decision, kept)

    changed = await the_one_entry(sessions, SystemAction.TIER_CHANGED)
    assert_system_action(
        changed,
        SystemAction.TIER_CHANGED,
        f"partner-{PARTNER}",
        datetime(2027, 1, 1, tzinfo=UTC),
        f"partner.tier_decided:{PARTNER}:2026",
        "programme year 2026",
        "16200 points",
        "upgrade advanced → expert",
    )
    unchanged = await the_one_entry(sessions, SystemAction.TIER_KEPT)
    assert_system_action(
        unchanged,
        SystemAction.TIER_KEPT,
        f"partner-{PARTNER}",
        datetime(2028, 1, 1, tzinfo=UTC),
        f"partner.tier_decided:{PARTNER}:2027",
        "keep expert → expert",
    )
