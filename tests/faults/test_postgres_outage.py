"""PostgreSQL stopped under the API and the worker, and started again: during the outage every route that needs the
store answers 503 `store_unavailable` with Retry-After within seconds, never 500; afterwards the bookings made before
are intact, their activities complete once, and the audit log settles.

The cluster is one of the test's own (postgresql-common's pg_createcluster on a free port), never the shared one."""

from collections import Counter
from pathlib import Path

import pytest

from tests.faults.calls import (
    DIRECT_DEBIT,
    Answer,
    audit_settles,
    booked_once_in_temporal,
    booking,
    lines,
    new_customer,
    new_key,
    one_accepted_booking_entry,
    recording,
)
from tests.faults.postgres import pg_cluster
from tests.faults.processes import poll
from tests.faults.stack import rows, split_stack

pytestmark = pytest.mark.faults

BOOKED_BEFORE = 4
ANSWER_WITHIN_SECONDS = 5.0
# Activities retry with a backoff of 1, 2, 4, 8 ... s: after a few seconds' outage the next attempt is seconds away.
CATCH_UP_SECONDS = 30.0


async def test_a_postgresql_outage_answers_503_store_unavailable_quickly_and_loses_nothing(tmp_path: Path):
    with pg_cluster() as cluster:
        database_url = await cluster.create_database("partnerflow")
        async with split_stack(tmp_path, database_url=database_url) as stack, recording(stack.api_url, 30) as calls:
            operator, auditor, app_id = stack.keys.operator, stack.keys.auditor, stack.app_id
            booked: list[str] = []
            for _ in range(BOOKED_BEFORE):
                customer = new_customer()
                answer = await calls.call(
                    "POST", "/subscriptions", operator, json=booking(customer, app_id), idempotency_key=new_key("b")
                )
                assert answer.status == 201, str(answer)
                booked.append(f"{customer}-{app_id}")
            # The last bookings' activities (store row, provisioning) may still be running: the outage meets them.

            cluster.stop()
            customer, booking_key, method_key = new_customer(), new_key("b"), new_key("pm")
            during_booking = booking(customer, app_id)
            probes = [
                ("POST", "/subscriptions", operator, during_booking, booking_key),
                ("GET", "/apps", operator, None, None),
                ("GET", f"/subscriptions/{booked[0]}/invoices", operator, None, None),
                ("GET", "/audit/log", auditor, None, None),
                ("GET", "/audit/verify", auditor, None, None),
                ("PUT", f"/subscriptions/{booked[0]}/payment-method", operator, DIRECT_DEBIT, method_key),
            ]
            answers: list[Answer] = []
            for method, path, key, body, idempotency_key in probes:
                answers.append(await calls.call(method, path, key, json=body, idempotency_key=idempotency_key))
            cluster.start()

            wrong = [
                answer
                for answer in answers
                if not (
                    answer.status == 503
                    and answer.code == "store_unavailable"
                    and answer.retry_after
                    and answer.seconds < ANSWER_WITHIN_SECONDS
                )
            ]
            assert not wrong, (
                f"routes that did not answer 503 store_unavailable with Retry-After within "
                f"{ANSWER_WITHIN_SECONDS:.0f} s while PostgreSQL was down:\n{lines(wrong)}"
            )

            # What was refused for the outage goes through once it is over, sent again with its key.
            retried = await calls.until_final(
                "POST", "/subscriptions", operator, json=during_booking, idempotency_key=booking_key, seconds=30
            )
            assert retried.status == 201, str(retried)
            booked.append(f"{customer}-{app_id}")
            changed = await calls.until_final(
                "PUT",
                f"/subscriptions/{booked[0]}/payment-method",
                operator,
                json=DIRECT_DEBIT,
                idempotency_key=method_key,
                seconds=30,
            )
            assert changed.status == 200 and changed.body["payment_method"].startswith("direct_debit"), str(changed)

            for subscription in booked:
                view = await calls.call("GET", f"/subscriptions/{subscription}", operator)
                assert view.status == 200 and view.body["status"] == "trialing", str(view)
            await each_booking_recorded_once(database_url, booked)
            await booked_once_in_temporal(stack.temporal, app_id, set(booked))
            await audit_settles(calls, auditor)
            await one_accepted_booking_entry(calls, auditor, set(booked))
            assert not calls.internal_errors(), f"500s answered:\n{lines(calls.internal_errors())}"


async def each_booking_recorded_once(database_url: str, booked: list[str]) -> None:
    """The activities the outage interrupted complete: one store row and one provisioning call per booking."""
    expected = Counter({(subscription, "row"): 1 for subscription in booked})
    expected.update({(subscription, "provision"): 1 for subscription in booked})

    async def recorded() -> Counter[tuple[str, str]]:
        subscriptions = await rows(database_url, "SELECT subscription_id FROM subscriptions")
        calls = await rows(database_url, "SELECT subscription_id FROM connector_calls WHERE action = 'provision'")
        found = Counter((str(subscription), "row") for (subscription,) in subscriptions)
        found.update((str(subscription), "provision") for (subscription,) in calls)
        return found

    found, ok = await poll(recorded, lambda found: found == expected, seconds=CATCH_UP_SECONDS)
    assert ok, f"store after the outage: missing {expected - found}, more than once {found - expected}"
