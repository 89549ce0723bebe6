"""kill -9 of the worker process in the middle of a burst of side effects (bookings, cancellations in the trial, data
exports with their fee): once it is back, every side effect happened exactly once and is audited exactly once."""

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from api.subscription_service import export_id
from domain.ids import subscription_workflow_id
from tests.faults.calls import (
    Calls,
    audit_log,
    audit_settles,
    booked_once_in_temporal,
    booking,
    lines,
    new_customer,
    new_key,
    one_accepted_booking_entry,
    recording,
    unfinished,
)
from tests.faults.processes import poll
from tests.faults.stack import rows, split_stack

pytestmark = pytest.mark.faults

BOOKINGS = 10
CANCELLED = 6  # the first six cancel in the trial and then request a data export
# How long the work a killed worker held may take to resume once a worker is back: "work should resume within half
# a minute" of an outage's end (workflows/effects.py), and every request of the burst has its final answer by then.
RESUME_SECONDS = 30.0
SETTLE_SECONDS = 15.0  # then, for the last side effects of the answered commands (webhooks, payments) to land


async def test_a_worker_killed_during_a_burst_of_side_effects_leaves_each_done_and_audited_once(tmp_path: Path):
    async with split_stack(tmp_path) as stack, recording(stack.api_url) as calls:
        operator, app_id = stack.keys.operator, stack.app_id
        booked: set[str] = set()
        exports: dict[str, str] = {}  # subscription -> the export request's Idempotency-Key
        exporting = asyncio.Event()

        async def customer_life(index: int) -> None:
            """Books; the first CANCELLED cancel in the trial and request an export, each retried with its key."""
            customer = new_customer()
            subscription = f"{customer}-{app_id}"
            book = booking(customer, app_id)
            answer = await calls.until_final(
                "POST", "/subscriptions", operator, json=book, idempotency_key=new_key("b")
            )
            assert answer.status == 201, str(answer)
            booked.add(subscription)
            if index >= CANCELLED:
                return
            path = f"/subscriptions/{subscription}"
            answer = await calls.until_final(
                "POST", f"{path}/cancel", operator, json={"reason": "trial only"}, idempotency_key=new_key("c")
            )
            assert answer.status == 200 and answer.body["status"] == "suspended", str(answer)
            key = new_key("e")
            exporting.set()
            answer = await calls.until_final("POST", f"{path}/export-request", operator, json={}, idempotency_key=key)
            assert answer.status == 200, str(answer)
            exports[subscription] = key

        burst = asyncio.gather(*(customer_life(index) for index in range(BOOKINGS)), return_exceptions=True)
        export_sent = asyncio.ensure_future(exporting.wait())
        first_of: set[asyncio.Future[Any]] = {export_sent, burst}
        await asyncio.wait(first_of, return_when=asyncio.FIRST_COMPLETED)
        export_sent.cancel()
        assert exporting.is_set(), f"the burst ended before its first export request: {burst.result()}"
        # The kill lands while the exports are carried out: the first fee invoice is issued, its charge, the
        # connector's export and the archive are still to come, and the other exports are at their own steps.
        _, issued = await poll(
            lambda: rows(stack.database_url, "SELECT number FROM invoices"), bool, seconds=30, interval=0.02
        )
        assert issued, f"no export fee invoice was issued within 30 s:\n{lines(calls.answers)}"
        worker = stack.workers[0]
        worker.kill()
        await stack.restart_worker(worker)

        try:
            outcomes = await asyncio.wait_for(burst, RESUME_SECONDS)
        except TimeoutError:
            pytest.fail(
                f"the burst's requests had no final answer {RESUME_SECONDS:.0f} s after the worker was back "
                f"(work a killed worker held must resume within half a minute); every answer to the commands "
                f"still pending:\n{lines(unfinished(calls.answers), 80)}"
            )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert not failures, f"customers whose requests did not go through: {failures}\n{lines(calls.answers, 80)}"
        assert not calls.server_errors(), f"5xx answered:\n{lines(calls.server_errors())}"
        assert len(booked) == BOOKINGS and len(exports) == CANCELLED

        await each_side_effect_once(stack.database_url, booked, exports)
        await each_system_action_audited_once(calls, stack.keys.auditor, exports)
        await booked_once_in_temporal(stack.temporal, app_id, booked)
        await audit_settles(calls, stack.keys.auditor)
        await one_accepted_booking_entry(calls, stack.keys.auditor, booked)
        assert not calls.server_errors(), f"5xx answered:\n{lines(calls.server_errors())}"


