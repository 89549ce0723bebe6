"""Who may do what, and which ISV's objects a caller sees (docs/api.md)."""

import pytest

from domain.roles import PERMISSIONS, TENANT_SCOPED_ROLES, Action, Principal, Role


def principal(*roles: Role, isv_id: str | None = None, partner_id: str | None = None) -> Principal:
    return Principal(subject="someone", roles=frozenset(roles), isv_id=isv_id, partner_id=partner_id)


def test_every_action_has_a_permission_entry():
    assert set(PERMISSIONS) == set(Action)


def test_the_roles_are_the_users_of_the_design():
    assert {role.value for role in Role} == {
        "admin",
        "partner_manager",
        "account_manager",
        "operator",
        "auditor",
        "isv",
        "channel_partner",
    }


def test_only_admins_and_partner_managers_start_onboardings():
    allowed = {role for role in Role if principal(role).may(Action.ONBOARDING_START)}
    assert allowed == {Role.ADMIN, Role.PARTNER_MANAGER}


def test_only_admins_and_partner_managers_run_onboarding_commands():
    allowed = {role for role in Role if principal(role).may(Action.ONBOARDING_COMMAND)}
    assert allowed == {Role.ADMIN, Role.PARTNER_MANAGER}


def test_the_auditor_reads_onboardings_but_changes_nothing():
    auditor = principal(Role.AUDITOR)
    assert auditor.may(Action.ONBOARDING_READ)
    assert not auditor.may(Action.ONBOARDING_START)
    assert not auditor.may(Action.ONBOARDING_COMMAND)


def test_onboardings_are_read_by_admins_partner_managers_auditors_and_isvs():
    allowed = {role for role in Role if principal(role).may(Action.ONBOARDING_READ)}
    assert allowed == {Role.ADMIN, Role.PARTNER_MANAGER, Role.AUDITOR, Role.ISV}


def test_an_isv_reads_but_cannot_command_onboardings():
    isv = principal(Role.ISV, isv_id="acme")
    assert isv.may(Action.ONBOARDING_READ)
    assert not isv.may(Action.ONBOARDING_START)
    assert not isv.may(Action.ONBOARDING_COMMAND)


def test_a_channel_partner_cannot_read_onboardings():
    assert not principal(Role.CHANNEL_PARTNER, partner_id="p1").may(Action.ONBOARDING_READ)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_the_catalogue(role):
    assert principal(role).may(Action.CATALOGUE_READ)


@pytest.mark.parametrize("action", list(Action))
def test_the_admin_may_do_everything(action):
    assert principal(Role.ADMIN).may(action)


@pytest.mark.parametrize("action", list(Action))
def test_a_principal_without_roles_may_do_nothing(action):
    assert not principal().may(action)


def test_a_principal_may_what_any_of_its_roles_may():
    both = principal(Role.AUDITOR, Role.PARTNER_MANAGER)
    assert both.may(Action.ONBOARDING_COMMAND)
    assert both.may(Action.ONBOARDING_READ)


def test_isvs_and_channel_partners_are_the_tenant_scoped_roles():
    assert frozenset({Role.ISV, Role.CHANNEL_PARTNER}) == TENANT_SCOPED_ROLES


def test_an_isv_principal_sees_only_its_own_isv():
    isv = principal(Role.ISV, isv_id="acme")
    assert isv.is_tenant_scoped
    assert isv.sees_isv("acme")
    assert not isv.sees_isv("globex")


def test_an_isv_principal_without_an_isv_id_sees_no_isv():
    isv = principal(Role.ISV)
    assert not isv.sees_isv("acme")


def test_a_channel_partner_sees_no_isv():
    partner = principal(Role.CHANNEL_PARTNER, partner_id="p1")
    assert partner.is_tenant_scoped
    assert not partner.sees_isv("acme")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PARTNER_MANAGER, Role.ACCOUNT_MANAGER, Role.OPERATOR, Role.AUDITOR])
def test_staff_see_every_isv(role):
    staff = principal(role)
    assert not staff.is_tenant_scoped
    assert staff.sees_isv("acme")
    assert staff.sees_isv("globex")


def test_a_staff_role_lifts_the_tenant_scope():
    mixed = principal(Role.ISV, Role.AUDITOR, isv_id="acme")
    assert not mixed.is_tenant_scoped
    assert mixed.sees_isv("globex")


def test_roles_are_parsed_from_their_names():
    parsed = Principal.model_validate({"subject": "pm-anna", "roles": ["partner_manager"], "isv_id": None})
    assert parsed.roles == frozenset({Role.PARTNER_MANAGER})
    assert parsed.may(Action.ONBOARDING_COMMAND)


def test_a_principal_without_roles_is_not_treated_as_staff():
    nobody = principal()
    assert nobody.is_tenant_scoped
    assert not nobody.sees_isv("acme")
