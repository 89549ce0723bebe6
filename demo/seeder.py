"""Creates a demo Plan on a running stack.

Everything goes through the API over HTTP as the roles' keys, with an Idempotency-Key derived from the plan for every
command, so a second run with the same seed replays the first one's answers instead of failing. Only history that
lies in the past cannot be made through the API: those onboardings and subscriptions are started with the API's own
start functions (api/onboarding_service.py, api/subscription_service.py) and a command time in the past, which the
workflows take as their start (`OnboardingInput.started_at`, `SubscriptionInput.booked_at`) and catch up from.
"""

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, TypeVar

import httpx
from temporalio.client import Client

from api.errors import ApiError
from api.onboarding_service import start as start_onboarding
from api.subscription_service import book as book_subscription
from api.workflow_commands import CommandRef
from demo.plan import ADVANCE_COMMENTS, Kind, OnboardingPlan, Outcome, PartnerPlan, Plan, SubscriptionPlan
from domain.onboarding.config import ENDPOINT_ITEM, ONBOARDING, CriterionSource, StageId
from domain.onboarding.model import OnboardingRequest
from domain.roles import Role
from domain.subscription.model import BookedPlan, BookingRequest, SubscriptionStatus
from settings import ApiKeyGrant

API = "/api/v1"
PM, OPERATOR, AM = Role.PARTNER_MANAGER, Role.OPERATOR, Role.ACCOUNT_MANAGER
ROLES = (PM, OPERATOR, AM)
# A command answered 202 (accepted, still running) or 503 (not taken up yet) is sent again with its key for this
# long; a command waits up to 15 s for its workflow each time (COMMAND_WAIT_SECONDS).
RESEND_SECONDS = 120.0
POLL_SECONDS = 1.0
MAX_PAGES = 50  # of 100 items: a list read never runs away on a stack full of other data

T = TypeVar("T")


class MissingKey(Exception):
    """API_KEYS has no key for a role the demo acts in (and no admin key to stand in)."""


class Refused(Exception):
    """The API refused a command for the state things are in: a 409, or an Idempotency-Key this caller used before
    for another body (a plan changed since). The object is left as it is and the run goes on."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code = status, code


class ApiFailure(Exception):
    """An answer the demo cannot carry on from (a 4xx other than a refusal, a 5xx): a bug or a broken stack."""


@dataclass(frozen=True)
class Caller:
    key: str
    subject: str


def callers_from(api_keys: Mapping[str, ApiKeyGrant]) -> dict[Role, Caller]:
    """For each role the demo acts in, a key holding it (the first by key, so runs pick the same one), else an admin
    key, which may do everything."""

    def holding(role: Role) -> Caller | None:
        found = [Caller(key, grant.subject) for key, grant in sorted(api_keys.items()) if role in grant.roles]
        return found[0] if found else None

    callers = {}
    for role in ROLES:
        caller = holding(role) or holding(Role.ADMIN)
        if caller is None:
            raise MissingKey(f"API_KEYS has no key with the role {role.value} (nor admin)")
        callers[role] = caller
    return callers


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool  # the stored first answer to this Idempotency-Key: an earlier run did it


class Api:
    """The API as the demo calls it: one key per role, and an Idempotency-Key for every command."""

    def __init__(self, http: httpx.AsyncClient, callers: Mapping[Role, Caller], key_prefix: str) -> None:
        self.http = http
        self.callers = callers
        self._prefix = key_prefix

    def idempotency_key(self, step: str) -> str:
        key = f"{self._prefix}-{step}"
        # The header takes 200 characters; a longer step is named by its hash, as stable across runs.
        return key if len(key) <= 200 else f"{self._prefix}-{hashlib.sha256(step.encode()).hexdigest()}"

    def _auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.callers[role].key}"}

    async def get(self, role: Role, path: str, params: Mapping[str, str | int] | None = None) -> Any | None:
        """The body of a read; None when there is no such object (404)."""
        response = await self.http.get(path, params=params, headers=self._auth(role))
        if response.status_code == HTTPStatus.NOT_FOUND:
            return None
        if not response.is_success:
            raise ApiFailure(f"GET {path} answered {response.status_code}: {_error_text(response)}")
        return response.json()

    async def send(self, role: Role, method: str, path: str, body: Any, step: str) -> Answer:
        headers = {**self._auth(role), "Idempotency-Key": self.idempotency_key(step)}
        deadline = time.monotonic() + RESEND_SECONDS
        while True:
            response = await self.http.request(method, path, json=body, headers=headers)
            status = response.status_code
            if status in (HTTPStatus.ACCEPTED, HTTPStatus.SERVICE_UNAVAILABLE):
                if time.monotonic() > deadline:
                    raise ApiFailure(f"{method} {path} was still not carried out after {RESEND_SECONDS:g} s ({status})")
                # The documented way to learn the outcome: send it again with the same key (README, Errors).
                await asyncio.sleep(min(float(response.headers.get("retry-after", POLL_SECONDS)), 5.0))
                continue
            if response.is_success:
                replayed = response.headers.get("idempotent-replayed") == "true"
                return Answer(status, response.json(), replayed)
            code, message = _error_of(response)
            if status == HTTPStatus.CONFLICT or code == "idempotency_key_reused":
                raise Refused(status, code, message)
            raise ApiFailure(f"{method} {path} answered {status}: {code}: {message}")

    async def list_all(self, role: Role, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every item of a list from visibility, page by page."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            query: dict[str, str | int] = {**params, "page_size": 100}
            if token:
                query["page_token"] = token
            page = await self.get(role, path, query)
            assert page is not None, f"{path} is a list"
            items += page["items"]
            token = page.get("next_page_token")
            if not token:
                break
        return items


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "unexpected_answer", response.text[:200]


def _error_text(response: httpx.Response) -> str:
    return ": ".join(_error_of(response))


@dataclass
class Report:
    """What the run did, and what the API lists show of the plan's objects at its end."""

    seconds: float = 0.0
    created: Counter[str] = field(default_factory=Counter)  # by "onboardings", "subscriptions", ...
    existing: Counter[str] = field(default_factory=Counter)  # made by an earlier run: replayed or found
    left_as_is: list[str] = field(default_factory=list)  # refused: another run's object under the same id
    behind: list[str] = field(default_factory=list)  # subscriptions whose list status had not caught up in time
    onboardings: list[dict[str, Any]] = field(default_factory=list)  # list items
    subscriptions: list[dict[str, Any]] = field(default_factory=list)  # list items
    partners: list[dict[str, Any]] = field(default_factory=list)  # views
    apps: list[dict[str, Any]] = field(default_factory=list)  # catalogue entries


