"""app ownership from the start of an onboarding

An app id belongs to the ISV whose onboarding claimed it first; apps published before this revision have no claim
row, and their catalogue entry names the owner.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_claims",
        sa.Column("app_id", sa.String(length=63), nullable=False),
        sa.Column("isv_id", sa.String(length=63), nullable=False),
        sa.Column("onboarding_id", sa.String(length=127), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_app_claims")),
    )


def downgrade() -> None:
    op.drop_table("app_claims")
