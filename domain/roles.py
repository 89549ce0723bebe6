"""Who may do what: roles, the authenticated principal and the permission table (docs/api.md)."""

from enum import StrEnum

from pydantic import BaseModel


class Role(StrEnum):
    ADMIN = "admin"
    PARTNER_MANAGER = "partner_manager"
    ACCOUNT_MANAGER = "account_manager"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    ISV = "isv"
    CHANNEL_PARTNER = "channel_partner"


class Action(StrEnum):
    ONBOARDING_START = "onboarding.start"
    ONBOARDING_COMMAND = "onboarding.command"
    ONBOARDING_READ = "onboarding.read"
    CATALOGUE_READ = "catalogue.read"
    SUBSCRIPTION_BOOK = "subscription.book"
    SUBSCRIPTION_COMMAND = "subscription.command"
    SUBSCRIPTION_READ = "subscription.read"
    PAYOUT_READ = "payout.read"
    PAYOUT_RUN = "payout.run"
    PARTNER_ENROL = "partner.enrol"
    PARTNER_COMMAND = "partner.command"
    PARTNER_READ = "partner.read"
    PARTNER_BACKTEST = "partner.backtest"
    USAGE_REPORT = "usage.report"
    APP_SIGNING_SECRET = "app.signing_secret"
    AUDIT_READ = "audit.read"
    PAYLOAD_DECODE = "payload.decode"
    SESSION_READ = "session.read"


# Roles whose reads are limited to their own tenant's objects.
TENANT_SCOPED_ROLES = frozenset({Role.ISV, Role.CHANNEL_PARTNER})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.ONBOARDING_START: frozenset({Role.ADMIN, Role.PARTNER_MANAGER}),
    Action.ONBOARDING_COMMAND: frozenset({Role.ADMIN, Role.PARTNER_MANAGER}),
    Action.ONBOARDING_READ: frozenset({Role.ADMIN, Role.PARTNER_MANAGER, Role.AUDITOR, Role.ISV}),
    Action.CATALOGUE_READ: frozenset(Role),
    Action.SUBSCRIPTION_BOOK: frozenset({Role.ADMIN, Role.OPERATOR}),
    Action.SUBSCRIPTION_COMMAND: frozenset({Role.ADMIN, Role.OPERATOR}),
    # ISVs read the subscriptions of their own apps only (the API scopes reads and lists by IsvId).
    Action.SUBSCRIPTION_READ: frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.ISV}),
    # ISVs read their own statements only (the API forces the filter to the caller's ISV).
    Action.PAYOUT_READ: frozenset({Role.ADMIN, Role.AUDITOR, Role.ISV}),
    Action.PAYOUT_RUN: frozenset({Role.ADMIN}),
    Action.PARTNER_ENROL: frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER}),
    Action.PARTNER_COMMAND: frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER}),
    # A channel partner reads its own record and quality reports only (the API scopes reads and lists by its id).
    Action.PARTNER_READ: frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER, Role.AUDITOR, Role.CHANNEL_PARTNER}),
    # Replaying a programme year under another policy: the programme's own staff.
    Action.PARTNER_BACKTEST: frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER}),
    # Usage of what a partner's customers booked, as operators and ISVs report it (ISVs for their own apps only).
    Action.USAGE_REPORT: frozenset({Role.ADMIN, Role.OPERATOR, Role.ISV}),
    # An app's secret for its connector calls: its own ISV reads and rotates it (the API scopes it to the ISV's apps).
    Action.APP_SIGNING_SECRET: frozenset({Role.ADMIN, Role.ISV}),
    # Workflow histories, the audit log and its verification.
    Action.AUDIT_READ: frozenset({Role.ADMIN, Role.AUDITOR}),
    # The codec endpoint the Temporal Web UI calls to show decrypted payloads.
    Action.PAYLOAD_DECODE: frozenset({Role.ADMIN, Role.AUDITOR}),
    # Who the key belongs to and what it may do (the console shows only that).
    Action.SESSION_READ: frozenset(Role),
}


class Principal(BaseModel):
    """The caller behind an API key."""

    subject: str
    roles: frozenset[Role]
    isv_id: str | None = None
    partner_id: str | None = None

    def may(self, action: Action) -> bool:
        return bool(self.roles & PERMISSIONS[action])

    @property
    def is_tenant_scoped(self) -> bool:
        """True when every role the caller holds is limited to its own tenant."""
        return self.roles <= TENANT_SCOPED_ROLES

    def sees_isv(self, isv_id: str) -> bool:
        return not self.is_tenant_scoped or self.isv_id == isv_id

    def sees_partner(self, partner_id: str) -> bool:
        return not self.is_tenant_scoped or self.partner_id == partner_id
