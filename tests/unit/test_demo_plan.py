"""The demo marketplace's plan (demo/plan.py): drawn by the seed alone, valid for the API, covering every state; and
`python -m demo`'s one-line failure when the API is not there."""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from demo.plan import Kind, Outcome, Scale, build_plan
from domain.catalogue import Category, CommercialTerms
from domain.ids import ONBOARDING_ID_PATTERN, SLUG_PATTERN
from domain.onboarding.config import StageId
from domain.onboarding.model import OnboardingRequest
from domain.partners.config import Tier
from domain.partners.model import ContractEvent, Enrolment
from domain.payments import iban_is_valid
from domain.subscription.model import BookingRequest, SubscriptionStatus
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def test_the_same_seed_draws_the_same_marketplace_and_another_seed_another() -> None:
    assert build_plan(5, Scale.DEFAULT) == build_plan(5, Scale.DEFAULT)
    assert build_plan(5, Scale.DEFAULT) != build_plan(6, Scale.DEFAULT)


@pytest.mark.parametrize("scale", list(Scale))
def test_every_body_is_one_the_api_accepts(scale: Scale) -> None:
    plan = build_plan(3, scale)
    for onboarding in plan.onboardings:
        request = OnboardingRequest.model_validate(onboarding.request)
        assert re.fullmatch(ONBOARDING_ID_PATTERN, onboarding.id)
        assert re.fullmatch(SLUG_PATTERN, request.app.id) and re.fullmatch(SLUG_PATTERN, request.isv.id)
        CommercialTerms.model_validate(onboarding.terms)
    for sub in plan.subscriptions:
        booking = BookingRequest.model_validate(sub.body)
        assert re.fullmatch(ONBOARDING_ID_PATTERN, sub.id)
        if booking.payment_method is not None and booking.payment_method.type == "direct_debit":
            assert iban_is_valid(sub.body["payment_method"]["iban"])
    for partner in plan.partners:
        Enrolment.model_validate(partner.enrolment)
        for event in partner.contracts:
            ContractEvent.model_validate(event)
    assert len({sub.id for sub in plan.subscriptions}) == len(plan.subscriptions)
    assert len({o.app_id for o in plan.onboardings}) == len(plan.onboardings)


def test_the_default_marketplace_covers_every_category_stage_status_and_tier() -> None:
    plan = build_plan(1, Scale.DEFAULT)
    apps_per_isv = Counter(onboarding.isv_id for onboarding in plan.onboardings)
    assert len(apps_per_isv) >= 20 and set(apps_per_isv.values()) == {1, 2}
    assert {onboarding.category for onboarding in plan.onboardings} == set(Category)
    assert {onboarding.category for onboarding in plan.live} == set(Category)  # the catalogue shows them all
    left_open = [o for o in plan.onboardings if o.outcome in (Outcome.IN_PROGRESS, Outcome.ON_HOLD)]
    assert {o.stage for o in left_open} == set(StageId)
    assert {o.outcome for o in plan.onboardings} == set(Outcome)
    assert len(plan.live) >= 10
    assert any(o.days_ago > 42 for o in left_open)  # overdue by the SLA

    assert 90 <= len(plan.subscriptions) <= 110
    assert {sub.expected_status for sub in plan.subscriptions} == set(SubscriptionStatus)
    live_terms = {o.app_id: {p["term_months"] for p in o.terms["plans"]} for o in plan.live}
    for sub in plan.subscriptions:
        assert sub.body["term_months"] in live_terms[sub.app_id]  # only live apps, on a term they offer
    assert sum(1 for sub in plan.subscriptions if sub.body.get("channel_partner_id")) >= 5
    assert all(40 <= sub.days_ago <= 200 for sub in plan.subscriptions if sub.kind == Kind.PAYING)

    assert len(plan.partners) == 12
    assert {partner.tier for partner in plan.partners} == set(Tier)
    assert any("legacy_level" in partner.enrolment for partner in plan.partners)


def test_an_unreachable_api_ends_the_command_with_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "demo", "--api-url", url, "--scale", "small"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"demo: the API at {url} is unreachable"), done.stderr
