"""Who may call which route, as one table: (method, path) -> the permission it needs and, for commands, what the
audit log calls the command and which process it targets.

The permission's roles come from domain.roles.PERMISSIONS, so this table and that one together are the role x route
policy. Enforcement reads this table (`enforce_route_policy`); a route missing from it is refused for everyone, and
tests walk every route of the OpenAPI schema with every role against it.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.roles import Action

A = Action


class Effect(StrEnum):
    """How a command takes effect, and so where recovery looks to learn whether it did (api/intent_recovery.py)."""

    START = "start"  # starts a workflow, whose memo names the command
    UPDATE = "update"  # a Workflow Update whose id is the command's
    STORE = "store"  # a row in the store that names the command


@dataclass(frozen=True)
class RoutePolicy:
    # None: open to callers without an API key (liveness, and the payment webhook, which is signed instead).
    permission: Action | None
    # Commands only: the action the audit log records, and the workflow id (or record) the command is about, as a
    # format string over the path parameters and the JSON body (`{body[customer][id]}`).
    audit_as: str | None = None
    target: str | None = None
    # Who the audit log names for an open command, whose caller has no API key (the signed webhook's sender).
    open_caller: str | None = None
    # A larger body limit than settings.max_body_bytes, for the routes that carry Temporal payloads.
    body_limit: int | None = None
    effect: Effect | None = None

    @property
    def is_command(self) -> bool:
        return self.audit_as is not None


def _read(permission: Action | None) -> RoutePolicy:
    return RoutePolicy(permission)


def _command(permission: Action | None, audit_as: str, target: str, effect: Effect = Effect.UPDATE) -> RoutePolicy:
    return RoutePolicy(permission, audit_as, target, effect=effect)


# Temporal accepts payloads up to 2 MB; the Web UI sends several at once.
CODEC_BODY_LIMIT = 8 * 1024 * 1024

_ONBOARDING = "onboarding-{onboarding_id}"
_SUBSCRIPTION = "subscription-{subscription_id}"
_PARTNER = "partner-{partner_id}"

ROUTE_POLICY: dict[tuple[str, str], RoutePolicy] = {
    ("GET", "/health"): _read(None),
    # onboardings
    ("POST", "/api/v1/onboardings"): _command(
        A.ONBOARDING_START, "onboarding.start", "onboarding-{body[isv][id]}-{body[app][id]}", Effect.START
    ),
    ("GET", "/api/v1/onboardings"): _read(A.ONBOARDING_READ),
    ("GET", "/api/v1/onboardings/{onboarding_id}"): _read(A.ONBOARDING_READ),
    ("POST", "/api/v1/onboardings/{onboarding_id}/checklist/{item}"): _command(
        A.ONBOARDING_COMMAND, "onboarding.complete_item", _ONBOARDING
    ),
    ("DELETE", "/api/v1/onboardings/{onboarding_id}/checklist/{item}"): _command(
        A.ONBOARDING_COMMAND, "onboarding.undo_item", _ONBOARDING
    ),
    ("PUT", "/api/v1/onboardings/{onboarding_id}/commercial-terms"): _command(
        A.ONBOARDING_COMMAND, "onboarding.set_terms", _ONBOARDING
    ),
    ("POST", "/api/v1/onboardings/{onboarding_id}/advance"): _command(
        A.ONBOARDING_COMMAND, "onboarding.advance", _ONBOARDING
    ),
    ("POST", "/api/v1/onboardings/{onboarding_id}/reject"): _command(
        A.ONBOARDING_COMMAND, "onboarding.reject", _ONBOARDING
    ),
    ("POST", "/api/v1/onboardings/{onboarding_id}/hold"): _command(
        A.ONBOARDING_COMMAND, "onboarding.hold", _ONBOARDING
    ),
    ("POST", "/api/v1/onboardings/{onboarding_id}/resume"): _command(
        A.ONBOARDING_COMMAND, "onboarding.resume", _ONBOARDING
    ),
    ("POST", "/api/v1/onboardings/{onboarding_id}/reassign"): _command(
        A.ONBOARDING_COMMAND, "onboarding.reassign", _ONBOARDING
    ),
    # catalogue
    ("GET", "/api/v1/apps"): _read(A.CATALOGUE_READ),
    ("GET", "/api/v1/apps/{app_id}"): _read(A.CATALOGUE_READ),
    ("GET", "/api/v1/apps/{app_id}/signing-secret"): _read(A.APP_SIGNING_SECRET),
    ("POST", "/api/v1/apps/{app_id}/signing-secret/rotate"): _command(
        A.APP_SIGNING_SECRET, "app.rotate_signing_secret", "app-{app_id}", Effect.STORE
    ),
    # subscriptions
    ("POST", "/api/v1/subscriptions"): _command(
        A.SUBSCRIPTION_BOOK, "subscription.book", "subscription-{body[customer][id]}-{body[app_id]}", Effect.START
    ),
    ("GET", "/api/v1/subscriptions"): _read(A.SUBSCRIPTION_READ),
    ("GET", "/api/v1/subscriptions/{subscription_id}"): _read(A.SUBSCRIPTION_READ),
    ("GET", "/api/v1/subscriptions/{subscription_id}/invoices"): _read(A.SUBSCRIPTION_READ),
    ("GET", "/api/v1/subscriptions/{subscription_id}/exports/{export_id}"): _read(A.SUBSCRIPTION_READ),
    ("PUT", "/api/v1/subscriptions/{subscription_id}/payment-method"): _command(
        A.SUBSCRIPTION_COMMAND, "subscription.change_payment_method", _SUBSCRIPTION
    ),
    ("POST", "/api/v1/subscriptions/{subscription_id}/cancel"): _command(
        A.SUBSCRIPTION_COMMAND, "subscription.cancel", _SUBSCRIPTION
    ),
    ("POST", "/api/v1/subscriptions/{subscription_id}/export-request"): _command(
        A.SUBSCRIPTION_COMMAND, "subscription.request_export", _SUBSCRIPTION
    ),
    ("POST", "/api/v1/subscriptions/{subscription_id}/reinstate"): _command(
        A.SUBSCRIPTION_COMMAND, "subscription.reinstate", _SUBSCRIPTION
    ),
    ("POST", "/api/v1/subscriptions/{subscription_id}/uncancel"): _command(
        A.SUBSCRIPTION_COMMAND, "subscription.uncancel", _SUBSCRIPTION
    ),
    ("POST", "/api/v1/subscriptions/{subscription_id}/plan"): _command(
        A.SUBSCRIPTION_COMMAND, "subscription.change_plan", _SUBSCRIPTION
    ),
    ("POST", "/api/v1/payments/webhook"): RoutePolicy(
        None, "payment.webhook", "subscription-{body[subscription_id]}", "payment-provider", effect=Effect.STORE
    ),
    # payouts
    ("GET", "/api/v1/payouts"): _read(A.PAYOUT_READ),
    ("GET", "/api/v1/reports/monthly"): _read(A.PAYOUT_READ),
    # the caller itself
    ("GET", "/api/v1/me"): _read(A.SESSION_READ),
    ("POST", "/api/v1/payouts/{month}/run"): _command(A.PAYOUT_RUN, "payout.run", "payout-{month}", Effect.START),
    # channel partners
    ("POST", "/api/v1/partners"): _command(A.PARTNER_ENROL, "partner.enrol", "partner-{body[id]}", Effect.START),
    ("GET", "/api/v1/partners"): _read(A.PARTNER_READ),
    ("GET", "/api/v1/partners/{partner_id}"): _read(A.PARTNER_READ),
    ("POST", "/api/v1/partners/backtests"): _command(
        A.PARTNER_BACKTEST, "partner.backtest", "partner-backtests-{body[year]}", Effect.STORE
    ),
    ("GET", "/api/v1/partners/backtests/{backtest_id}"): _read(A.PARTNER_BACKTEST),
    ("GET", "/api/v1/partners/backtests/{backtest_id}/csv"): _read(A.PARTNER_BACKTEST),
    ("GET", "/api/v1/partners/{partner_id}/quality-reports"): _read(A.PARTNER_READ),
    ("POST", "/api/v1/partners/{partner_id}/contracts"): _command(
        A.PARTNER_COMMAND, "partner.record_contract", _PARTNER
    ),
    ("POST", "/api/v1/partners/{partner_id}/review-decision"): _command(
        A.PARTNER_COMMAND, "partner.decide_review", _PARTNER
    ),
    ("POST", "/api/v1/partners/{partner_id}/usage-reports"): _command(
        A.USAGE_REPORT, "partner.report_usage", _PARTNER, Effect.STORE
    ),
    # audit
    ("GET", "/api/v1/audit/workflows/{workflow_id}/history"): _read(A.AUDIT_READ),
    ("GET", "/api/v1/audit/log"): _read(A.AUDIT_READ),
    ("GET", "/api/v1/audit/verify"): _read(A.AUDIT_READ),
    # The Web UI's codec calls are POSTs but read: they change nothing.
    ("POST", "/api/v1/codec/encode"): RoutePolicy(A.PAYLOAD_DECODE, body_limit=CODEC_BODY_LIMIT),
    ("POST", "/api/v1/codec/decode"): RoutePolicy(A.PAYLOAD_DECODE, body_limit=CODEC_BODY_LIMIT),
}

# The documentation pages FastAPI serves itself (outside /api/v1 and outside the OpenAPI schema).
OPEN_DOCUMENTATION = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def _pattern(path: str) -> re.Pattern[str]:
    """`/a/{b}/c` -> a regex that matches one path segment per parameter."""
    parts = re.split(r"(\{[a-z_]+\})", path)
    return re.compile(
        "".join(f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts) + "$"
    )


_MATCHERS = [(method, _pattern(path), path) for method, path in ROUTE_POLICY]


@dataclass(frozen=True)
class MatchedRoute:
    method: str
    path: str  # the route's template, as in ROUTE_POLICY and the OpenAPI schema
    params: dict[str, str]
    policy: RoutePolicy


def match(method: str, path: str) -> MatchedRoute | None:
    """The policy entry for a concrete request, or None when the table has none."""
    for entry_method, pattern, template in _MATCHERS:
        if entry_method != method:
            continue
        found = pattern.match(path)
        if found:
            return MatchedRoute(method, template, found.groupdict(), ROUTE_POLICY[(method, template)])
    return None


def target_of(route: MatchedRoute, body: Any) -> str:
    """What a command is about, e.g. `onboarding-acme-crm`; the path itself when the body lacks the fields."""
    assert route.policy.target is not None
    try:
        return route.policy.target.format(body=body if isinstance(body, Mapping) else {}, **route.params)[:300]
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        return f"{route.method} {route.path}"
