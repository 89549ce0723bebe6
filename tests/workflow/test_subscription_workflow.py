"""SubscriptionWorkflow on the time-skipping server: trial, paid terms, renewal, cancellation, dunning, suspend mode."""

import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.payments import TokenizedMethod, iban_problem
from domain.signing import LEGACY_SIGNATURE_HEADER, verify, verify_standard
from domain.subscription.model import (
    CancelCommand,
    ChangePaymentMethodCommand,
    ExportRequestCommand,
    ReinstateCommand,
    SubscriptionStatus,
    SuspensionReason,
)
from payload_codec import EncryptionCodec
from store import models
from store.app_secrets import AppSecrets
from store.db import create_session_factory
from tests.activities.loopback import LoopbackServer
from tests.unit.test_payments import with_check_digits
from tests.workflow.subscription_harness import (
    DECLINED_CARD,
    ISV,
    METHODS,
    OPERATOR,
    SubscriptionHarness,
)
from workflows.subscription import SubscriptionWorkflow


async def refusal(update: Awaitable[Any]) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await update
    assert isinstance(failed.value.cause, ApplicationError)
    return failed.value.cause


@pytest.mark.parametrize("method", list(METHODS))
async def test_a_trial_with_a_payment_method_becomes_a_paid_contract(subs: SubscriptionHarness, method: str):
    handle = await subs.book(payment_method=METHODS[method])
    assert (await subs.view(handle)).status == SubscriptionStatus.TRIALING

    await subs.sleep_days(31)
    view = await subs.view(handle)

    assert view.status == SubscriptionStatus.ACTIVE
    assert view.contract_started_at is not None
    assert view.contract_started_at - view.booked_at == view.trial_ends_at - view.booked_at
    invoices = await subs.rows(models.InvoiceRow, subscription_id=view.id)
    assert [(i.net_cents, i.vat_cents, i.gross_cents, i.status) for i in invoices] == [(1990, 378, 2368, "paid")]
    ledger = await subs.rows(models.RevenueShare, subscription_id=view.id)
    assert [(row.isv_id, row.net_cents, row.share_cents) for row in ledger] == [(ISV, 1990, 1393)]


async def test_a_subscription_holding_an_iban_an_earlier_release_took_still_runs_and_pays(subs: SubscriptionHarness):
    # Length and check digits hold, but a German account number has digits only: the API refuses such an IBAN now,
    # and a subscription booked with it before must still decode in the worker and bill.
    iban = with_check_digits("DE", "37040044053201300A")
    assert iban_problem(iban) is not None and iban_problem(iban, account_rules=False) is None
    handle = await subs.book(payment_method=METHODS["direct_debit"] | {"iban": iban})

    await subs.sleep_days(31)
    view = await subs.view(handle)

    assert view.status == SubscriptionStatus.ACTIVE
    invoices = await subs.rows(models.InvoiceRow, subscription_id=view.id)
    assert [i.status for i in invoices] == ["paid"]


async def test_a_trial_without_a_payment_method_ends_in_suspend_mode_then_termination(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=None)
    await subs.sleep_days(31)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.SUSPENDED
    assert view.suspension_reason == SuspensionReason.NO_PAYMENT_METHOD
    assert await subs.count(models.InvoiceRow, subscription_id=view.id) == 0

    await subs.sleep_days(30)
    result = await handle.result()
    assert result.status == SubscriptionStatus.TERMINATED
    actions = [row.action for row in await subs.rows(models.ConnectorCallRow, subscription_id=view.id)]
    assert sorted(actions) == ["deprovision", "provision", "suspend", "trial_will_end"]
    records = await subs.rows(models.Subscription, subscription_id=view.id)
    assert [record.status for record in records] == ["terminated"]


async def test_cancelling_in_the_trial_ends_it_at_once(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=METHODS["credit_card"])
    view = await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR, reason="no need"))
    assert view.status == SubscriptionStatus.SUSPENDED
    assert view.suspension_reason == SuspensionReason.CANCELLED

    await subs.sleep_days(31)
    assert (await handle.result()).status == SubscriptionStatus.TERMINATED
    assert await subs.count(models.InvoiceRow, subscription_id=view.id) == 0


