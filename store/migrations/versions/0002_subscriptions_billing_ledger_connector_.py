"""subscriptions billing ledger connector payouts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:23:46.103315
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("app_id", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=127), nullable=True),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_calls")),
        sa.UniqueConstraint("event_id", name=op.f("uq_connector_calls_event_id")),
    )
    with op.batch_alter_table("connector_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connector_calls_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_connector_calls_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "exports",
        sa.Column("export_id", sa.String(length=100), nullable=False),
        sa.Column("subscription_id", sa.String(length=127), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("export_id", name=op.f("pk_exports")),
    )
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exports_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("subscription_id", sa.String(length=127), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("app_id", sa.String(length=63), nullable=False),
        sa.Column("isv_id", sa.String(length=63), nullable=False),
        sa.Column("channel_partner_id", sa.String(length=63), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("net_cents", sa.Integer(), nullable=False),
        sa.Column("vat_cents", sa.Integer(), nullable=False),
        sa.Column("gross_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_id", sa.String(length=100), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_invoices")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_channel_partner_id"), ["channel_partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_isv_id"), ["isv_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("payment_id", sa.String(length=100), nullable=False),
        sa.Column("invoice_number", sa.String(length=200), nullable=True),
        sa.Column("method_type", sa.String(length=32), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payments_payment_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_invoice_number"), ["invoice_number"], unique=False)

    op.create_table(
        "payout_statements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("isv_id", sa.String(length=63), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_statements")),
        sa.UniqueConstraint("isv_id", "month", name="uq_payout_statements_isv_month"),
    )
    with op.batch_alter_table("payout_statements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_statements_isv_id"), ["isv_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payout_statements_month"), ["month"], unique=False)

    op.create_table(
        "revenue_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("invoice_number", sa.String(length=200), nullable=False),
        sa.Column("subscription_id", sa.String(length=127), nullable=False),
        sa.Column("isv_id", sa.String(length=63), nullable=False),
        sa.Column("app_id", sa.String(length=63), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("net_cents", sa.Integer(), nullable=False),
        sa.Column("share_percent", sa.Numeric(precision=5, scale=2, asdecimal=False), nullable=False),
        sa.Column("share_cents", sa.Integer(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_ledger")),
        sa.UniqueConstraint("invoice_number", name=op.f("uq_revenue_ledger_invoice_number")),
    )
    with op.batch_alter_table("revenue_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revenue_ledger_isv_id"), ["isv_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_revenue_ledger_month"), ["month"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=127), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("app_id", sa.String(length=63), nullable=False),
        sa.Column("isv_id", sa.String(length=63), nullable=False),
        sa.Column("channel_partner_id", sa.String(length=63), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("suspension_reason", sa.String(length=32), nullable=True),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contract_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("subscription_id", "booked_at", name="uq_subscriptions_booking"),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_channel_partner_id"), ["channel_partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_isv_id"), ["isv_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=100), nullable=False),
        sa.Column("invoice_number", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_events_event_id")),
    )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provisioning_endpoint", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("provisioning_endpoint")

    op.drop_table("webhook_events")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_isv_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_customer_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_channel_partner_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_app_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("revenue_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revenue_ledger_month"))
        batch_op.drop_index(batch_op.f("ix_revenue_ledger_isv_id"))

    op.drop_table("revenue_ledger")
    with op.batch_alter_table("payout_statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_statements_month"))
        batch_op.drop_index(batch_op.f("ix_payout_statements_isv_id"))

    op.drop_table("payout_statements")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_invoice_number"))

    op.drop_table("payments")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_isv_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_customer_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_channel_partner_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exports_subscription_id"))

    op.drop_table("exports")
    with op.batch_alter_table("connector_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connector_calls_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_connector_calls_app_id"))

    op.drop_table("connector_calls")
