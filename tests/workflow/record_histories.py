"""Records the replay corpus: each workflow type's main paths, run for real on the time-skipping server.

`scripts/record-histories` runs it (docs/workflow-changes.md). Each path runs the real workflows and activities of
the worker against a throwaway SQLite store, the sandbox payment gateway and the local ISV connector, as the
workflow tests do, and saves every run's history as JSON in tests/workflow/histories/corpus/<label>/, where
tests/workflow/test_replay_corpus.py replays them with the current code. Payloads are encrypted with the
development key, the one the tests replay with.
"""

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from api import partner_backtests
from api.workflow_commands import CommandRef
from devstack import time_skipping_server
from domain.ids import partner_workflow_id
from domain.onboarding.config import StageId
from domain.onboarding.model import (
    AdvanceCommand,
    HoldCommand,
    OnboardingStatus,
    RejectCommand,
    ResumeCommand,
)
from domain.partners.backtest import BacktestRequest
from domain.partners.config import Tier
from domain.partners.model import DecideReview, PartnerStatus, ReviewDecision
from domain.partners.policy import PartnerPolicy
from domain.payments import TokenizedMethod
from domain.payouts import StatementStatus, payout_workflow_id
from domain.subscription.model import (
    CancelCommand,
    ChangePaymentMethodCommand,
    ChangePlanCommand,
    ExportRequestCommand,
    ReinstateCommand,
    SubscriptionStatus,
    SuspensionReason,
)
from settings import Settings, get_settings
from store import migrate
from store.db import create_engine, create_session_factory
from tests.conftest import test_settings
from tests.workflow.conftest import PM, Harness, pass_stage, tick_stage, walk_to
from tests.workflow.partner_harness import ACCOUNT_MANAGER, licences, partner_harness
from tests.workflow.replay import CORPUS
from tests.workflow.subscription_harness import METHODS, OPERATOR, subscription_harness
from tests.workflow.test_partner_workflow import bad_quarters, close_first_year
from tests.workflow.test_payout_workflow import JANUARY, LEDGER, Payouts, book
from worker import create_worker
from workflows.onboarding import OnboardingWorkflow
from workflows.partner import PartnerProgramWorkflow
from workflows.subscription import SubscriptionWorkflow

# File stem (<workflow>_<path>[_run<n>]) -> history.
Recorded = dict[str, WorkflowHistory]
# One workflow type's paths, on a fresh server (its own clock) with a fresh migrated store.
Recorder = Callable[[WorkflowEnvironment, str, Path], Awaitable[Recorded]]


class PathFailed(RuntimeError):
    """A path did not reach the state it is recorded for: its history would not show what its name says."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise PathFailed(what)


async def runs(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of `workflow_id`, first to latest, following continue-as-new (the time-skipping server lists
    no executions, so the chain is read from the histories)."""
    latest = await client.get_workflow_handle(workflow_id).fetch_history()
    run_id = latest.events[0].workflow_execution_started_event_attributes.first_execution_run_id
    histories = []
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return histories
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id


async def chain(client: Client, workflow_id: str, name: str, least: int) -> Recorded:
    """The runs of one execution chain as `<name>_run1`, `<name>_run2`, ...; at least `least` of them."""
    histories = await runs(client, workflow_id)
    expect(len(histories) >= least, f"{name}: {len(histories)} runs, expected at least {least}")
    return {f"{name}_run{number}": history for number, history in enumerate(histories, start=1)}


async def onboardings(env: WorkflowEnvironment, database_url: str, workdir: Path) -> Recorded:
    harness = Harness(env, test_settings(database_url))
    async with create_worker(env.client, harness.settings):
        live = await harness.start(app="crm-live")
        await walk_to(live, StageId.GO_LIVE)
        await tick_stage(live, StageId.GO_LIVE)
        await live.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM, comment="listed"))
        expect((await live.result()).status == OnboardingStatus.LIVE, "onboarding_live: not live")

        rejected = await harness.start(app="crm-rejected")
        await pass_stage(rejected, StageId.IDENTIFICATION)
        await rejected.execute_update(OnboardingWorkflow.reject, RejectCommand(actor=PM, reason="hosting outside EU"))
        expect((await rejected.result()).status == OnboardingStatus.REJECTED, "onboarding_rejected: not rejected")

        # Held for 20 days, resumed, a stage reminder after the shifted deadline, the next stage; left running.
        held = await harness.start(app="crm-held")
        await held.execute_update(OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="ISV restructuring"))
        await env.sleep(timedelta(days=20))
        await held.execute_update(OnboardingWorkflow.resume, ResumeCommand(actor=PM))
        await env.sleep(timedelta(days=6))
        expect(bool((await held.query(OnboardingWorkflow.view)).notifications), "onboarding_held: no reminder")
        view = await pass_stage(held, StageId.IDENTIFICATION)
        expect(view.status == OnboardingStatus.IN_PROGRESS, f"onboarding_held_resumed: {view.status}")
        return {
            "onboarding_live": await live.fetch_history(),
            "onboarding_rejected": await rejected.fetch_history(),
            "onboarding_held_resumed": await held.fetch_history(),
        }