async def test_a_12_month_term_bills_12_invoices_then_renews(subs: SubscriptionHarness):
    handle = await subs.book(term_months=12, payment_method=METHODS["direct_debit"])
    first_run = (await handle.describe()).run_id
    await subs.sleep_days(30 + 365 - 2)
    view = await subs.view(handle)
    assert view.term_number == 1
    assert view.invoices_issued == 12

    await subs.sleep_days(5)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.ACTIVE
    assert view.term_number == 2
    assert view.invoices_issued == 13
    assert (await subs.latest(handle).describe()).run_id != first_run, "renewal continues as new"
    numbers = [
        row.number for row in await subs.rows(models.InvoiceRow, models.InvoiceRow.number, subscription_id=view.id)
    ]
    assert [number[-4:] for number in numbers] == [f"{n:04d}" for n in range(1, 14)]


async def test_cancelling_mid_term_ends_the_contract_at_term_end(subs: SubscriptionHarness):
    handle = await subs.book(term_months=12, payment_method=METHODS["paypal"])
    await subs.sleep_days(30 + 150)
    view = await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    assert view.status == SubscriptionStatus.ACTIVE
    assert view.cancel_at == view.current_term_end

    refused = await refusal(handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR)))
    assert refused.type == "already_cancelled"

    await subs.sleep_days(365 - 150 + 2)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.SUSPENDED
    assert view.suspension_reason == SuspensionReason.CANCELLED
    assert view.invoices_issued == 12

    await subs.sleep_days(31)
    assert (await subs.latest(handle).result()).status == SubscriptionStatus.TERMINATED


async def test_failed_payments_are_dunned_then_suspended_and_paying_the_arrears_reinstates(subs: SubscriptionHarness):
    handle = await subs.book(term_months=1, payment_method=DECLINED_CARD)
    await subs.sleep_days(30.5)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.ACTIVE
    assert view.dunning is not None and view.dunning.retries_done == 0
    assert view.arrears_cents == 2368

    await subs.sleep_days(3.2)
    dunning = (await subs.view(handle)).dunning
    assert dunning is not None and dunning.retries_done == 1
    await subs.sleep_days(4)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.SUSPENDED
    assert view.suspension_reason == SuspensionReason.NON_PAYMENT
    failed = await subs.count(models.Payment, status="failed")
    assert failed >= 3

    latest = subs.latest(handle)
    await latest.execute_update(
        SubscriptionWorkflow.change_payment_method,
        ChangePaymentMethodCommand(
            actor=OPERATOR, payment_method=TokenizedMethod(type="credit_card", token="tok_success")
        ),
    )
    view = await latest.execute_update(SubscriptionWorkflow.reinstate, ReinstateCommand(actor=OPERATOR))
    assert view.status == SubscriptionStatus.ACTIVE
    assert view.dunning is None
    assert view.arrears_cents == 0
    actions = [row.action for row in await subs.rows(models.ConnectorCallRow, subscription_id=view.id)]
    assert "suspend" in actions and "reinstate" in actions


async def test_an_export_is_produced_in_suspend_mode_and_refused_outside_it(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=METHODS["credit_card"])
    refused = await refusal(
        handle.execute_update(
            SubscriptionWorkflow.request_export, ExportRequestCommand(actor=OPERATOR, export_id="exp-1")
        )
    )
    assert refused.type == "export_outside_suspend_mode"

    await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    view = await handle.execute_update(
        SubscriptionWorkflow.request_export, ExportRequestCommand(actor=OPERATOR, export_id="exp-2")
    )
    assert [(e.export_id, e.file_name) for e in view.exports] == [("exp-2", "exp-2.zip")]
    assert (subs.settings.exports_path / "exp-2.zip").stat().st_size == view.exports[0].size_bytes
    fee = await subs.rows(models.InvoiceRow, subscription_id=view.id, kind="export_fee")
    assert [(row.net_cents, row.gross_cents, row.status) for row in fee] == [(4900, 5831, "paid")]
    assert await subs.count(models.RevenueShare, subscription_id=view.id) == 0, "the export fee is the marketplace's"


