"""The demo-data command's seeder (`python -m demo`) at small scale, against the API, a worker and a real dev server
(lists need visibility, and backdated subscriptions catch up in real time there as on `scripts/run`'s stack)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from demo.plan import Outcome, Plan, Scale, build_plan
from demo.seeder import AM, PM, Api, Report, Seeder, callers_from, summary
from domain.onboarding.config import StageId
from domain.partners.config import Tier
from domain.subscription.model import SubscriptionStatus
from tests.api.conftest import serving
from tests.conftest import local_dev_server

SEED = 11


@pytest_asyncio.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Plan, Report, Report]]:
    """The small marketplace seeded twice with one seed (the second run must replay, not fail), on a dev server of its
    own: the demo's objects stay out of the lists other tests read, and theirs out of the demo's."""
    async with local_dev_server() as env, serving(env, tmp_path_factory.mktemp("demo")) as served:
        callers = callers_from(served.settings.api_keys)
        plan = build_plan(SEED, Scale.SMALL, callers[PM].subject, callers[AM].subject)
        api = Api(served.http, callers, key_prefix="demo-test")
        task_queue = served.settings.task_queue
        first = await Seeder(api, env.client, task_queue, plan, log=print).run(wait_seconds=30)
        again = await Seeder(api, env.client, task_queue, plan, log=print).run(wait_seconds=0)
        print(summary(plan, first, "asgi"))
        yield plan, first, again


def by(items: list[dict[str, Any]], field: str) -> dict[str, Any]:
    return {item["id"]: item[field] for item in items}


async def test_every_stage_sla_and_outcome_of_onboarding_is_listed(seeded: tuple[Plan, Report, Report]) -> None:
    plan, report, _ = seeded
    assert report.left_as_is == []
    listed = {item["id"]: item for item in report.onboardings}
    assert set(listed) == {onboarding.id for onboarding in plan.onboardings}
    open_items = [item for item in listed.values() if item["status"] in ("in_progress", "on_hold")]
    assert {item["stage"] for item in open_items} == {stage.value for stage in StageId}
    assert {item["status"] for item in listed.values()} == {outcome.value for outcome in Outcome}
    assert {"at_risk", "overdue"} <= {item["sla_status"] for item in open_items}
    for onboarding in plan.onboardings:
        assert listed[onboarding.id]["status"] == onboarding.outcome.value, onboarding.id
    # The live ones are in the catalogue, bookable.
    assert sorted(app["id"] for app in report.apps) == sorted(onboarding.app_id for onboarding in plan.live)


async def test_every_subscription_shows_its_planned_status(seeded: tuple[Plan, Report, Report]) -> None:
    plan, report, _ = seeded
    assert report.behind == []
    statuses = by(report.subscriptions, "status")
    assert statuses == {sub.id: sub.expected_status.value for sub in plan.subscriptions}
    assert set(statuses.values()) == {status.value for status in SubscriptionStatus}
    sold = by(report.subscriptions, "channel_partner_id")
    assert all(sold[sub.id] == sub.body.get("channel_partner_id") for sub in plan.subscriptions)


async def test_partners_are_enrolled_in_every_tier_with_their_contracts(seeded: tuple[Plan, Report, Report]) -> None:
    plan, report, _ = seeded
    assert {view["tier"] for view in report.partners} == {tier.value for tier in Tier}
    views = {view["id"]: view for view in report.partners}
    for partner in plan.partners:
        assert views[partner.id]["tier"] == partner.tier.value
        # Its contract events, and a marketplace subscription's points if it sold one that was paid already.
        assert views[partner.id]["events_counted"] >= len(partner.contracts)


async def test_a_second_run_with_the_same_seed_replays_what_is_there(seeded: tuple[Plan, Report, Report]) -> None:
    plan, first, again = seeded
    assert first.created == {"partners": 4, "onboardings": 8, "subscriptions": 8}
    assert again.created == {}
    assert again.existing == first.created
    assert again.left_as_is == []
    assert by(again.subscriptions, "status") == by(first.subscriptions, "status")
    assert by(again.onboardings, "stage") == by(first.onboardings, "stage")
    assert "subscriptions 8: trialing 2, active 3, suspended 2, terminated 1" in summary(plan, again, "asgi")
