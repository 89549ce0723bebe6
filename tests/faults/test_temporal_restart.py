"""The Temporal dev server stopped and started again on the same port and state while bookings and commands go on:
during the outage the API answers 503 with Retry-After (never 500), afterwards new bookings work and nothing booked
before is lost or twice."""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.calls import (
    CARD,
    DIRECT_DEBIT,
    Answer,
    Calls,
    audit_settles,
    booked_once_in_temporal,
    booking,
    lines,
    new_customer,
    new_key,
    one_accepted_booking_entry,
    recording,
)
from tests.faults.stack import SplitStack, split_stack

pytestmark = pytest.mark.faults

CLIENTS = 4
BOOKED_BEFORE = 4
# The server stays down this long (after it has exited) while the clients go on: longer than the SDK's own retries of
# an unavailable server (10 s), so requests meet the outage rather than wait it out.
OUTAGE_SECONDS = 12.0
TEMPORAL_OUTAGE_CODES = frozenset({"temporal_unavailable", "command_not_taken_up"})
RECOVERY_SECONDS = 60.0  # from the restart until a new booking is answered 201


@dataclass
class Sent:
    """A command as the client sent it, to be sent again with the same key until it has a final answer."""

    method: str
    path: str
    body: Any
    key: str
    subscription: str
    answer: Answer


async def test_a_temporal_restart_answers_503_with_retry_after_and_loses_or_doubles_no_booking(tmp_path: Path):
    async with split_stack(tmp_path) as stack, recording(stack.api_url, request_timeout=60) as calls:
        operator = stack.keys.operator
        before = [await book(calls, stack) for _ in range(BOOKED_BEFORE)]
        assert all(sent.answer.status == 201 for sent in before), lines(sent.answer for sent in before)

        sent: list[Sent] = []
        stopping = asyncio.Event()

        async def client(index: int) -> None:
            """Books, changes a booked subscription's payment method and reads its view, in turn, until stopped."""
            turn = 0
            while not stopping.is_set():
                turn += 1
                subscription = before[(index + turn) % len(before)].subscription
                if turn % 3 == 0:
                    sent.append(await book(calls, stack))
                elif turn % 3 == 1:
                    method = DIRECT_DEBIT if turn % 2 else CARD
                    path = f"/subscriptions/{subscription}/payment-method"
                    key = new_key("pm")
                    answer = await calls.call("PUT", path, operator, json=method, idempotency_key=key)
                    sent.append(Sent("PUT", path, method, key, subscription, answer))
                else:
                    await calls.call("GET", f"/subscriptions/{subscription}", operator)
                await asyncio.sleep(0.05)

        clients = [asyncio.create_task(client(index)) for index in range(CLIENTS)]
        await asyncio.sleep(1.5)
        server = stack.server.service
        server.stop()  # SIGTERM; SIGKILL only if it does not stop in time
        await stack.server.wait_down()
        down_at = time.monotonic()
        await asyncio.sleep(OUTAGE_SECONDS)
        stack.server.start()
        up_at = time.monotonic()

        async def a_new_booking_works() -> bool:
            sent.append(await book(calls, stack))
            return sent[-1].answer.status == 201

        while not await a_new_booking_works():
            assert time.monotonic() < up_at + RECOVERY_SECONDS, (
                f"no booking was answered 201 within {RECOVERY_SECONDS:.0f} s of Temporal's restart "
                f"(worker alive: {stack.workers[0].alive()}):\n{lines(calls.answers[-20:])}"
            )
            await asyncio.sleep(0.5)
        stopping.set()
        await asyncio.gather(*clients)

        during = [answer for answer in calls.answers if down_at <= answer.began < up_at]
        assert any(answer.status == 503 for answer in during), f"no request met the outage:\n{lines(during)}"
        wrong = [
            answer
            for answer in calls.answers
            if answer.status is not None
            and answer.status >= 500
            and not (answer.status == 503 and answer.code in TEMPORAL_OUTAGE_CODES and answer.retry_after)
        ]
        assert not wrong, f"answers other than 503 with Retry-After for the outage:\n{lines(wrong)}"
        assert all(answer.status is not None for answer in calls.answers), (
            f"requests left without an answer:\n{lines(a for a in calls.answers if a.status is None)}"
        )

        # Every command that met the outage is sent again with its key until it has a final answer.
        for command in sent:
            if command.answer.status in (None, 202, 503):
                command.answer = await calls.until_final(
                    command.method, command.path, operator, json=command.body, idempotency_key=command.key, seconds=30
                )
        unfinished = [command.answer for command in sent if command.answer.status not in (200, 201)]
        assert not unfinished, f"commands that did not go through after the outage:\n{lines(unfinished)}"

        booked = {command.subscription for command in [*before, *sent] if command.method == "POST"}
        for subscription in sorted(booked):
            view = await calls.call("GET", f"/subscriptions/{subscription}", operator)
            assert view.status == 200 and view.body["status"] == "trialing", str(view)
        await booked_once_in_temporal(stack.temporal, stack.app_id, booked)
        await audit_settles(calls, stack.keys.auditor)
        # An attempt answered 503 that did not start its workflow is recorded as failed; its retry then counts.
        await one_accepted_booking_entry(calls, stack.keys.auditor, booked, repeats=frozenset({"replayed", "failed"}))
        assert not calls.internal_errors(), f"500s answered:\n{lines(calls.internal_errors())}"


async def book(calls: Calls, stack: SplitStack) -> Sent:
    customer, key = new_customer(), new_key("b")
    body = booking(customer, stack.app_id)
    answer = await calls.call("POST", "/subscriptions", stack.keys.operator, json=body, idempotency_key=key)
    return Sent("POST", "/subscriptions", body, key, f"{customer}-{stack.app_id}", answer)