async def test_a_24_month_term_renews_by_continue_as_new_and_loses_nothing(subs: SubscriptionHarness):
    handle = await subs.book(term_months=24, payment_method=METHODS["credit_card"])
    first_run = (await handle.describe()).run_id
    await subs.sleep_days(30 + 731 + 2)
    latest = subs.latest(handle)
    assert (await latest.describe()).run_id != first_run
    view = await latest.query(SubscriptionWorkflow.view)
    assert view.term_number == 2
    assert view.invoices_issued == 25
    numbers = [
        row.number for row in await subs.rows(models.InvoiceRow, models.InvoiceRow.number, subscription_id=view.id)
    ]
    assert [number[-4:] for number in numbers] == [f"{n:04d}" for n in range(1, 26)]
    assert await subs.count(models.RevenueShare, subscription_id=view.id) == 25
    assert view.current_term_start is not None and view.contract_started_at is not None
    assert view.current_term_start.date() == view.contract_started_at.date().replace(
        year=view.contract_started_at.year + 2
    )

    view = await latest.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    assert view.cancel_at == view.current_term_end
    assert [entry.action for entry in view.history][:1] == ["booked"], "the history goes back to the booking"


async def test_a_subscription_sold_by_a_partner_notes_the_points_until_the_programme_exists(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=METHODS["credit_card"], channel_partner_id="telesales-nord")
    await subs.sleep_days(31)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.ACTIVE
    assert "partner_points_pending" in [entry.action for entry in view.history]
    assert await subs.count(models.Notification, kind="partner_points_pending") >= 1


async def test_the_isv_endpoint_gets_signed_calls_and_a_refusal_does_not_stop_the_subscription(
    subs: SubscriptionHarness,
):
    async with LoopbackServer(statuses=[400]) as isv:
        await subs.register_endpoint(isv.url)
        handle = await subs.book(payment_method=None)
        await subs.sleep_days(0.01)  # lets the provisioning call happen
        view = await subs.view(handle)
        assert view.status == SubscriptionStatus.TRIALING
        assert "connector_failed" in [entry.action for entry in view.history]

        await subs.sleep_days(31)
        view = await subs.view(handle)
    assert view.status == SubscriptionStatus.SUSPENDED
    actions = [request.json()["action"] for request in isv.requests]
    assert actions == ["provision", "trial_will_end", "suspend"]
    # Signed with the app's own secret, which its ISV reads from the API; and, while the transition lasts, the legacy
    # signature with the marketplace-wide secret too.
    codec = EncryptionCodec.from_settings(subs.settings)
    app_secrets = AppSecrets(create_session_factory(subs.engine), codec, timedelta(hours=24))
    [secret] = await app_secrets.signing(subs.app_id, datetime.now(UTC))
    for request in isv.requests:
        assert verify_standard([secret.secret], request.headers, request.body) == request.json()["event_id"]
        verify(
            subs.settings.connector_signing_secret,
            request.headers[LEGACY_SIGNATURE_HEADER.lower()],
            request.body,
            int(time.time()),
        )


async def test_a_payment_the_provider_never_settles_fails_after_5_days_and_is_dunned(subs: SubscriptionHarness):
    # The sandbox answers tok_pending with "pending"; with no webhook URL in tests, no outcome ever follows.
    handle = await subs.book(term_months=1, payment_method={"type": "credit_card", "token": "tok_pending"})
    await subs.sleep_days(30.5)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.ACTIVE and view.dunning is None

    await subs.sleep_days(5)
    view = await subs.view(handle)
    assert view.dunning is not None
    invoices = await subs.rows(models.InvoiceRow, subscription_id=view.id)
    assert [invoice.status for invoice in invoices] == ["failed"]
    assert await subs.count(models.Notification, kind="payment_failed") >= 1
