"""invoice proration: the part of a period invoice's net amount that a plan change's proration makes up

Invoices issued before plan changes existed had none: the server default 0 fills them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("proration_cents", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("proration_cents")