async def each_side_effect_once(database_url: str, booked: set[str], exports: dict[str, str]) -> None:
    """One connector call per (subscription, action) that should exist, one export row per export request, one
    paid export-fee invoice per export with one payment."""
    expected_calls = Counter({(subscription, "provision"): 1 for subscription in booked})
    expected_calls.update({(subscription, "suspend"): 1 for subscription in exports})
    expected_calls.update({(subscription, "export"): 1 for subscription in exports})

    async def connector_calls() -> Counter[tuple[str, str]]:
        found = await rows(database_url, "SELECT subscription_id, action FROM connector_calls")
        return Counter((str(subscription), str(action)) for subscription, action in found)

    found, ok = await poll(connector_calls, lambda found: found == expected_calls, seconds=SETTLE_SECONDS)
    assert ok, f"connector calls: missing {expected_calls - found}, more than expected {found - expected_calls}"

    expected_exports = {(export_id(subscription, key), subscription) for subscription, key in exports.items()}

    async def exported() -> list[tuple[Any, ...]]:
        return await rows(database_url, "SELECT export_id, subscription_id FROM exports")

    export_rows, ok = await poll(exported, lambda found: set(found) == expected_exports, seconds=SETTLE_SECONDS)
    assert ok and len(export_rows) == len(expected_exports), f"exports {export_rows}, expected {expected_exports}"

    async def invoices() -> list[tuple[Any, ...]]:
        return await rows(database_url, "SELECT number, subscription_id, kind, status FROM invoices ORDER BY number")

    def one_paid_fee_each(found: list[tuple[Any, ...]]) -> bool:
        paid_fees = [
            subscription for _, subscription, kind, status in found if (kind, status) == ("export_fee", "paid")
        ]
        return sorted(paid_fees) == sorted(exports) and len(found) == len(exports)

    invoice_rows, ok = await poll(invoices, one_paid_fee_each, seconds=SETTLE_SECONDS)
    assert ok, f"invoices {invoice_rows}: expected one paid export_fee invoice for each of {sorted(exports)}"

    payments = await rows(database_url, "SELECT invoice_number, status FROM payments ORDER BY invoice_number")
    assert sorted(payments) == sorted((number, "succeeded") for number, *_ in invoice_rows), (
        f"payments {payments} for invoices {invoice_rows}: expected one succeeded payment per invoice"
    )


async def each_system_action_audited_once(calls: Calls, auditor: str, exports: dict[str, str]) -> None:
    """`export.produced` once per export, `invoice.issued` once per invoice, in the log the auditor reads."""

    async def produced() -> list[dict[str, Any]]:
        return await audit_log(calls, auditor, action="export.produced")

    expected = Counter(subscription_workflow_id(subscription) for subscription in exports)
    entries, ok = await poll(produced, lambda found: Counter(e["target"] for e in found) == expected, seconds=10)
    assert ok, f"export.produced entries {[(e['target'], e['detail']) for e in entries]}, expected one per {expected}"
    for subscription, key in exports.items():
        named = [e for e in entries if export_id(subscription, key) in (e["detail"] or "")]
        assert len(named) == 1, f"export {export_id(subscription, key)} has {len(named)} export.produced entries"

    async def issued() -> list[dict[str, Any]]:
        return await audit_log(calls, auditor, action="invoice.issued")

    entries, ok = await poll(issued, lambda found: Counter(e["target"] for e in found) == expected, seconds=10)
    assert ok, f"invoice.issued entries {[(e['target'], e['detail']) for e in entries]}, expected one per {expected}"
