"""partner backtests: policy backtests of a programme year and their per-partner lines

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_backtests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("partners_total", sa.Integer(), nullable=True),
        sa.Column("partners_done", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("command_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_backtests")),
    )
    op.create_table(
        "partner_backtest_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("backtest_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=63), nullable=False),
        sa.Column("start_tier", sa.String(length=16), nullable=False),
        sa.Column("points_today", sa.BigInteger(), nullable=False),
        sa.Column("points_alternative", sa.BigInteger(), nullable=False),
        sa.Column("tier_today", sa.String(length=16), nullable=True),
        sa.Column("tier_alternative", sa.String(length=16), nullable=True),
        sa.Column("change_today", sa.String(length=16), nullable=True),
        sa.Column("change_alternative", sa.String(length=16), nullable=True),
        sa.Column("reviews_today", sa.Integer(), nullable=False),
        sa.Column("reviews_alternative", sa.Integer(), nullable=False),
        sa.Column("move", sa.String(length=16), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_backtest_lines")),
        sa.UniqueConstraint("backtest_id", "partner_id", name="uq_partner_backtest_lines_partner"),
    )
    op.create_index(
        op.f("ix_partner_backtest_lines_backtest_id"), "partner_backtest_lines", ["backtest_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_partner_backtest_lines_backtest_id"), table_name="partner_backtest_lines")
    op.drop_table("partner_backtest_lines")
    op.drop_table("partner_backtests")
