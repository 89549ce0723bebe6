"""`partnerflow` against a real stack: what people read, what scripts parse, and how it fails."""

import json
import re
import uuid
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

from domain.ids import onboarding_workflow_id
from domain.partners.backtest import BacktestLine, Move
from domain.partners.config import PROGRAMME, Tier
from domain.partners.model import TierChange
from domain.partners.policy import PartnerPolicy
from domain.partners.rules import programme_year
from store import models
from store.db import create_engine, create_session_factory
from tests.api.conftest import ISV_A, new_partner_id, publish_app
from tests.cli.conftest import Stack
from tests.ports import free_port

FEASIBILITY = ["technical_assessment_passed", "eu_hosting_confirmed", "data_export_confirmed"]


async def start_onboarding(stack: Stack) -> str:
    app = f"crm-{uuid.uuid4().hex[:8]}"
    outcome = await stack.invoke(
        "onboardings", "start", "--isv", ISV_A, "--isv-name", "Acme Software GmbH",
        "--email", "partners@acme.example", "--app", app, "--app-name", "Acme CRM",
        "--category", "crm_customer_management", "--partner-manager", "pm-anna",
    )  # fmt: skip
    assert outcome.code == 0, outcome
    return f"{ISV_A}-{app}"


def value_of(block: str, label: str) -> str | None:
    """What a `label   value` line of a block shows."""
    for line in block.splitlines():
        found = re.match(rf"{re.escape(label)} {{2,}}(.*)$", line)
        if found:
            return found.group(1)
    return None


def test_the_installed_script_is_the_cli():
    (script,) = entry_points(group="console_scripts", name="partnerflow")
    assert script.value == "cli.app:main"
    assert callable(script.load())


async def test_an_onboarding_reads_as_stage_sla_and_a_checklist_with_ticks(stack: Stack):
    onboarding = await start_onboarding(stack)
    await stack.invoke("onboardings", "advance", onboarding)
    await stack.invoke("onboardings", "tick", onboarding, "eu_hosting_confirmed", "--comment", "Frankfurt")

    shown = await stack.run("onboardings", "show", onboarding)

    assert shown.code == 0, shown
    lines = shown.stdout.splitlines()
    assert (value_of(shown.stdout, "stage") or "").startswith("feasibility (2 of 5), ")
    assert value_of(shown.stdout, "SLA") == "on_track"
    assert (value_of(shown.stdout, "stage due") or "").endswith("(in 7 d)")  # the feasibility budget
    # feasibility, commercial, integration and go-live by their budgets: 7 + 10 + 14 + 6 days
    assert (value_of(shown.stdout, "predicted go-live") or "").endswith("(in 37 d) (from stage budgets)")
    assert "feasibility: Feasibility check (Machbarkeitsprüfung), 7 days  <- current stage" in shown.stdout
    assert any("[x] eu_hosting_confirmed" in line and "pm-anna" in line for line in lines)
    assert any("[ ] technical_assessment_passed" in line for line in lines)
    assert shown.stderr == ""


async def test_a_refusal_names_its_status_in_words_and_the_unmet_criteria_and_exits_1(stack: Stack):
    onboarding = await start_onboarding(stack)
    await stack.invoke("onboardings", "advance", onboarding)

    refused = await stack.run("onboardings", "advance", onboarding)

    assert refused.code == 1
    assert refused.stdout == ""
    first, *details = refused.stderr.splitlines()
    assert first.startswith("409 Conflict: criteria_unmet — stage feasibility cannot be left")
    assert "  unmet: technical_assessment_passed, eu_hosting_confirmed, data_export_confirmed" in details
    assert "Traceback" not in refused.stderr


async def test_json_prints_the_answer_for_scripts_and_the_error_body_of_a_refusal(stack: Stack):
    onboarding = await start_onboarding(stack)

    shown = await stack.run("onboardings", "show", onboarding, "--json")
    refused = await stack.run("onboardings", "tick", onboarding, "sso_tested", "--json")

    assert shown.code == 0
    view = json.loads(shown.stdout)
    assert view["id"] == onboarding and view["stage"] == "identification"
    assert refused.code == 1
    assert json.loads(refused.stdout)["error"]["code"] == "item_not_in_current_stage"
    assert refused.stderr.startswith("409 Conflict: item_not_in_current_stage")


