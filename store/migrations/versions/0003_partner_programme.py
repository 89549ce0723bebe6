"""partner programme

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:06:38.356635
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=63), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_reviews")),
        sa.UniqueConstraint("partner_id", "event", "at", name="uq_partner_reviews_event"),
    )
    with op.batch_alter_table("partner_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_reviews_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_manager", sa.String(length=63), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partners_account_manager"), ["account_manager"], unique=False)

    op.create_table(
        "points_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=63), nullable=False),
        sa.Column("reference_id", sa.String(length=120), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("monthly_value_cents", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
        sa.UniqueConstraint("partner_id", "reference_id", name="uq_points_ledger_partner_reference"),
    )
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_points_ledger_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_points_ledger_year"), ["year"], unique=False)

    op.create_table(
        "quality_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=63), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_on_time_share", sa.Numeric(precision=6, scale=4, asdecimal=False), nullable=True),
        sa.Column("usage_share", sa.Numeric(precision=6, scale=4, asdecimal=False), nullable=True),
        sa.Column("churn_share", sa.Numeric(precision=6, scale=4, asdecimal=False), nullable=True),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("active_subscriptions", sa.Integer(), nullable=False),
        sa.Column("cancellations", sa.Integer(), nullable=False),
        sa.Column("failing", sa.String(length=200), nullable=False),
        sa.Column("below_thresholds", sa.Boolean(), nullable=False),
        sa.Column("bad_streak", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_reports")),
        sa.UniqueConstraint("partner_id", "period_end", name="uq_quality_reports_partner_period"),
    )
    with op.batch_alter_table("quality_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quality_reports_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "tier_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=63), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("from_tier", sa.String(length=16), nullable=False),
        sa.Column("to_tier", sa.String(length=16), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_decisions")),
        sa.UniqueConstraint("partner_id", "year", name="uq_tier_decisions_partner_year"),
    )
    with op.batch_alter_table("tier_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tier_decisions_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "usage_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=63), nullable=False),
        sa.Column("subscription_id", sa.String(length=127), nullable=True),
        sa.Column("usage_share", sa.Numeric(precision=6, scale=4, asdecimal=False), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_reports")),
    )
    with op.batch_alter_table("usage_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_reports_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_reports_reported_at"), ["reported_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_reports_reported_at"))
        batch_op.drop_index(batch_op.f("ix_usage_reports_partner_id"))

    op.drop_table("usage_reports")
    with op.batch_alter_table("tier_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tier_decisions_partner_id"))

    op.drop_table("tier_decisions")
    with op.batch_alter_table("quality_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_reports_partner_id"))

    op.drop_table("quality_reports")
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_points_ledger_year"))
        batch_op.drop_index(batch_op.f("ix_points_ledger_partner_id"))

    op.drop_table("points_ledger")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partners_account_manager"))

    op.drop_table("partners")
    with op.batch_alter_table("partner_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_reviews_partner_id"))

    op.drop_table("partner_reviews")