async def subscriptions(env: WorkflowEnvironment, database_url: str, workdir: Path) -> Recorded:
    async with subscription_harness(env, database_url, workdir / "exports") as subs:
        # A monthly term renews (continues as new) every month: trial, paid, the card then declines at the
        # renewal's invoice, dunning, suspended for non-payment, a new card and reinstatement, the next renewal.
        lifecycle = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
        await subs.sleep_days(31)
        expect((await subs.view(lifecycle)).status == SubscriptionStatus.ACTIVE, "trial: not paid")
        declined = TokenizedMethod(type="credit_card", token="tok_declined")
        await subs.latest(lifecycle).execute_update(
            SubscriptionWorkflow.change_payment_method,
            ChangePaymentMethodCommand(actor=OPERATOR, payment_method=declined),
        )
        await subs.sleep_days(31)
        view = await subs.view(lifecycle)
        expect(view.term_number == 2 and view.dunning is not None, "renewal: no dunning of the renewal's invoice")
        await subs.sleep_days(8)
        view = await subs.view(lifecycle)
        expect(view.suspension_reason == SuspensionReason.NON_PAYMENT, "dunning: not suspended for non-payment")
        latest = subs.latest(lifecycle)
        await latest.execute_update(
            SubscriptionWorkflow.change_payment_method,
            ChangePaymentMethodCommand(actor=OPERATOR, payment_method=TokenizedMethod(**METHODS["credit_card"])),
        )
        view = await latest.execute_update(SubscriptionWorkflow.reinstate, ReinstateCommand(actor=OPERATOR))
        expect(view.status == SubscriptionStatus.ACTIVE, "suspended: not reinstated")
        await subs.sleep_days(30)
        expect((await subs.view(lifecycle)).term_number == 3, "reinstated: no next renewal")
        # Read now: waiting on the next path's result moves the server's clock through more renewals.
        recorded = await chain(subs.client, lifecycle.id, "subscription_trial_paid_renewal_dunning_reinstated", 3)

        # Cancelled in the trial (suspend mode at once), an export with its fee, terminated after 30 days.
        exported = await subs.book(payment_method=METHODS["credit_card"])
        await exported.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR, reason="no need"))
        await exported.execute_update(
            SubscriptionWorkflow.request_export, ExportRequestCommand(actor=OPERATOR, export_id="exp-1")
        )
        await subs.sleep_days(31)
        terminated = await exported.result()
        expect(terminated.status == SubscriptionStatus.TERMINATED and bool(terminated.exports), "export: not ended")
        recorded |= {"subscription_export_terminated": await exported.fetch_history()}

        # Plan changes: in the trial (at once), an upgrade mid-period (prorated), then a downgrade that takes effect
        # when the upgraded 12-month term renews (continued as new).
        changing = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
        await changing.execute_update(SubscriptionWorkflow.change_plan, plan_of(1, 2_490))
        await subs.sleep_days(31 + 10)
        await changing.execute_update(SubscriptionWorkflow.change_plan, plan_of(12, 1_490))
        view = await changing.execute_update(SubscriptionWorkflow.change_plan, plan_of(1, 2_490))
        expect(view.scheduled_plan_change is not None, "plan changes: no downgrade scheduled")
        await subs.sleep_days(360)
        view = await subs.view(changing)
        expect((view.term_number, view.term_months) == (2, 1), "plan changes: the downgrade did not take effect")
        recorded |= await chain(subs.client, changing.id, "subscription_plan_changes", 2)

        # A dearer monthly price (an upgrade at the same term), then a cancellation: the contract ends with the
        # proration still pending.
        ending = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
        await subs.sleep_days(31 + 10)
        view = await ending.execute_update(SubscriptionWorkflow.change_plan, plan_of(1, 2_590))
        expect(view.pending_proration_cents > 0, "proration at contract end: nothing pending")
        await ending.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR, reason="closing"))
        await subs.sleep_days(25)
        expect((await subs.view(ending)).status == SubscriptionStatus.SUSPENDED, "proration at contract end: running")
        return recorded | {"subscription_proration_at_contract_end": await ending.fetch_history()}


def plan_of(term_months: int, monthly_price_cents: int) -> ChangePlanCommand:
    return ChangePlanCommand(actor=OPERATOR, term_months=term_months, monthly_price_cents=monthly_price_cents)


