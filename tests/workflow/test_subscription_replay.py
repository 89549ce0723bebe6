"""Subscriptions recorded before a billing period became one activity (and a suspension's snapshot and notice one
more), and before a lifecycle step's snapshot and ISV connector call became one, still replay: `workflow.patched`
keeps running executions on the path they started on."""

import pytest

from tests.workflow.replay import HISTORIES, assert_replays, load_history


@pytest.mark.parametrize(
    "recorded",
    [
        # trial, 12 monthly invoices (issue, charge, record, book each), cancelled mid-term, suspend mode, terminated
        "subscription_12_month_lifecycle_before_settle_period.json",
        # declined card: dunning, suspension for non-payment, new card, reinstatement; a channel partner's points
        # pending; the first run of a monthly term, continued as new at renewal
        "subscription_dunning_reinstatement_before_settle_period.json",
        # cancelled in the trial, an export and its fee invoice in suspend mode, terminated
        "subscription_export_before_settle_period.json",
    ],
)
async def test_a_subscription_recorded_before_one_activity_per_billing_period_still_replays(recorded: str):
    await assert_replays(load_history(HISTORIES / recorded))


@pytest.mark.parametrize(
    "recorded",
    [
        # booked, 12 settled periods, cancelled mid-term, suspend mode at term end, terminated: each step's snapshot
        # and connector call (provision, suspend, deprovision) still two activities
        "subscription_12_month_lifecycle_before_record_and_call.json",
        # cancelled in the trial (suspend mode from an Update), terminated
        "subscription_cancelled_in_trial_before_record_and_call.json",
    ],
)
async def test_a_subscription_recorded_before_snapshot_and_connector_call_were_one_activity_still_replays(
    recorded: str,
):
    await assert_replays(load_history(HISTORIES / recorded))