async def test_the_key_comes_from_the_environment_and_the_option_overrides_it(stack: Stack):
    from_env = await stack.run("me", role="auditor")
    overridden = await stack.run("--key", "key-nobody", "me", role="auditor")
    without = await stack.run("me", role=None)

    assert from_env.code == 0 and "auditor-aurel" in from_env.stdout
    assert overridden.code == 1 and overridden.stderr.startswith("401 Unauthorized: ")
    assert without.code == 1 and "PARTNERFLOW_API_KEY" in without.stderr


async def test_an_unreachable_api_is_one_line_and_exit_3(stack: Stack):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    outcome = await stack.run("onboardings", "list", env={"PARTNERFLOW_URL": url})

    assert outcome.code == 3
    assert outcome.stdout == ""
    assert outcome.stderr.splitlines() == [outcome.stderr.strip()]
    assert outcome.stderr.startswith(f"cannot reach Partnerflow at {url} (is scripts/run running?)")


async def test_a_usage_error_exits_2(stack: Stack):
    outcome = await stack.invoke("onboardings", "terms", "acme-crm", "--share", "70", "--plan", "12")
    assert outcome.code == 2
    assert "MONTHS=EUROS" in outcome.stderr


async def test_a_subscription_is_booked_shown_and_cancelled(stack: Stack):
    app_id = await publish_app(stack.api.settings.database_url, ISV_A)
    subscription = f"beispiel-{app_id}"

    booked = await stack.invoke(
        "subscriptions", "book", "--customer", "beispiel", "--customer-name", "Beispiel GmbH", "--employees", "42",
        "--app", app_id, "--term", "12", "--method", "credit_card", "--token", "tok_success", role="operator",
    )  # fmt: skip
    shown = await stack.run("subscriptions", "show", subscription, role="operator")
    cancelled = await stack.invoke("subscriptions", "cancel", subscription, "--reason", "trial only", role="operator")
    invoices = await stack.invoke("subscriptions", "invoices", subscription, role="operator")

    assert booked.code == 0, booked
    assert shown.code == 0, shown
    assert value_of(shown.stdout, "status") == "trialing"
    assert value_of(shown.stdout, "price") == "14.90 EUR a month, net"
    assert value_of(shown.stdout, "payment method") and "tok_success" not in shown.stdout  # masked
    assert cancelled.code == 0, cancelled
    assert value_of(cancelled.stdout, "status") == "suspended (cancelled)"
    assert "cancelled_in_trial" in cancelled.stdout and "trial only" in cancelled.stdout
    assert invoices.stdout.strip() == "(none)"  # nothing is billed in the trial


async def test_a_partner_is_enrolled_earns_points_once_per_reference_and_shows_its_tier(stack: Stack):
    partner = new_partner_id()
    enrolled = await stack.invoke(
        "partners", "enrol", partner, "--name", "Telesales Nord GmbH", "--account-manager", "am-arno",
        "--last-year-points", "8000", role="account_manager",
    )  # fmt: skip
    contract = ("partners", "contract", partner, "order-4711", "--kind", "new_customer_contract")
    first = await stack.invoke(*contract, "--monthly-value", "49.90", role="account_manager")
    again = await stack.invoke(*contract, "--monthly-value", "49.90", role="account_manager")
    shown = await stack.run("partners", "show", partner, role="account_manager")

    assert enrolled.code == 0, enrolled
    assert first.stdout.strip() == "order-4711: +599 points; 599 points this year"  # 500 + 2 per euro
    assert again.stdout.startswith("order-4711: counted before")
    assert value_of(shown.stdout, "tier") == "advanced"
    assert (value_of(shown.stdout, "points") or "").endswith("(1 event); last year 8,000")
    assert value_of(shown.stdout, "next tier") == "14,401 points to expert"