class Seeder:
    def __init__(
        self,
        api: Api,
        temporal: Client,
        task_queue: str,
        plan: Plan,
        *,
        concurrency: int = 8,
        log: Callable[[str], None] = print,
    ) -> None:
        self.api = api
        self.temporal = temporal
        self.task_queue = task_queue
        self.plan = plan
        self.log = log
        self.report = Report()
        self._gate = asyncio.Semaphore(concurrency)
        # One "now" for the whole run: every "days ago" of the plan counts back from it.
        self._now = datetime.now(UTC)
        self._apps: dict[str, dict[str, Any] | None] = {}
        self._fresh: set[str] = set()  # subscriptions this run made, whose status it waits for

    async def run(self, wait_seconds: float) -> Report:
        began = time.monotonic()
        plan = self.plan
        self.log(
            f"seeding {len(plan.partners)} partners and {len(plan.onboardings)} onboardings "
            f"({len(plan.live)} to go live) ..."
        )
        # Partners first, so those that sell subscriptions exist when their first payment signals them.
        first: list[PartnerPlan | OnboardingPlan] = [*plan.partners, *plan.onboardings]
        await self._each(first, self._partner_or_onboarding)
        self.log(f"booking {len(plan.subscriptions)} subscriptions ...")
        await self._each(plan.subscriptions, self._subscription)
        self.log(f"waiting up to {wait_seconds:g} s for the worker to catch up on the backdated subscriptions ...")
        listed = await self._wait_for_statuses(time.monotonic() + wait_seconds)
        await self._each(
            [sub for sub in plan.subscriptions if sub.kind == Kind.CANCEL_AT_TERM_END],
            lambda sub: self._cancel_at_term_end(sub, listed),
        )
        await self._read_back()
        self.report.seconds = time.monotonic() - began
        return self.report

    async def _each(self, items: Iterable[T], flow: Callable[[T], Awaitable[None]]) -> None:
        """Runs `flow` for every item, a few at a time; the first failure cancels the rest."""

        async def gated(item: T) -> None:
            async with self._gate:
                await flow(item)

        try:
            async with asyncio.TaskGroup() as group:
                for item in items:
                    group.create_task(gated(item))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the first cause, as a plain call would raise it

    def _tally(self, kind: str, answer_replayed: bool) -> None:
        (self.report.existing if answer_replayed else self.report.created)[kind] += 1

    def _left(self, what: str, refused: Refused) -> None:
        self.report.left_as_is.append(f"{what}: {refused}")

    def _ago(self, days: float) -> datetime:
        return self._now - timedelta(days=days)

    async def _partner_or_onboarding(self, item: PartnerPlan | OnboardingPlan) -> None:
        if isinstance(item, PartnerPlan):
            await self._partner(item)
        else:
            await self._onboarding(item)

    # --- channel partners ---------------------------------------------------------------------

    async def _partner(self, partner: PartnerPlan) -> None:
        try:
            answer = await self.api.send(AM, "POST", f"{API}/partners", partner.enrolment, f"partner-{partner.id}")
            self._tally("partners", answer.replayed)
            for event in partner.contracts:
                path = f"{API}/partners/{partner.id}/contracts"
                await self.api.send(AM, "POST", path, event, f"contract-{partner.id}-{event['reference_id']}")
        except Refused as refused:
            self._left(f"partner {partner.id}", refused)

    # --- onboardings --------------------------------------------------------------------------

    async def _onboarding(self, onboarding: OnboardingPlan) -> None:
        try:
            await self._start(onboarding)
            stages = [spec.id for spec in ONBOARDING.stages]
            for stage in stages[: stages.index(onboarding.stage)]:
                await self._pass_stage(onboarding, stage)
            if onboarding.outcome == Outcome.LIVE:
                await self._pass_stage(onboarding, StageId.GO_LIVE)  # publishes the app
                return
            if onboarding.terms_in_stage:
                await self._set_terms(onboarding)
            for item in onboarding.ticks:
                await self._tick(onboarding, item)
            if onboarding.outcome in (Outcome.ON_HOLD, Outcome.REJECTED):
                action = "hold" if onboarding.outcome == Outcome.ON_HOLD else "reject"
                await self._command(onboarding, "POST", action, {"reason": onboarding.reason})
        except Refused as refused:
            self._left(f"onboarding {onboarding.id}", refused)

    async def _start(self, onboarding: OnboardingPlan) -> None:
        step = f"onboarding-{onboarding.id}"
        if onboarding.days_ago and await self.api.get(PM, f"{API}/onboardings/{onboarding.id}") is None:
            # Started in the past: the API's own start, with the command's time set back.
            command = CommandRef(
                actor=self.api.callers[PM].subject,
                command_id=self.api.idempotency_key(step),
                at=self._ago(onboarding.days_ago),
            )
            try:
                await start_onboarding(
                    self.temporal, self.task_queue, OnboardingRequest.model_validate(onboarding.request), command
                )
            except ApiError as error:
                raise Refused(error.status, error.code, error.message) from error
        # For a backdated start this is the same command sent again, which the API answers as the run that command
        # started (its memo names the key): it claims the app id and writes the audit entry, as a start does.
        answer = await self.api.send(PM, "POST", f"{API}/onboardings", onboarding.request, step)
        self._tally("onboardings", answer.replayed)

    async def _pass_stage(self, onboarding: OnboardingPlan, stage: StageId) -> None:
        if stage == StageId.COMMERCIAL:
            await self._set_terms(onboarding)
        for criterion in ONBOARDING.stage(stage).criteria:
            if criterion.source == CriterionSource.CHECKLIST:
                await self._tick(onboarding, criterion.id)
        comment = {"comment": ADVANCE_COMMENTS[stage]}
        await self._command(onboarding, "POST", "advance", comment, step=f"advance-{stage.value}")

    async def _set_terms(self, onboarding: OnboardingPlan) -> None:
        await self._command(onboarding, "PUT", "commercial-terms", onboarding.terms)

    async def _tick(self, onboarding: OnboardingPlan, item: str) -> None:
        # "local": the embedded connector, so the connector test passes with no ISV online.
        body = {"value": "local"} if item == ENDPOINT_ITEM else {}
        await self._command(onboarding, "POST", f"checklist/{item}", body)

    async def _command(
        self, onboarding: OnboardingPlan, method: str, action: str, body: Any, step: str | None = None
    ) -> None:
        path = f"{API}/onboardings/{onboarding.id}/{action}"
        await self.api.send(PM, method, path, body, f"onboarding-{onboarding.id}-{step or action}")

    # --- subscriptions ------------------------------------------------------------------------

    async def _subscription(self, sub: SubscriptionPlan) -> None:
        try:
            if sub.backdated:
                await self._book_backdated(sub)
            else:
                answer = await self.api.send(OPERATOR, "POST", f"{API}/subscriptions", sub.body, f"sub-{sub.id}")
                self._tally("subscriptions", answer.replayed)
                if not answer.replayed:
                    self._fresh.add(sub.id)
            if sub.kind == Kind.TRIAL_CANCELLED:
                await self._sub_command(sub, "cancel", {"reason": sub.reason})
                if sub.export:
                    await self._sub_command(sub, "export-request", {})
        except Refused as refused:
            self._left(f"subscription {sub.id}", refused)

    async def _book_backdated(self, sub: SubscriptionPlan) -> None:
        """The API's own booking, with the command's time set back, so the workflow catches up on the trial, billing
        periods and suspend mode that lie in the past. Not sent through the API afterwards as onboardings are: a
        subscription that has already ended may be booked again under its id, which would start a new one."""
        if await self.api.get(OPERATOR, f"{API}/subscriptions/{sub.id}") is not None:
            self._tally("subscriptions", True)
            return
        request = BookingRequest.model_validate(sub.body)
        command = CommandRef(
            actor=self.api.callers[OPERATOR].subject,
            command_id=self.api.idempotency_key(f"sub-{sub.id}"),
            at=self._ago(sub.days_ago),
        )
        try:
            await book_subscription(self.temporal, self.task_queue, request, await self._booked_plan(request), command)
        except ApiError as error:
            raise Refused(error.status, error.code, error.message) from error
        self._tally("subscriptions", False)
        self._fresh.add(sub.id)

    async def _booked_plan(self, request: BookingRequest) -> BookedPlan:
        """The catalogue's terms as the API reads them for a booking, here from its catalogue endpoint."""
        if request.app_id not in self._apps:
            self._apps[request.app_id] = await self.api.get(OPERATOR, f"{API}/apps/{request.app_id}")
        app = self._apps[request.app_id]
        if app is None:
            raise Refused(HTTPStatus.CONFLICT, "app_not_live", f"app {request.app_id} is not in the catalogue")
        prices = {plan["term_months"]: plan["monthly_price_cents"] for plan in app["plans"]}
        if request.term_months not in prices:
            message = f"{app['id']} has no {request.term_months}-month plan"
            raise Refused(HTTPStatus.CONFLICT, "plan_not_offered", message)
        return BookedPlan(
            app_id=app["id"],
            app_name=app["name"],
            isv_id=app["isv_id"],
            term_months=request.term_months,
            monthly_price_cents=prices[request.term_months],
            revenue_share_percent=app["revenue_share_percent"],
            trial_days=app["trial_days"],
        )

    async def _sub_command(self, sub: SubscriptionPlan, action: str, body: Any) -> None:
        await self.api.send(OPERATOR, "POST", f"{API}/subscriptions/{sub.id}/{action}", body, f"sub-{sub.id}-{action}")

    async def _cancel_at_term_end(self, sub: SubscriptionPlan, listed: Mapping[str, dict[str, Any]]) -> None:
        """Cancelled once its contract runs (cancelling a trial would end it at once): active until the term ends."""
        if listed.get(sub.id, {}).get("status") != SubscriptionStatus.ACTIVE:
            self.log(f"  {sub.id} is not active yet: left without its cancellation")
            return
        try:
            await self._sub_command(sub, "cancel", {"reason": sub.reason})
        except Refused as refused:
            self._left(f"subscription {sub.id}", refused)

    async def _listed_subscriptions(self) -> dict[str, dict[str, Any]]:
        """The plan's subscriptions as the list shows them, read app by app (ids of the demo's own apps)."""
        wanted = {sub.id for sub in self.plan.subscriptions}
        listed: dict[str, dict[str, Any]] = {}
        for app_id in sorted({sub.app_id for sub in self.plan.subscriptions}):
            for item in await self.api.list_all(OPERATOR, f"{API}/subscriptions", {"app_id": app_id}):
                if item["id"] in wanted:
                    listed[item["id"]] = item
        return listed

    async def _wait_for_statuses(self, deadline: float) -> dict[str, dict[str, Any]]:
        """Until the list shows every subscription this run made in the status its plan gives it, or the deadline.

        The lists are what the console shows; a backdated subscription gets there once the worker has caught up on its
        trial (and, for ended ones, suspend mode). Its later billing periods go on by themselves."""
        expected = {sub.id: sub.expected_status.value for sub in self.plan.subscriptions if sub.id in self._fresh}
        while True:
            listed = await self._listed_subscriptions()
            behind = sorted(sub for sub, status in expected.items() if listed.get(sub, {}).get("status") != status)
            if not behind or time.monotonic() >= deadline:
                self.report.behind = behind
                return listed
            await asyncio.sleep(POLL_SECONDS)

    # --- what the API shows at the end --------------------------------------------------------

    async def _read_back(self) -> None:
        plan, report = self.plan, self.report
        onboarding_ids = {onboarding.id for onboarding in plan.onboardings}
        for isv_id in plan.isv_ids:
            items = await self.api.list_all(PM, f"{API}/onboardings", {"isv_id": isv_id})
            report.onboardings += [item for item in items if item["id"] in onboarding_ids]
        report.subscriptions = list((await self._listed_subscriptions()).values())
        for partner in plan.partners:
            view = await self.api.get(AM, f"{API}/partners/{partner.id}")
            if view is not None:
                report.partners.append(view)
        for onboarding in plan.live:
            app = await self.api.get(OPERATOR, f"{API}/apps/{onboarding.app_id}")
            if app is not None:
                report.apps.append(app)


