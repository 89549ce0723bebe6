"""What the fault tests do through the API and check afterwards: every request and its answer recorded (a 5xx anywhere
is a finding), bookings and commands retried with their Idempotency-Key as a careful client would, and the checks
every test ends with: the audit chain settles, every booked subscription exists once in Temporal with one accepted
entry."""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx
from temporalio.client import Client

from domain.ids import subscription_workflow_id
from tests.faults.processes import poll

API = "/api/v1"
RETRYABLE = frozenset({HTTPStatus.ACCEPTED, HTTPStatus.SERVICE_UNAVAILABLE})
AUDIT_SETTLE_SECONDS = 30.0  # recovery and sequencing run in the background
OUTAGE_CODES = frozenset({"temporal_unavailable", "command_not_taken_up", "store_unavailable"})


@dataclass
class Answer:
    """One request and what came back; `status` None when no answer came (connection refused or reset, timeout)."""

    method: str
    path: str
    status: int | None
    body: Any
    headers: dict[str, str]
    seconds: float
    began: float  # time.monotonic() when it was sent
    error: str | None = None
    idempotency_key: str | None = None

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code"))
        return None

    @property
    def retry_after(self) -> str | None:
        return self.headers.get("retry-after")

    def __str__(self) -> str:
        what = self.status if self.status is not None else f"no answer ({self.error})"
        key = f" [Idempotency-Key {self.idempotency_key}]" if self.idempotency_key else ""
        body = str(self.body)[:300]
        return f"{self.method} {self.path}{key} -> {what} in {self.seconds:.2f}s {body}"


