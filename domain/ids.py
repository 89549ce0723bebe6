"""Business keys and the workflow ids derived from them (docs/api.md)."""

from typing import Annotated

from pydantic import StringConstraints

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
# An onboarding is named "{isv}-{app}", so its id is two slugs long.
ONBOARDING_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,126}$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
OnboardingId = Annotated[str, StringConstraints(pattern=ONBOARDING_ID_PATTERN)]


def onboarding_id(isv_id: str, app_id: str) -> str:
    return f"{isv_id}-{app_id}"


def onboarding_workflow_id(onboarding: str) -> str:
    return f"onboarding-{onboarding}"


def partner_workflow_id(partner_id: str) -> str:
    return f"partner-{partner_id}"


def subscription_id(customer_id: str, app_id: str) -> str:
    return f"{customer_id}-{app_id}"


def subscription_workflow_id(subscription: str) -> str:
    return f"subscription-{subscription}"