def summary(plan: Plan, report: Report, api_url: str) -> str:
    """A few readable lines: what the lists show of the demo's objects."""

    def counts(values: Iterable[str | None], order: Iterable[str] = ()) -> str:
        tally = Counter(value or "unknown" for value in values)
        keys = [key for key in order if key in tally] + sorted(set(tally) - set(order))
        return ", ".join(f"{key} {tally[key]}" for key in keys) or "none"

    stage_order = [spec.id.value for spec in ONBOARDING.stages]
    open_items = [item for item in report.onboardings if item["status"] in ("in_progress", "on_hold")]
    statuses = [status.value for status in SubscriptionStatus]
    tiers = ["expert_plus", "expert", "advanced", "basic"]
    sold = sum(1 for item in report.subscriptions if item.get("channel_partner_id"))
    points = sum(int(view["points"]) for view in report.partners)
    isvs = {item["isv_id"] for item in report.onboardings}
    lines = [
        f"Demo marketplace on {api_url} (seed {plan.seed}, scale {plan.scale.value}) in {report.seconds:.0f} s",
        f"  ISVs {len(isvs)}; apps live in the catalogue {len(report.apps)} "
        f"({len({app['category'] for app in report.apps})} categories)",
        f"  onboardings {len(report.onboardings)}: {counts(i['status'] for i in report.onboardings)}",
        f"    open by stage: {counts((i['stage'] for i in open_items), stage_order)}",
        f"    open by SLA: {counts((i['sla_status'] for i in open_items), ['on_track', 'at_risk', 'overdue'])}",
        f"  subscriptions {len(report.subscriptions)}: "
        f"{counts((i['status'] for i in report.subscriptions), statuses)} ({sold} sold by channel partners)",
        f"  channel partners {len(report.partners)}: {counts((v['tier'] for v in report.partners), tiers)}; "
        f"{points:,} points this year",
    ]
    created = ", ".join(f"{count} {kind}" for kind, count in sorted(report.created.items())) or "nothing"
    existing = sum(report.existing.values())
    lines.append(f"  created {created}" + (f"; {existing} were there from an earlier run" if existing else ""))
    if report.left_as_is:
        # "partner x: partner_exists: ..." -> by code: another run's objects under the same ids, mostly.
        codes = Counter(entry.split(": ")[1] for entry in report.left_as_is)
        lines.append(f"  left as they were ({len(report.left_as_is)}, refused by the API): {counts(codes.elements())}")
    if report.behind:
        lines.append(
            f"  still catching up ({len(report.behind)}; they get there by themselves): " + ", ".join(report.behind[:5])
        )
    return "\n".join(lines)
