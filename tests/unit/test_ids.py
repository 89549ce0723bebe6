"""Business keys are slugs, and workflow ids are derived from them (docs/api.md)."""

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.ids import (
    ONBOARDING_ID_PATTERN,
    SLUG_PATTERN,
    OnboardingId,
    Slug,
    onboarding_id,
    onboarding_workflow_id,
)

SLUG = TypeAdapter(Slug)
ONBOARDING_ID = TypeAdapter(OnboardingId)


def test_the_slug_pattern_is_the_one_in_the_design():
    assert SLUG_PATTERN == r"^[a-z0-9][a-z0-9-]{1,62}$"


@pytest.mark.parametrize("slug", ["ab", "acme", "acme-crm", "0-", "9lives", "a1-b2-c3", "a" * 63])
def test_a_lowercase_slug_of_2_to_63_characters_is_accepted(slug):
    assert SLUG.validate_python(slug) == slug


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "a",  # too short
        "a" * 64,  # too long
        "-acme",  # must start with a letter or digit
        "Acme",  # upper case
        "acme_crm",  # underscore
        "acme crm",  # space
        "acme.crm",
        "acme/crm",
        "acmé",
        "acme\n",  # a trailing newline is not a slug
    ],
)
def test_a_slug_outside_the_pattern_is_refused(slug):
    with pytest.raises(ValidationError):
        SLUG.validate_python(slug)


def test_an_onboarding_is_named_by_its_isv_and_app():
    assert onboarding_id("acme", "acme-crm") == "acme-acme-crm"


def test_the_onboarding_workflow_id_is_onboarding_isv_app():
    assert onboarding_workflow_id(onboarding_id("acme", "acme-crm")) == "onboarding-acme-acme-crm"


def test_an_onboarding_id_of_two_maximal_slugs_is_valid():
    longest = onboarding_id("a" * 63, "b" * 63)
    assert len(longest) == 127
    assert ONBOARDING_ID.validate_python(longest) == longest
    assert re.fullmatch(ONBOARDING_ID_PATTERN, longest)


@pytest.mark.parametrize("value", ["a" * 128, "Acme-crm", "-acme-crm", "a", "acme_crm"])
def test_an_onboarding_id_outside_the_pattern_is_refused(value):
    with pytest.raises(ValidationError):
        ONBOARDING_ID.validate_python(value)


def test_every_onboarding_id_built_from_two_slugs_is_a_valid_onboarding_id():
    for isv, app in [("ab", "cd"), ("acme", "acme-crm"), ("0-", "9-")]:
        assert ONBOARDING_ID.validate_python(onboarding_id(isv, app))
