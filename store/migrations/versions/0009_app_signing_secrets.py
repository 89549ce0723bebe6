"""app signing secrets: each app's own Standard Webhooks secret for its ISV connector calls

One row per app and generation (the first secret, then one more per rotation); the secret is sealed with the
payload encryption keys. Apps get their first secret when it is first needed, so nothing is backfilled.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_signing_secrets",
        sa.Column("app_id", sa.String(length=63), nullable=False),
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("command_id", sa.String(length=200), nullable=True),
        sa.Column("retires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("app_id", "generation", name=op.f("pk_app_signing_secrets")),
        sa.UniqueConstraint("app_id", "created_by", "command_id", name="uq_app_signing_secrets_command"),
    )


def downgrade() -> None:
    op.drop_table("app_signing_secrets")
