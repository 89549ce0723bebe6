"""kill -9 of the main job (`python -m devstack`: its dev server, worker and API) while eight clients book
subscriptions with Idempotency-Keys; after a restart on the same data, every booking retried with its key and body
is answered 201 with the booking it names, and each booking exists and is audited exactly once."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.faults.calls import (
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
from tests.faults.stack import main_job

pytestmark = pytest.mark.faults

CLIENTS = 8
KILL_AFTER = 8  # bookings answered 201 before the kill, so the kill lands in a stream of them
RETRY_SECONDS = 30.0


async def test_the_main_job_killed_during_concurrent_bookings_answers_each_retry_with_its_one_booking(tmp_path: Path):
    async with main_job(tmp_path) as job, recording(job.api_url, request_timeout=30) as calls:
        operator, app_id = job.keys.operator, job.app_id
        sent: list[tuple[str, dict[str, Any], str]] = []  # (subscription, body, Idempotency-Key) of every booking
        first: dict[str, Answer] = {}  # Idempotency-Key -> the answer to its first attempt
        enough, killed = asyncio.Event(), asyncio.Event()

        async def client() -> None:
            """Books one new customer after another until the main job is gone."""
            while not killed.is_set():
                customer = new_customer()
                body, key = booking(customer, app_id), new_key("b")
                sent.append((f"{customer}-{app_id}", body, key))
                answer = await calls.call("POST", "/subscriptions", operator, json=body, idempotency_key=key)
                first[key] = answer
                if sum(1 for a in first.values() if a.status == 201) >= KILL_AFTER:
                    enough.set()
                if answer.status is None:
                    return

        clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
        try:
            await asyncio.wait_for(enough.wait(), 60)
        except TimeoutError:
            pytest.fail(f"the main job did not answer {KILL_AFTER} bookings in 60 s:\n{lines(calls.answers)}")
        await job.kill()
        killed.set()
        await asyncio.gather(*clients)

        job.start()
        await job.wait_ready()
        unanswered = [(subscription, body, key) for subscription, body, key in sent if first[key].status != 201]
        retries = await asyncio.gather(
            *(
                calls.until_final(
                    "POST", "/subscriptions", operator, json=body, idempotency_key=key, seconds=RETRY_SECONDS
                )
                for _, body, key in unanswered
            )
        )

        wrong = [
            f"{subscription}: {retry}"
            for (subscription, _, _), retry in zip(unanswered, retries, strict=True)
            if retry.status != 201 or not isinstance(retry.body, dict) or retry.body.get("id") != subscription
        ]
        assert not wrong, "retries of bookings the kill left unanswered, not answered 201 with their booking:\n" + (
            "\n".join(wrong)
        )
        refused = [a for a in calls.answers if a.code in ("subscription_exists", "idempotency_key_in_flight")]
        assert not refused, f"a retry was refused:\n{lines(refused)}"
        assert not calls.internal_errors(), f"500s answered:\n{lines(calls.internal_errors())}"

        booked = {subscription for subscription, _, key in sent if first[key].status == 201}
        booked |= {subscription for subscription, _, _ in unanswered}
        assert job.client is not None
        await booked_once_in_temporal(job.client, app_id, booked)
        await audit_settles(calls, job.keys.auditor)
        await one_accepted_booking_entry(calls, job.keys.auditor, booked)
