"""catalogue and onboarding records

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:54:52.294500
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "isvs",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isvs")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("subject_ref", sa.String(length=127), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_subject_ref"), ["subject_ref"], unique=False)

    op.create_table(
        "onboarding_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("onboarding_id", sa.String(length=127), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("to_stage", sa.String(length=32), nullable=True),
        sa.Column("item", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_events")),
        sa.UniqueConstraint("onboarding_id", "seq", name="uq_onboarding_events_onboarding_seq"),
    )
    with op.batch_alter_table("onboarding_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_onboarding_events_onboarding_id"), ["onboarding_id"], unique=False)

    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("isv_id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("revenue_share_percent", sa.Numeric(precision=5, scale=2, asdecimal=False), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("listing_fee_cents", sa.Integer(), nullable=False),
        sa.Column("onboarding_id", sa.String(length=127), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["isv_id"], ["isvs.id"], name=op.f("fk_apps_isv_id_isvs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
        sa.UniqueConstraint("onboarding_id", name=op.f("uq_apps_onboarding_id")),
    )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_apps_isv_id"), ["isv_id"], unique=False)

    op.create_table(
        "app_plans",
        sa.Column("app_id", sa.String(length=63), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("monthly_price_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_app_plans_app_id_apps"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "term_months", name=op.f("pk_app_plans")),
    )


def downgrade() -> None:
    op.drop_table("app_plans")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_isv_id"))
        batch_op.drop_index(batch_op.f("ix_apps_category"))

    op.drop_table("apps")
    with op.batch_alter_table("onboarding_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_onboarding_events_onboarding_id"))

    op.drop_table("onboarding_events")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_subject_ref"))

    op.drop_table("notifications")
    op.drop_table("isvs")
