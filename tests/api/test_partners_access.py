"""Who may do what with channel partners: account managers and admins enrol and command, auditors read, a channel
partner reads its own record and quality reports only (another partner's are not found), operators, ISVs and
admins post usage reports."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from domain.roles import Action, Principal, Role
from tests.api.conftest import OWN_PARTNER, Api, Partners, assert_error, auth, enrolling, new_partner_id

DECISION = {"decision": "retain", "note": "fine"}
EVENT = {"reference_id": "ref-1", "kind": "fixed_line_order"}


@pytest_asyncio.fixture(scope="module")
async def own_partner(api: Api) -> AsyncIterator[dict[str, Any]]:
    """The partner of the "own_partner" key: enrolled once per module, as its id is fixed for the whole run."""
    async with enrolling(api) as partners:
        yield await partners.enrol(partner_id=OWN_PARTNER, last_year_points=9_000)


def allowed(action: Action) -> set[Role]:
    return {role for role in Role if Principal(subject="someone", roles=frozenset({role})).may(action)}


def test_the_permission_table_of_the_partner_programme():
    assert allowed(Action.PARTNER_ENROL) == allowed(Action.PARTNER_COMMAND) == {Role.ADMIN, Role.ACCOUNT_MANAGER}
    assert allowed(Action.PARTNER_READ) == {Role.ADMIN, Role.ACCOUNT_MANAGER, Role.AUDITOR, Role.CHANNEL_PARTNER}
    assert allowed(Action.USAGE_REPORT) == {Role.ADMIN, Role.OPERATOR, Role.ISV}


def test_a_channel_partner_sees_its_own_partner_only():
    partner = Principal(subject="p", roles=frozenset({Role.CHANNEL_PARTNER}), partner_id="nord")
    assert partner.sees_partner("nord") and not partner.sees_partner("sued")
    assert not Principal(subject="p", roles=frozenset({Role.CHANNEL_PARTNER})).sees_partner("nord")
    assert Principal(subject="a", roles=frozenset({Role.AUDITOR})).sees_partner("nord")


@pytest.mark.parametrize("role", ["account_manager", "admin"])
async def test_account_managers_and_admins_enrol_and_command(partners: Partners, role: str):
    view = await partners.enrol(as_role=role)
    event = await partners.contract(view["id"], as_role=role)
    assert event.status_code == 201, event.text
    refused = await partners.post(view["id"], "review-decision", DECISION, as_role=role)
    assert_error(refused, 409, "no_open_review")  # allowed: refused by the process, not by the role
    subject = "admin-ada" if role == "admin" else "am-arno"
    assert view["history"][0]["actor"] == subject


@pytest.mark.parametrize("role", ["auditor", "own_partner", "operator", "isv_a", "pm"])
async def test_only_account_managers_and_admins_enrol_or_command(partners: Partners, role: str):
    view = await partners.enrol()
    assert_error(await partners.post_enrolment(partners.body(), as_role=role), 403, "forbidden")
    assert_error(await partners.post(view["id"], "contracts", EVENT, as_role=role), 403, "forbidden")
    assert_error(await partners.post(view["id"], "review-decision", DECISION, as_role=role), 403, "forbidden")
    assert (await partners.view(view["id"]))["events_counted"] == 0


@pytest.mark.parametrize("role", ["operator", "isv_a", "pm"])
async def test_operators_isvs_and_partner_managers_may_not_read_partners(partners: Partners, role: str):
    view = await partners.enrol()
    for path in ("", "/quality-reports"):
        assert_error(await partners.get(view["id"], path, as_role=role), 403, "forbidden")
    assert_error(await partners.api.http.get("/api/v1/partners", headers=auth(role)), 403, "forbidden")


@pytest.mark.parametrize("role", ["account_manager", "auditor", "own_partner", "channel_partner"])
async def test_only_operators_isvs_and_admins_report_usage(partners: Partners, role: str):
    view = await partners.enrol()
    assert_error(await partners.post(view["id"], "usage-reports", {"usage_share": 0.5}, as_role=role), 403, "forbidden")


async def test_an_operator_reports_usage_but_may_not_enrol(partners: Partners):
    view = await partners.enrol()
    response = await partners.post(view["id"], "usage-reports", {"usage_share": 0.5}, as_role="operator")
    assert response.status_code == 201, response.text
    assert_error(await partners.post_enrolment(partners.body(), as_role="operator"), 403, "forbidden")


async def test_an_auditor_reads_any_partner_and_its_quality_reports(partners: Partners, own_partner: dict[str, Any]):
    view = await partners.enrol()
    for partner in (view["id"], own_partner["id"]):
        read = await partners.get(partner, as_role="auditor")
        assert read.status_code == 200 and read.json()["id"] == partner
        assert (await partners.get(partner, "/quality-reports", as_role="auditor")).json() == {"items": []}


async def test_a_channel_partner_reads_itself_and_another_partner_is_not_found(
    partners: Partners, own_partner: dict[str, Any]
):
    other = await partners.enrol()

    own = await partners.get(OWN_PARTNER, as_role="own_partner")
    assert own.status_code == 200, own.text
    assert (own.json()["id"], own.json()["tier"]) == (OWN_PARTNER, "advanced")
    reports = await partners.get(OWN_PARTNER, "/quality-reports", as_role="own_partner")
    assert reports.status_code == 200 and reports.json() == {"items": []}

    # Not 403: the answer must not tell a partner that another partner exists.
    unknown_id = new_partner_id()
    for path in ("", "/quality-reports"):
        assert_error(await partners.get(other["id"], path, as_role="own_partner"), 404, "partner_not_found")
        assert_error(await partners.get(unknown_id, path, as_role="own_partner"), 404, "partner_not_found")
    theirs = await partners.get(other["id"], as_role="own_partner")
    unknown = await partners.get(unknown_id, as_role="own_partner")
    assert theirs.json()["error"]["message"].replace(other["id"], "") == unknown.json()["error"]["message"].replace(
        unknown_id, ""
    )
    # Another channel partner's key does not see this one either.
    assert_error(await partners.get(OWN_PARTNER, as_role="channel_partner"), 404, "partner_not_found")


async def test_partners_need_an_api_key(partners: Partners):
    view = await partners.enrol()
    http = partners.api.http
    for response in (
        await http.get("/api/v1/partners"),
        await http.get(f"/api/v1/partners/{view['id']}"),
        await http.get(f"/api/v1/partners/{view['id']}/quality-reports"),
        await http.post("/api/v1/partners", json=partners.body()),
        await http.post(f"/api/v1/partners/{view['id']}/contracts", json=EVENT),
        await http.post(f"/api/v1/partners/{view['id']}/review-decision", json=DECISION),
        await http.post(f"/api/v1/partners/{view['id']}/usage-reports", json={"usage_share": 0.5}),
    ):
        assert_error(response, 401, "unauthenticated")


async def test_the_partner_endpoints_are_documented(api: Api):
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    assert {path for path in paths if path.startswith("/api/v1/partners")} == {
        "/api/v1/partners",
        "/api/v1/partners/backtests",
        "/api/v1/partners/backtests/{backtest_id}",
        "/api/v1/partners/backtests/{backtest_id}/csv",
        "/api/v1/partners/{partner_id}",
        "/api/v1/partners/{partner_id}/contracts",
        "/api/v1/partners/{partner_id}/quality-reports",
        "/api/v1/partners/{partner_id}/review-decision",
        "/api/v1/partners/{partner_id}/usage-reports",
    }
    assert set(paths["/api/v1/partners/{partner_id}/contracts"]["post"]["responses"]) >= {"200", "201", "409", "422"}
