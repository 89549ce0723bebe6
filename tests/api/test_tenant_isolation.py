"""Tenant isolation (broken object level authorisation): a scoped caller, an ISV or a channel partner, gets for
another tenant's object exactly the answer it gets for an id that does not exist, and never sees another tenant's
objects in a list, whatever it filters by or whichever page token it sends.

The status codes of the main reads are checked in test_access.py, test_subscriptions_access.py,
test_partners_access.py and the list tests; this module checks what they leave open: that the whole 404 (code,
message, details, headers) is the same as for a missing id on every object route a scoped role may call, objects
nested under an own object that belong to another tenant, usage reports as a probe of partners, the catalogue's
confidential revenue share for a channel partner, and lists read in full and with a page token handed to staff.

The module runs on the dev server (lists need visibility) with an app of its own, so that its channel partner key
names a partner that no other module enrols.
"""

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from domain.ids import partner_workflow_id
from tests.api.conftest import (
    ISV_A,
    ISV_B,
    METHODS,
    RUN,
    Api,
    Partners,
    Subscriptions,
    auth,
    booking,
    enrolling,
    eventually,
    new_partner_id,
    seed_sold_subscription,
    serving,
)

# The channel partner of this module's "partner_x" key, and another channel partner.
PARTNER_X = f"iso-x-{RUN}"
PARTNER_Y = f"iso-y-{RUN}"
SCOPED_KEYS = {"partner_x": {"subject": "partner-x", "roles": ["channel_partner"], "partner_id": PARTNER_X}}


