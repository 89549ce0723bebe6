"""What a command's audit entry says beyond who did what to which workflow: the business objects its body names,
and, once accepted, what it changed.

Every value is picked by name from the request and the answer, never copied wholesale: ids, stages, statuses, dates,
counts and amounts, so no names, e-mail addresses, IBANs, account holders, payment tokens or free-text comments and
reasons reach the log.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.audit import BusinessIds, ChangeValue
from domain.ids import SLUG_PATTERN

Changes = dict[str, ChangeValue]
_SLUG = re.compile(SLUG_PATTERN)
_MAX_TEXT = 200  # no value of a change is longer; this bounds what a caller's text could put there


@dataclass(frozen=True)
class Exchange:
    """One answered command: its path parameters, its JSON body and its JSON answer (`{}` where there is none)."""

    params: Mapping[str, str]
    body: Mapping[str, Any]
    answer: Mapping[str, Any]


def _at(document: Any, *path: str | int) -> ChangeValue:
    """The scalar at `path` in a JSON document, or None."""
    for step in path:
        if isinstance(step, int) and isinstance(document, list) and -len(document) <= step < len(document):
            document = document[step]
        elif isinstance(step, str) and isinstance(document, Mapping):
            document = document.get(step)
        else:
            return None
    if isinstance(document, str):
        return document[:_MAX_TEXT]
    return document if isinstance(document, bool | int | float) else None


def _slug(document: Any, *path: str) -> str | None:
    value = _at(document, *path)
    return value if isinstance(value, str) and _SLUG.fullmatch(value) else None


def _picked(exchange: Exchange, **paths: tuple[str | int, ...]) -> Changes:
    """`name=("answer", "a", "b")` picks answer["a"]["b"] as `name`; missing values are left out."""
    sources = {"answer": exchange.answer, "body": exchange.body, "params": exchange.params}
    picked = {name: _at(sources[str(path[0])], *path[1:]) for name, path in paths.items()}
    return {name: value for name, value in picked.items() if value is not None}


def _commercial_terms(exchange: Exchange) -> Changes:
    terms = exchange.answer.get("commercial_terms")
    if not isinstance(terms, Mapping):
        return {}
    changes = {name: _at(terms, name) for name in ("revenue_share_percent", "trial_days", "listing_fee_cents")}
    plans = terms.get("plans")
    for plan in plans if isinstance(plans, list) else []:
        months = _at(plan, "term_months")
        if isinstance(months, int):
            changes[f"monthly_price_cents_{months}_months"] = _at(plan, "monthly_price_cents")
    return {name: value for name, value in changes.items() if value is not None}


def _stage_change(exchange: Exchange) -> Changes:
    """From the stage the onboarding left to the one it entered (`live` when the last stage was passed)."""
    history = exchange.answer.get("history")
    for entry in reversed(history if isinstance(history, list) else []):
        action = _at(entry, "action")
        if action in ("advanced", "went_live"):
            to_stage = _at(entry, "to_stage") if action == "advanced" else "live"
            return {"from_stage": _at(entry, "stage"), "to_stage": to_stage}
    return {}


def _payout_run(exchange: Exchange) -> Changes:
    statements = exchange.answer.get("statements")
    statements = statements if isinstance(statements, list) else []
    amounts = [_at(statement, "amount_cents") for statement in statements]
    return _picked(exchange, month=("params", "month"), status=("answer", "status")) | {
        "statements": len(statements),
        "amount_cents": sum(amount for amount in amounts if isinstance(amount, int)),
    }


def _onboarding_state(exchange: Exchange) -> Changes:
    return _picked(exchange, stage=("answer", "stage"), status=("answer", "status"))


# Per audit action (api/policy.py `audit_as`): what an accepted command changed.
_CHANGES: dict[str, Callable[[Exchange], Changes]] = {
    "onboarding.start": lambda e: _picked(
        e,
        stage=("answer", "stage"),
        partner_manager=("answer", "partner_manager"),
        category=("answer", "app", "category"),
    ),
    "onboarding.complete_item": lambda e: _picked(e, item=("params", "item")),
    "onboarding.undo_item": lambda e: _picked(e, item=("params", "item")),
    "onboarding.set_terms": _commercial_terms,
    "onboarding.advance": _stage_change,
    "onboarding.reject": _onboarding_state,
    "onboarding.hold": _onboarding_state,
    "onboarding.resume": _onboarding_state,
    "onboarding.reassign": lambda e: _picked(e, partner_manager=("answer", "partner_manager")),
    "subscription.book": lambda e: _picked(
        e,
        app_id=("answer", "app_id"),
        term_months=("answer", "term_months"),
        monthly_price_cents=("answer", "monthly_price_cents"),
        channel_partner_id=("answer", "channel_partner_id"),
        payment_method_type=("body", "payment_method", "type"),
        status=("answer", "status"),
        trial_ends_at=("answer", "trial_ends_at"),
    ),
    "subscription.change_payment_method": lambda e: _picked(e, payment_method_type=("body", "type")),
    # Effective at the term's end (`cancel_at`), or at once in the trial (`suspended_at`).
    "subscription.cancel": lambda e: _picked(
        e, cancel_at=("answer", "cancel_at"), suspended_at=("answer", "suspended_at"), status=("answer", "status")
    ),
    "subscription.request_export": lambda e: _picked(
        e, export_id=("answer", "exports", -1, "export_id"), fee_invoice=("answer", "exports", -1, "fee_invoice")
    ),
    "subscription.reinstate": lambda e: _picked(e, status=("answer", "status")),
    "subscription.uncancel": lambda e: _picked(
        e, status=("answer", "status"), renews_at=("answer", "current_term_end")
    ),
    # At once (the answer's plan and proration), or at the term's end (`scheduled_plan_change`).
    "subscription.change_plan": lambda e: _picked(
        e,
        requested_term_months=("body", "term_months"),
        term_months=("answer", "term_months"),
        monthly_price_cents=("answer", "monthly_price_cents"),
        pending_proration_cents=("answer", "pending_proration_cents"),
        scheduled_term_months=("answer", "scheduled_plan_change", "term_months"),
        scheduled_monthly_price_cents=("answer", "scheduled_plan_change", "monthly_price_cents"),
        scheduled_for=("answer", "scheduled_plan_change", "effective_at"),
    ),
    "payment.webhook": lambda e: _picked(
        e,
        event_type=("body", "type"),
        payment_id=("body", "payment_id"),
        invoice_number=("body", "invoice_number"),
        duplicate=("answer", "duplicate"),
    ),
    "payout.run": _payout_run,
    "partner.enrol": lambda e: _picked(e, tier=("answer", "tier"), last_year_points=("answer", "last_year_points")),
    "partner.record_contract": lambda e: _picked(
        e,
        reference_id=("answer", "reference_id"),
        kind=("body", "kind"),
        quantity=("body", "quantity"),
        monthly_value_cents=("body", "monthly_value_cents"),
        points_awarded=("answer", "points_awarded"),
        points=("answer", "points"),
        duplicate=("answer", "duplicate"),
    ),
    "partner.decide_review": lambda e: _picked(e, decision=("body", "decision"), status=("answer", "status")),
    "partner.report_usage": lambda e: _picked(
        e, usage_share=("answer", "usage_share"), subscription_id=("answer", "subscription_id")
    ),
}


def changes_of(action: str, exchange: Exchange) -> Changes | None:
    """What the accepted command `action` changed; None when the log knows no more than its action and target."""
    pick = _CHANGES.get(action)
    return (pick(exchange) or None) if pick is not None else None


def named_ids(action: str, body: Any) -> BusinessIds:
    """The business objects a command's body names beyond its target (the ISV and app of an onboarding it starts;
    the customer, app and channel partner of a booking), so the entry of a refused request names them too."""
    if action == "onboarding.start":
        return BusinessIds(isv_id=_slug(body, "isv", "id"), app_id=_slug(body, "app", "id"))
    if action == "subscription.book":
        return BusinessIds(
            customer_id=_slug(body, "customer", "id"),
            app_id=_slug(body, "app_id"),
            partner_id=_slug(body, "channel_partner_id"),
        )
    return BusinessIds()
