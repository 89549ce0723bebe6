"""`partnerflow subscriptions plan` and `uncancel` against a real stack."""

from tests.api.conftest import ISV_A, publish_app
from tests.cli.conftest import Stack
from tests.cli.test_cli import value_of


async def test_a_plan_is_changed_in_the_trial_and_a_cancellation_none_scheduled_is_refused(stack: Stack):
    app_id = await publish_app(stack.api.settings.database_url, ISV_A)
    subscription = f"kunde-{app_id}"
    booked = await stack.invoke(
        "subscriptions", "book", "--customer", "kunde", "--customer-name", "Kunde GmbH", "--employees", "12",
        "--app", app_id, "--term", "1", "--method", "credit_card", "--token", "tok_success", role="operator",
    )  # fmt: skip
    assert booked.code == 0, booked

    changed = await stack.invoke("subscriptions", "plan", subscription, "--term", "12", role="operator")
    refused = await stack.invoke("subscriptions", "uncancel", subscription, role="operator")

    assert changed.code == 0, changed
    assert value_of(changed.stdout, "term") == "12 months"
    assert value_of(changed.stdout, "price") == "14.90 EUR a month, net"
    assert "plan_changed" in changed.stdout
    assert refused.code == 1
    assert refused.stderr.startswith("409 Conflict: not_cancelled")