async def test_the_audit_log_filters_by_target_and_the_chain_verifies(stack: Stack):
    onboarding = await start_onboarding(stack)
    await stack.invoke("onboardings", "advance", onboarding)
    await stack.invoke("onboardings", "advance", onboarding)  # refused: criteria unmet

    verified = await stack.run("audit", "verify", role="auditor")
    logged = await stack.invoke("audit", "log", "--target", onboarding_workflow_id(onboarding), role="auditor")

    assert verified.code == 0, verified
    assert value_of(verified.stdout, "chain") == "intact"
    rows = [line.split() for line in logged.stdout.splitlines()[1:]]
    assert [row[4:6] for row in rows] == [["onboarding.start", onboarding_workflow_id(onboarding)]] + [
        ["onboarding.advance", onboarding_workflow_id(onboarding)]
    ] * 2
    assert rows[-1][6:] == ["refused", "409", "criteria_unmet"]


async def test_the_audit_log_filters_by_onboarding_id(stack: Stack):
    onboarding = await start_onboarding(stack)
    other = await start_onboarding(stack)

    logged = await stack.invoke("audit", "log", "--onboarding", onboarding, "--json", role="auditor")

    assert logged.code == 0, logged
    targets = {entry["target"] for entry in json.loads(logged.stdout)["items"]}
    assert targets == {onboarding_workflow_id(onboarding)}
    assert onboarding_workflow_id(other) not in targets


async def test_a_workflow_history_reads_as_a_timeline(stack: Stack):
    onboarding = await start_onboarding(stack)

    history = await stack.invoke("audit", "history", onboarding_workflow_id(onboarding), role="auditor")

    assert history.code == 0, history
    assert history.stdout.startswith(f"{onboarding_workflow_id(onboarding)} (OnboardingWorkflow)")
    assert any("pm-anna" in line and "workflow_started" in line for line in history.stdout.splitlines())


async def test_payout_statements_list_in_euros_page_by_page(stack: Stack):
    engine = create_engine(stack.api.settings.database_url)
    at = datetime(2026, 10, 1, 2, tzinfo=UTC)
    async with create_session_factory(engine).begin() as session:
        for isv, cents in (("cli-isv-a", 123_456), ("cli-isv-b", 9_900)):
            row = models.PayoutStatement(
                isv_id=isv, month="2020-01", amount_cents=cents, entries=3, status="transferred",
                transfer_id=f"tr-{isv}", created_at=at, transferred_at=at,
            )  # fmt: skip
            session.add(row)
    await engine.dispose()

    first = await stack.invoke("payouts", "list", "--month", "2020-01", "--page-size", "1", role="admin")
    every = await stack.invoke("payouts", "list", "--month", "2020-01", "--page-size", "1", "--all", role="admin")

    assert first.code == 0, first
    assert "cli-isv-a" in first.stdout and "1,234.56 EUR" in first.stdout and "cli-isv-b" not in first.stdout
    token = first.stdout.splitlines()[-1].removeprefix("more: --page-token ")
    second = await stack.invoke(
        "payouts", "list", "--month", "2020-01", "--page-size", "1", "--page-token", token, role="admin"
    )
    assert "cli-isv-b" in second.stdout and "99.00 EUR" in second.stdout and "more:" not in second.stdout
    assert "cli-isv-a" in every.stdout and "cli-isv-b" in every.stdout


async def test_hold_resume_reassign_untick_and_reject_from_the_command_line(stack: Stack):
    onboarding = await start_onboarding(stack)
    await stack.invoke("onboardings", "advance", onboarding)
    ticked = await stack.invoke("onboardings", "tick", onboarding, "eu_hosting_confirmed", "sso_tested")

    held = await stack.invoke("onboardings", "hold", onboarding, "--reason", "waiting for the ISV")
    resumed = await stack.invoke("onboardings", "resume", onboarding)
    reassigned = await stack.invoke("onboardings", "reassign", onboarding, "pm-bert", "--comment", "holiday")
    unticked = await stack.invoke("onboardings", "untick", onboarding, "eu_hosting_confirmed")
    rejected = await stack.invoke("onboardings", "reject", onboarding, "--reason", "no EU hosting")

    # Items are ticked in turn up to the first refusal: sso_tested belongs to a later stage.
    assert ticked.code == 1 and ticked.stderr.startswith("409 Conflict: item_not_in_current_stage")
    assert (value_of(held.stdout, "status") or "").startswith("on_hold since ")
    assert "[x] eu_hosting_confirmed" in held.stdout
    assert value_of(resumed.stdout, "status") == "in_progress"
    assert value_of(reassigned.stdout, "partner manager") == "pm-bert"
    assert "[ ] eu_hosting_confirmed" in unticked.stdout
    assert value_of(rejected.stdout, "status") == "rejected"