@pytest_asyncio.fixture(scope="module")
async def iso_api(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with serving(dev_server_env, tmp_path_factory.mktemp("isolation"), SCOPED_KEYS) as api:
        yield api


@pytest_asyncio.fixture
async def iso_subs(iso_api: Api) -> AsyncIterator[Subscriptions]:
    async with booking(iso_api) as subscriptions:
        yield subscriptions


@pytest_asyncio.fixture(scope="module")
async def scoped_partners(iso_api: Api) -> AsyncIterator[Partners]:
    """The partner of the module's key and another one, enrolled once (their ids are fixed for the module)."""
    async with enrolling(iso_api) as partners:
        for partner in (PARTNER_X, PARTNER_Y):
            await partners.enrol(partner_id=partner)
        yield partners


@pytest_asyncio.fixture
async def iso_partners(iso_api: Api) -> AsyncIterator[Partners]:
    async with enrolling(iso_api) as partners:
        yield partners


# --- the answer for another tenant's object is the answer for a missing one ---------------------


def _answer(response: httpx.Response, ids: Mapping[str, str]) -> dict[str, Any]:
    """A 404 with the ids it names replaced by their roles, and the names of its headers (minus the request's own)."""
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    message = error["message"]
    for ident, role in sorted(ids.items(), key=lambda item: -len(item[0])):  # longer ids first: one may contain another
        message = message.replace(ident, role)
    headers = sorted(name for name in response.headers if name not in {"content-length", "x-request-id"})
    return {"code": error["code"], "message": message, "details": error["details"], "headers": headers}


def assert_same_not_found(
    theirs: httpx.Response, their_ids: Mapping[str, str], missing: httpx.Response, missing_ids: Mapping[str, str]
) -> None:
    """Both are 404s, alike in everything but the ids they name: the answer tells nothing about existence."""
    assert _answer(theirs, their_ids) == _answer(missing, missing_ids)


def missing_subscription() -> str:
    return f"cust-{uuid.uuid4().hex[:8]}-crm-{uuid.uuid4().hex[:8]}"


async def exported(subs: Subscriptions, subscription: str) -> str:
    """Cancels the subscription (it suspends) and requests its data export; the export's id."""
    await subs.ok(subscription, "cancel")
    view = await subs.ok(subscription, "export-request")
    export_id: str = view["exports"][-1]["export_id"]
    return export_id


async def test_an_isv_gets_the_missing_answer_for_another_isvs_invoices_and_exports(iso_subs: Subscriptions):
    theirs = (await iso_subs.book(app_id=iso_subs.other_app_id, payment_method=METHODS["credit_card"]))["id"]
    export = await exported(iso_subs, theirs)
    missing = missing_subscription()

    # The subscription itself: test_subscriptions_access.py.
    for path in ("/invoices", f"/exports/{export}"):
        assert_same_not_found(
            await iso_subs.get(theirs, path, as_role="isv_a"),
            {theirs: "<subscription>"},
            await iso_subs.get(missing, path, as_role="isv_a"),
            {missing: "<subscription>"},
        )


async def test_another_isvs_export_is_not_found_under_an_own_subscription(iso_subs: Subscriptions):
    own = (await iso_subs.book(payment_method=METHODS["credit_card"]))["id"]
    own_export = await exported(iso_subs, own)
    theirs = (await iso_subs.book(app_id=iso_subs.other_app_id, payment_method=METHODS["credit_card"]))["id"]
    their_export = await exported(iso_subs, theirs)
    assert (await iso_subs.get(own, f"/exports/{own_export}", as_role="isv_a")).status_code == 200

    # An own subscription in the path does not open another ISV's export, by id, to the ISV or to anyone.
    missing_export = f"exp-{uuid.uuid4().hex}"
    for role in ("isv_a", "operator"):
        assert_same_not_found(
            await iso_subs.get(own, f"/exports/{their_export}", as_role=role),
            {own: "<subscription>", their_export: "<export>"},
            await iso_subs.get(own, f"/exports/{missing_export}", as_role=role),
            {own: "<subscription>", missing_export: "<export>"},
        )


async def test_a_channel_partner_gets_the_missing_answer_for_another_partners_quality_reports(
    scoped_partners: Partners,
):
    # The partner itself: test_partners_access.py.
    missing = new_partner_id()
    assert (await scoped_partners.get(PARTNER_X, "/quality-reports", as_role="partner_x")).status_code == 200
    assert_same_not_found(
        await scoped_partners.get(PARTNER_Y, "/quality-reports", as_role="partner_x"),
        {PARTNER_Y: "<partner>"},
        await scoped_partners.get(missing, "/quality-reports", as_role="partner_x"),
        {missing: "<partner>"},
    )


# --- usage reports: an ISV's only call on a partner ---------------------------------------------


async def usage(partners: Partners, partner: str, body: dict[str, Any], as_role: str = "isv_a") -> httpx.Response:
    return await partners.post(partner, "usage-reports", body, as_role=as_role)


async def test_an_isv_reporting_usage_of_another_isvs_subscription_gets_the_missing_answer(iso_partners: Partners):
    partner = (await iso_partners.enrol())["id"]
    theirs = await seed_sold_subscription(iso_partners.api, partner, ISV_B, missing_subscription(), datetime.now(UTC))
    missing = missing_subscription()

    assert_same_not_found(
        await usage(iso_partners, partner, {"usage_share": 0.5, "subscription_id": theirs}),
        {partner: "<partner>", theirs: "<subscription>"},
        await usage(iso_partners, partner, {"usage_share": 0.5, "subscription_id": missing}),
        {partner: "<partner>", missing: "<subscription>"},
    )


async def test_usage_reports_do_not_tell_an_isv_which_partners_exist(iso_partners: Partners):
    """An ISV may not read partners: a report naming a partner it has no subscription with is answered alike for a
    partner that is enrolled, one whose partnership ended, and one that never was."""
    enrolled = (await iso_partners.enrol())["id"]
    ended = (await iso_partners.enrol())["id"]
    await iso_partners.api.env.client.get_workflow_handle(partner_workflow_id(ended)).terminate("partnership ended")
    unknown = new_partner_id()
    own = await seed_sold_subscription(
        iso_partners.api, new_partner_id(), ISV_A, missing_subscription(), datetime.now(UTC)
    )  # sold by yet another partner

    for body in ({"usage_share": 0.5, "subscription_id": own}, {"usage_share": 0.5}):
        answers = [await usage(iso_partners, partner, body) for partner in (enrolled, ended, unknown)]
        assert len({answer.status_code for answer in answers}) == 1, [answer.text for answer in answers]
        shapes = [
            (answer.json()["error"]["code"], answer.json()["error"]["message"].replace(partner, "<partner>"))
            for answer, partner in zip(answers, (enrolled, ended, unknown), strict=True)
        ]
        assert len(set(shapes)) == 1, shapes


# --- the catalogue: public apps, confidential revenue share ---------------------------------------


async def test_a_channel_partner_sees_apps_but_no_revenue_share(iso_subs: Subscriptions):
    http = iso_subs.api.http
    for app_id in (iso_subs.app_id, iso_subs.other_app_id):
        app = (await http.get(f"/api/v1/apps/{app_id}", headers=auth("partner_x"))).json()
        assert app["id"] == app_id and app["plans"], app
        assert app["revenue_share_percent"] is None
    listed = (await http.get(f"/api/v1/apps?isv_id={ISV_A}", headers=auth("partner_x"))).json()["items"]
    assert iso_subs.app_id in {item["id"] for item in listed}
    assert all(item["revenue_share_percent"] is None for item in listed)


# --- lists ------------------------------------------------------------------------------------------


async def every_item(api: Api, path: str, role: str) -> list[dict[str, Any]]:
    """Every item a list answers `role`, over all pages."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(50):
        query = "page_size=100" + (f"&page_token={token}" if token else "")
        response = await api.http.get(f"{path}?{query}", headers=auth(role))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        token = page["next_page_token"]
        if token is None:
            return items
    raise AssertionError(f"{path} did not end after 50 pages")


async def listed_to_staff(api: Api, path: str, ident: str) -> None:
    """Waits until visibility lists `ident` to an admin, so that its absence from a tenant's list means something."""

    async def ids() -> set[str]:
        return {item["id"] for item in await every_item(api, path, "admin")}

    assert ident in await eventually(ids, lambda found: ident in found)


async def test_an_isvs_full_lists_hold_its_own_onboardings_and_subscriptions_only(
    iso_api: Api, iso_subs: Subscriptions
):
    own_onboarding = (await iso_api.start(isv=ISV_A))["id"]
    their_onboarding = (await iso_api.start(isv=ISV_B))["id"]
    own_subscription = (await iso_subs.book())["id"]
    their_subscription = (await iso_subs.book(app_id=iso_subs.other_app_id))["id"]
    await listed_to_staff(iso_api, "/api/v1/onboardings", their_onboarding)
    await listed_to_staff(iso_api, "/api/v1/subscriptions", their_subscription)

    onboardings = await every_item(iso_api, "/api/v1/onboardings", "isv_a")
    subscriptions = await every_item(iso_api, "/api/v1/subscriptions", "isv_a")

    assert own_onboarding in {item["id"] for item in onboardings}
    assert own_subscription in {item["id"] for item in subscriptions}
    assert {item["isv_id"] for item in onboardings + subscriptions} == {ISV_A}


@pytest.mark.parametrize("path", ["/api/v1/onboardings", "/api/v1/subscriptions", "/api/v1/partners"])
async def test_a_page_token_from_a_staff_list_shows_a_scoped_caller_nothing_of_others(
    iso_api: Api, iso_subs: Subscriptions, scoped_partners: Partners, path: str
):
    """A token names a position in a list, not a right to it: a scoped caller sending a token that staff were handed
    gets its own scoped list (or none), never the staff list's next page."""
    await iso_api.start(isv=ISV_B)
    await iso_subs.book(app_id=iso_subs.other_app_id)

    async def staff_token() -> str | None:
        response = await iso_api.http.get(f"{path}?page_size=1", headers=auth("admin"))
        assert response.status_code == 200, response.text
        token: str | None = response.json()["next_page_token"]
        return token

    token = await eventually(staff_token, lambda found: found is not None)
    assert token is not None
    role, own = ("partner_x", {PARTNER_X}) if path.endswith("partners") else ("isv_a", None)
    response = await iso_api.http.get(f"{path}?page_size=1&page_token={token}", headers=auth(role))

    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        for item in response.json()["items"]:
            if own is not None:
                assert item["id"] in own
            else:
                assert item["isv_id"] == ISV_A