async def partners(env: WorkflowEnvironment, database_url: str, workdir: Path) -> Recorded:
    async with partner_harness(env, database_url) as harness:
        # Points, the year end (a tier decision, continued as new), three bad quarters, a review, terminated.
        handle = await harness.enrol(last_year_points=0)
        await harness.record(handle, licences("lic-1", 160))
        year = await close_first_year(harness, handle)
        await bad_quarters(harness, handle, 3)
        expect((await harness.view(handle)).open_review is not None, "partner: no termination review")
        latest = harness.latest(handle)
        await latest.execute_update(
            PartnerProgramWorkflow.decide_review,
            DecideReview(actor=ACCOUNT_MANAGER, decision=ReviewDecision.TERMINATE, note="quality"),
        )
        expect((await latest.result()).status == PartnerStatus.TERMINATED, "partner: not terminated")
        partner = (await harness.view(handle)).id
        recorded = await chain(harness.client, partner_workflow_id(partner), "partner_year_end_review_terminated", 2)

        # That year replayed under a stricter policy (its 8,000 points fall short of advanced), as the API starts it.
        stricter = BacktestRequest(year=year, policy=PartnerPolicy(tier_thresholds={Tier.ADVANCED: 9_000}))
        command = CommandRef(actor=ACCOUNT_MANAGER, command_id="record-histories", at=await harness.now())
        sessions, queue = create_session_factory(harness.engine), harness.settings.task_queue
        started = await partner_backtests.start(harness.client, sessions, queue, stricter, command)
        backtest = harness.client.get_workflow_handle(partner_backtests.workflow_id(started.id))
        await backtest.result()
        lines = (await partner_backtests.read(sessions, started.id)).lines or []
        expect([line.move for line in lines] == ["lower"], f"backtest: {[line.move for line in lines]}")
        return recorded | {"policy_backtest_stricter_year": await backtest.fetch_history()}


async def payouts(env: WorkflowEnvironment, database_url: str, workdir: Path) -> Recorded:
    settings = test_settings(database_url)
    engine = create_engine(database_url)
    try:
        async with create_worker(env.client, settings):
            harness = Payouts(env, settings, create_session_factory(engine))
            await book(harness.sessions, *LEDGER)
            result = await harness.run(JANUARY)
            statuses = {statement.status for statement in result.statements}
            expect(statuses == {StatementStatus.TRANSFERRED}, f"payout: statements {statuses}")
            return {"payout_month": await env.client.get_workflow_handle(payout_workflow_id(JANUARY)).fetch_history()}
    finally:
        await engine.dispose()


RECORDERS: dict[str, Recorder] = {
    "onboarding": onboardings,
    "subscription": subscriptions,
    "partner": partners,  # and a policy backtest of the partner's year
    "payout": payouts,
}


def require_development_key(settings: Settings) -> None:
    """The tests replay with the development key: a corpus encrypted with another one would not decrypt there."""
    development = Settings.model_construct()
    key_id = settings.payload_encryption_key_id
    active = settings.payload_encryption_keys.get(key_id)
    expected = development.payload_encryption_keys[development.payload_encryption_key_id]
    if key_id != development.payload_encryption_key_id or active is None or active != expected:
        raise SystemExit("record with the development payload key: unset PAYLOAD_ENCRYPTION_KEYS and _KEY_ID")


async def migrated_store(workdir: Path) -> str:
    url = f"sqlite+aiosqlite:///{workdir / 'partnerflow.db'}"
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    return url


async def record(name: str) -> Recorded:
    """One workflow type's paths, on a server and in a store of their own."""
    with tempfile.TemporaryDirectory() as workdir:
        async with time_skipping_server() as env:
            return await RECORDERS[name](env, await migrated_store(Path(workdir)), Path(workdir))


def save(recorded: Recorded, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for stem, history in recorded.items():
        path = out / f"{stem}.json"
        path.write_text(history.to_json())
        print(f"{path}  {len(history.events)} events  {path.stat().st_size // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/record-histories", description=__doc__.splitlines()[0])
    parser.add_argument("types", nargs="*", metavar="TYPE", help=f"what to record: {', '.join(RECORDERS)} (all)")
    parser.add_argument(
        "--out",
        type=Path,
        default=CORPUS / datetime.now(UTC).strftime("%Y-%m-%d"),
        help="directory for the JSON files (default: a directory of the corpus named after today's date)",
    )
    arguments = parser.parse_args()
    unknown = set(arguments.types) - set(RECORDERS)
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}; choose from {', '.join(RECORDERS)}")
    require_development_key(get_settings())
    for name in arguments.types or RECORDERS:
        save(asyncio.run(record(name)), arguments.out)
    sys.stdout.flush()
    # The SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300); all work is done.
    os._exit(0)


if __name__ == "__main__":
    main()