async def test_a_backtest_waits_for_its_result_and_downloads_as_csv(stack: Stack, tmp_path: Path):
    partner = new_partner_id()
    await stack.invoke(
        "partners", "enrol", partner, "--name", "Telesales Nord GmbH", "--account-manager", "am-arno",
        "--last-year-points", "8000", role="account_manager",
    )  # fmt: skip
    contract = ("partners", "contract", partner, "order-1", "--kind", "digital_phone_licenses", "--quantity", "12")
    assert (await stack.invoke(*contract, role="account_manager")).code == 0
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"tier_thresholds": {"advanced": 500}}))
    year = str(programme_year(datetime.now(UTC)))

    ran = await stack.invoke(
        "partners", "backtest", "--year", year, "--policy", str(policy), "--wait", role="account_manager"
    )

    assert ran.code == 0, ran
    assert (value_of(ran.stdout, "status") or "").startswith("completed, 100% done")
    [row] = [line.split() for line in ran.stdout.splitlines() if line.strip().startswith(partner)]
    assert row[:6] == [partner, "600", "advanced", "basic", "advanced", "higher"]  # 12 licences: 600 points
    backtest = (value_of(ran.stdout, "backtest") or "").split(":")[0]
    table = await stack.invoke("partners", "backtest-show", backtest, "--csv", role="admin")
    assert table.stdout.splitlines()[0].startswith("partner_id,start_tier,points_today,points_alternative")
    refused = await stack.invoke("partners", "backtest-show", backtest, role="pm")
    assert refused.code == 1 and refused.stderr.startswith("403 Forbidden")


async def test_a_backtest_is_shown_with_every_line_whatever_the_api_pages(stack: Stack):
    backtest, partners = f"bt-{uuid.uuid4().hex[:20]}", 130  # the API answers 100 lines a page
    await seed_completed_backtest(stack, backtest, [f"p-{number:03d}" for number in range(partners)])

    shown = await stack.invoke("partners", "backtest-show", backtest, "--json", role="admin")

    assert shown.code == 0, shown
    view = json.loads(shown.stdout)
    assert [line["partner_id"] for line in view["lines"]] == [f"p-{number:03d}" for number in range(partners)]
    assert view["next_page_token"] is None


TODAYS_POLICY = PartnerPolicy.of(PROGRAMME).model_dump(mode="json")


async def seed_completed_backtest(stack: Stack, backtest: str, partners: list[str]) -> None:
    """A completed backtest's rows, as its workflow leaves them (totals aside): one line per partner."""
    engine = create_engine(stack.api.settings.database_url)
    async with create_session_factory(engine).begin() as session:
        session.add(
            models.PartnerBacktest(
                id=backtest, year=2026, policy=TODAYS_POLICY, status="completed", partners_total=len(partners),
                partners_done=len(partners), totals=None, created_by="am-arno", command_id=backtest,
                created_at=datetime.now(UTC), completed_at=datetime.now(UTC),
            )
        )  # fmt: skip
        for partner in partners:
            line = BacktestLine(
                partner_id=partner, start_tier=Tier.BASIC, points_today=0, points_alternative=0,
                tier_today=Tier.BASIC, tier_alternative=Tier.BASIC, change_today=TierChange.KEEP,
                change_alternative=TierChange.KEEP, reviews_today=0, reviews_alternative=0, move=Move.SAME, why="kept",
            )  # fmt: skip
            session.add(models.PartnerBacktestLine(backtest_id=backtest, **line.model_dump(mode="json")))
    await engine.dispose()
