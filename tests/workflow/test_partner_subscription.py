"""A marketplace subscription sold by a channel partner earns the partner points when it becomes paid."""

from datetime import timedelta

from domain.partners.config import ContractKind
from domain.subscription.model import SubscriptionStatus
from store import models
from tests.workflow.partner_harness import PartnerHarness
from tests.workflow.subscription_harness import METHODS, PRICE_CENTS, SubscriptionHarness


async def test_a_paid_subscription_sold_by_a_partner_awards_its_points_once(
    subs: SubscriptionHarness, partners: PartnerHarness
):
    partner = await partners.enrol(last_year_points=0)
    partner_id = (await partners.view(partner)).id
    subscription = await subs.book(term_months=1, payment_method=METHODS["credit_card"], channel_partner_id=partner_id)

    await subs.sleep_days(31 + 31)  # paid at the trial's end, and again a month later: points once
    await partners.env.sleep(timedelta(seconds=5))

    assert (await subs.view(subscription)).status == SubscriptionStatus.ACTIVE
    expected = 100 + 2 * PRICE_CENTS // 100  # the catalogue: 100 + 2 per euro of monthly value
    rows = await partners.rows(models.PointsLedgerEntry, partner_id=partner_id)
    subscription_id = (await subs.view(subscription)).id
    assert [(row.kind, row.actor, row.points) for row in rows] == [
        (ContractKind.MARKETPLACE_SUBSCRIPTION.value, f"subscription-{subscription_id}", expected)
    ]
    view = await partners.view(partner)
    # The session's shared test clock may have crossed a year end since the enrolment: count every year.
    assert view.points + sum(decision.points for decision in view.decisions) == expected
