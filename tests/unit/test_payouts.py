"""Payout rules: which month a run pays, when a month may be paid, and what a re-run does to statements."""

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.payouts import (
    LedgerTotal,
    Month,
    PayoutStatementView,
    StatementStatus,
    month_has_ended,
    payout_month,
    payout_workflow_id,
    plan_statements,
    transfer_due,
    transfer_key,
    transfer_request,
)
from domain.roles import Action, Principal, Role

CREATED = datetime(2025, 2, 1, 1, tzinfo=UTC)


def statement(isv: str, amount: int, entries: int, status: StatementStatus = StatementStatus.PREPARED):
    return PayoutStatementView(
        isv_id=isv,
        month="2025-01",
        amount_cents=amount,
        entries=entries,
        status=status.value,
        transfer_id=None,
        created_at=CREATED,
        transferred_at=None,
    )


def total(isv: str, amount: int, entries: int) -> LedgerTotal:
    return LedgerTotal(isv_id=isv, amount_cents=amount, entries=entries)


def test_the_workflow_id_and_the_transfer_key_come_from_the_business_keys():
    assert payout_workflow_id("2025-01") == "payout-2025-01"
    assert transfer_key("acme", "2025-01") == "payout-acme-2025-01"


@pytest.mark.parametrize("month", ["2025-01", "1999-12", "2024-02"])
def test_a_month_is_yyyy_mm(month: str):
    assert TypeAdapter(Month).validate_python(month) == month


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "2025-1", "25-01", "2025/01", "2025-01-01", ""])
def test_anything_else_is_not_a_month(month: str):
    with pytest.raises(ValidationError):
        TypeAdapter(Month).validate_python(month)


def test_without_a_month_a_run_pays_the_previous_one_across_the_year_end():
    assert payout_month(None, datetime(2026, 1, 1, 1, tzinfo=UTC)) == "2025-12"
    assert payout_month(None, datetime(2025, 3, 1, 0, 0, tzinfo=UTC)) == "2025-02"
    assert payout_month("2024-07", datetime(2025, 3, 1, tzinfo=UTC)) == "2024-07"


def test_a_month_is_paid_out_only_once_it_has_ended():
    assert month_has_ended("2025-01", datetime(2025, 2, 1, 0, 0, tzinfo=UTC))
    assert month_has_ended("2024-12", datetime(2025, 1, 15, tzinfo=UTC))
    assert not month_has_ended("2025-01", datetime(2025, 1, 31, 23, 59, tzinfo=UTC))
    assert not month_has_ended("2025-03", datetime(2025, 1, 31, tzinfo=UTC))


def test_a_run_creates_statements_only_for_isvs_with_something_to_pay():
    plan = plan_statements([total("acme", 1_234, 3), total("globex", 0, 1)], {})
    assert plan.create == [total("acme", 1_234, 3)]
    assert plan.update == [] and plan.unsettled == []


def test_a_prepared_statement_takes_ledger_entries_booked_after_it():
    plan = plan_statements(
        [total("acme", 1_500, 4), total("globex", 700, 2)],
        {"acme": statement("acme", 1_234, 3), "globex": statement("globex", 700, 2)},
    )
    assert plan.create == [] and plan.unsettled == []
    assert plan.update == [total("acme", 1_500, 4)]


@pytest.mark.parametrize("status", [StatementStatus.TRANSFERRED, StatementStatus.FAILED])
def test_a_statement_that_went_to_the_gateway_stays_and_late_entries_are_reported(status: StatementStatus):
    plan = plan_statements([total("acme", 1_500, 4)], {"acme": statement("acme", 1_234, 3, status)})
    assert plan.create == [] and plan.update == []
    assert plan.unsettled == [total("acme", 266, 1)]


def test_an_unchanged_month_plans_nothing():
    plan = plan_statements(
        [total("acme", 1_234, 3)], {"acme": statement("acme", 1_234, 3, StatementStatus.TRANSFERRED)}
    )
    assert plan.create == plan.update == plan.unsettled == []


def test_only_a_transferred_statement_is_never_transferred_again():
    assert transfer_due(statement("acme", 1, 1, StatementStatus.PREPARED))
    assert transfer_due(statement("acme", 1, 1, StatementStatus.FAILED))
    assert not transfer_due(statement("acme", 1, 1, StatementStatus.TRANSFERRED))


def test_a_transfer_request_carries_the_statement_amount_in_euro_under_its_key():
    request = transfer_request(statement("acme", 1_234, 3))
    assert (request.idempotency_key, request.isv_id, request.month) == ("payout-acme-2025-01", "acme", "2025-01")
    assert (request.amount_cents, request.currency) == (1_234, "EUR")


def test_statement_times_read_from_sqlite_are_utc():
    naive = PayoutStatementView.model_validate(
        {**statement("acme", 1, 1).model_dump(), "created_at": datetime(2025, 2, 1, 1), "transferred_at": None}
    )
    assert naive.created_at == CREATED


def test_only_admins_run_payouts_and_admins_auditors_and_isvs_read_them():
    def allowed(action: Action) -> set[Role]:
        return {role for role in Role if Principal(subject="someone", roles=frozenset({role})).may(action)}

    assert allowed(Action.PAYOUT_RUN) == {Role.ADMIN}
    assert allowed(Action.PAYOUT_READ) == {Role.ADMIN, Role.AUDITOR, Role.ISV}
