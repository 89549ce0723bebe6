"""24 concurrent clients against the API on SQLite, with the worker in a process of its own: bookings, commands and
reads mixed for about 20 s. No 5xx, every booking answered 201 exists once and is audited once, the chain verifies,
and no process ever met `database is locked`."""

import asyncio
import random
import time
from pathlib import Path

import pytest

from tests.faults.calls import (
    CARD,
    DIRECT_DEBIT,
    audit_settles,
    booked_once_in_temporal,
    booking,
    lines,
    new_customer,
    new_key,
    one_accepted_booking_entry,
    recording,
)
from tests.faults.stack import split_stack

pytestmark = pytest.mark.faults

CLIENTS = 24
SECONDS = 20.0


async def test_24_concurrent_clients_on_sqlite_get_no_5xx_and_each_booking_counts_once(tmp_path: Path):
    async with split_stack(tmp_path) as stack, recording(stack.api_url, request_timeout=60) as calls:
        operator, app_id = stack.keys.operator, stack.app_id
        booked: set[str] = set()
        end = time.monotonic() + SECONDS

        async def client(index: int) -> None:
            """A mix of what operators do: book, change a payment method, cancel, read."""
            rng = random.Random(index)
            own: list[str] = []  # this client's bookings that are still in their trial
            while time.monotonic() < end:
                roll = rng.random()
                if not own or roll < 0.3:
                    customer = new_customer()
                    body = booking(customer, app_id)
                    answer = await calls.call(
                        "POST", "/subscriptions", operator, json=body, idempotency_key=new_key("b")
                    )
                    if answer.status == 201:
                        booked.add(answer.body["id"])
                        own.append(answer.body["id"])
                    continue
                subscription = rng.choice(own)
                path = f"/subscriptions/{subscription}"
                if roll < 0.5:
                    method = rng.choice([CARD, DIRECT_DEBIT])
                    await calls.call(
                        "PUT", f"{path}/payment-method", operator, json=method, idempotency_key=new_key("pm")
                    )
                elif roll < 0.6:
                    await calls.call(
                        "POST", f"{path}/cancel", operator, json={"reason": "load"}, idempotency_key=new_key("c")
                    )
                    own.remove(subscription)
                elif roll < 0.75:
                    await calls.call("GET", path, operator)
                elif roll < 0.85:
                    await calls.call("GET", f"{path}/invoices", operator)
                elif roll < 0.95:
                    await calls.call("GET", "/apps", operator)
                else:
                    await calls.call("GET", f"/subscriptions?app_id={app_id}", operator)

        await asyncio.gather(*(client(index) for index in range(CLIENTS)))

        assert not calls.server_errors(), f"5xx answered:\n{lines(calls.server_errors())}"
        unanswered = [answer for answer in calls.answers if answer.status is None]
        assert not unanswered, f"requests without an answer:\n{lines(unanswered)}"
        assert booked, "no booking went through"
        await booked_once_in_temporal(stack.temporal, app_id, booked)
        await audit_settles(calls, stack.keys.auditor)
        await one_accepted_booking_entry(calls, stack.keys.auditor, booked)
        locked = stack.log_lines("database is locked")
        assert not locked, f"processes met 'database is locked': { {name: hits[:5] for name, hits in locked.items()} }"