@dataclass
class Calls:
    """An HTTP client on the API that records every answer."""

    base_url: str
    timeout: float = 60.0
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.timeout,
            trust_env=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self, method: str, path: str, api_key: str, *, json: Any = None, idempotency_key: str | None = None
    ) -> Answer:
        headers = {"Authorization": f"Bearer {api_key}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        began = time.monotonic()
        try:
            response = await self.http.request(method, f"{API}{path}", json=json, headers=headers)
        except httpx.HTTPError as error:
            answer = Answer(
                method,
                path,
                None,
                None,
                {},
                time.monotonic() - began,
                began,
                f"{type(error).__name__}: {error}",
                idempotency_key,
            )
        else:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text[:500]
            answer = Answer(
                method,
                path,
                response.status_code,
                body,
                dict(response.headers),
                time.monotonic() - began,
                began,
                None,
                idempotency_key,
            )
        self.answers.append(answer)
        return answer

    async def until_final(
        self,
        method: str,
        path: str,
        api_key: str,
        *,
        json: Any = None,
        idempotency_key: str,
        seconds: float = 60.0,
        retry_unanswered: bool = True,
    ) -> Answer:
        """Sends the command until it has a final answer, with the same Idempotency-Key and body each time, as the
        API asks of a client that got 202 (still being carried out) or 503 (retry later), or no answer."""
        deadline = time.monotonic() + seconds
        while True:
            answer = await self.call(method, path, api_key, json=json, idempotency_key=idempotency_key)
            final = answer.status is not None and answer.status not in RETRYABLE
            if final or time.monotonic() > deadline or (answer.status is None and not retry_unanswered):
                return answer
            await asyncio.sleep(0.5)

    def server_errors(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status is not None and answer.status >= 500]

    def internal_errors(self) -> list[Answer]:
        """5xx that are not a documented outage answer (503 with Retry-After and an outage code)."""
        return [
            answer
            for answer in self.server_errors()
            if not (answer.status == 503 and answer.code in OUTAGE_CODES and answer.retry_after)
        ]


def unfinished(answers: Iterable[Answer]) -> list[Answer]:
    """Every answer to the commands whose last answer is not final (202, 503 or none): what is still pending."""
    by_key: dict[str, list[Answer]] = {}
    for answer in answers:
        if answer.idempotency_key is not None:
            by_key.setdefault(answer.idempotency_key, []).append(answer)
    pending = [tried for tried in by_key.values() if tried[-1].status is None or tried[-1].status in RETRYABLE]
    return [answer for tried in pending for answer in tried]


def lines(answers: Iterable[Answer], limit: int = 40) -> str:
    listed = list(answers)
    shown = "\n".join(f"  {answer}" for answer in listed[:limit])
    return shown + (f"\n  ... and {len(listed) - limit} more" if len(listed) > limit else "")


# --- subscriptions -----------------------------------------------------------------------------

CARD = {"type": "credit_card", "token": "tok_success"}
DIRECT_DEBIT = {
    "type": "direct_debit",
    "iban": "DE89370400440532013000",
    "mandate_reference": "MANDATE-0001",
    "account_holder": "Beispiel GmbH",
}


def new_customer() -> str:
    return f"c-{uuid.uuid4().hex[:10]}"


def booking(customer: str, app_id: str) -> dict[str, Any]:
    return {
        "customer": {"id": customer, "name": "Beispiel GmbH", "employees": 42, "telekom_customer_number": "12345678"},
        "app_id": app_id,
        "term_months": 1,
        "payment_method": CARD,
    }


def new_key(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex}"


# --- afterwards --------------------------------------------------------------------------------


async def audit_log(calls: Calls, auditor: str, **filters: str) -> list[dict[str, Any]]:
    """Every entry matching `filters`, across pages."""
    entries: list[dict[str, Any]] = []
    page_token: str | None = None
    while True:
        query = "&".join(f"{name}={value}" for name, value in {**filters, "page_size": "500"}.items())
        answer = await calls.call(
            "GET", f"/audit/log?{query}" + (f"&page_token={page_token}" if page_token else ""), auditor
        )
        assert answer.status == 200, str(answer)
        entries += answer.body["items"]
        page_token = answer.body["next_page_token"]
        if page_token is None:
            return entries


async def audit_settles(calls: Calls, auditor: str, *, cross_check: bool = True) -> dict[str, Any]:
    """The chain verifies with nothing queued and no command unresolved (polled: recovery and sequencing run in the
    background), and, against the dev server, every command Temporal accepted has its entry."""

    async def verify() -> Answer:
        return await calls.call("GET", "/audit/verify", auditor)

    def settled(answer: Answer) -> bool:
        body = answer.body if answer.status == 200 else {}
        return bool(body.get("ok")) and body.get("queued") == 0 and body.get("unresolved_commands") == 0

    answer, ok = await poll(verify, settled, seconds=AUDIT_SETTLE_SECONDS)
    assert ok, f"the audit log did not settle within {AUDIT_SETTLE_SECONDS:.0f} s: {answer}"
    if cross_check:
        checked = await calls.call("GET", "/audit/verify?cross_check=true", auditor)
        assert checked.status == 200, str(checked)
        missing = checked.body["cross_check"]["missing_count"]
        assert missing == 0, f"commands Temporal accepted without an entry: {checked}"
    body: dict[str, Any] = answer.body
    return body


async def subscription_runs(client: Client, app_id: str) -> Counter[str]:
    """How many runs (fresh starts, not continue-as-new) each subscription workflow of `app_id` has in Temporal."""
    runs: Counter[str] = Counter()
    query = f"WorkflowType = 'SubscriptionWorkflow' AND AppId = '{app_id}'"
    async for execution in client.list_workflows(query):
        runs[execution.id] += 1
    return runs


async def booked_once_in_temporal(client: Client, app_id: str, booked: set[str]) -> None:
    """Each subscription booked (answered 201) exists in Temporal with exactly one run, and no other subscription of
    the app exists: nothing lost, nothing twice, nothing that was never answered."""
    expected = {subscription_workflow_id(subscription): 1 for subscription in booked}

    async def read() -> Counter[str]:
        return await subscription_runs(client, app_id)

    runs, ok = await poll(read, lambda found: dict(found) == expected, seconds=15)
    missing = sorted(set(expected) - set(runs))
    unexpected = sorted(set(runs) - set(expected))
    twice = {workflow: count for workflow, count in runs.items() if count > 1}
    assert ok, (
        f"Temporal does not hold exactly the booked subscriptions: missing {missing}, never answered 201 "
        f"{unexpected}, more than one run {twice}"
    )
    for workflow in expected:  # visibility agrees with the workflows themselves
        await client.get_workflow_handle(workflow).describe()


def _died_before_it_took_effect(entry: dict[str, Any]) -> bool:
    """An entry recovery wrote for a request whose process died before the command reached Temporal."""
    return entry["outcome"] == "failed" and str(entry["detail"] or "").startswith("not_applied")


async def one_accepted_booking_entry(
    calls: Calls, auditor: str, booked: set[str], *, repeats: frozenset[str] = frozenset({"replayed"})
) -> None:
    """Every booked subscription has exactly one accepted `subscription.book` entry; every other entry of a booking
    request under the same Idempotency-Key reads `replayed` (or, where `repeats` allows it, `failed`: an attempt that
    was answered 503 and did not take effect, before a retry did), or is a request that died before its command took
    effect, which recovery recorded as `not_applied` before the client's retry came (after a restart, recovery and
    the retries race: a retry that comes first settles the dead request as `replayed` instead)."""
    entries = await audit_log(calls, auditor, action="subscription.book")
    by_target: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_target.setdefault(entry["target"], []).append(entry)
    wrong: list[str] = []
    for subscription in sorted(booked):
        target = subscription_workflow_id(subscription)
        found = by_target.get(target, [])
        accepted = [entry for entry in found if entry["outcome"] == "accepted"]
        keys = {entry["idempotency_key"] for entry in accepted if entry["idempotency_key"]}
        others = [
            entry
            for entry in found
            if entry["outcome"] != "accepted"
            and entry["idempotency_key"] in keys
            and entry["outcome"] not in repeats
            and not _died_before_it_took_effect(entry)
        ]
        if len(accepted) != 1 or others:
            summary = [(e["outcome"], e["status_code"], e["detail"], e["idempotency_key"]) for e in found]
            wrong.append(f"{target}: {summary}")
    problems = "\n".join(wrong)
    assert not wrong, f"bookings without exactly one accepted entry (or with a non-replayed repeat):\n{problems}"


@contextlib.asynccontextmanager
async def recording(base_url: str, request_timeout: float = 60.0) -> AsyncIterator[Calls]:
    calls = Calls(base_url, request_timeout)
    try:
        yield calls
    finally:
        await calls.close()
