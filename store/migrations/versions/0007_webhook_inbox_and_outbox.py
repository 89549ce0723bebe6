"""payment webhooks: received events kept until delivered, sandbox webhooks resent until answered

`webhook_events` becomes an inbox: each received event is stored with its body and delivery state before it is
answered, and a relay delivers what could not be delivered at once. The events stored before this revision were
all delivered when they arrived (the old receiver deleted the ones it could not deliver), so they are marked so.
`webhook_outbox` holds the payment sandbox's webhooks until their receiver takes them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:02.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscription_id", sa.String(length=127), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("refusal", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_webhook_events_next_attempt_at"), ["next_attempt_at"], unique=False)
    op.execute("UPDATE webhook_events SET state = 'delivered', attempts = 1, delivered_at = received_at")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.alter_column("state", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("attempts", existing_type=sa.Integer(), nullable=False)

    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_outbox_event_id")),
    )
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_outbox_next_attempt_at"), ["next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_outbox_next_attempt_at"))
    op.drop_table("webhook_outbox")

    # The old receiver kept only events it had delivered: those that still wait would be taken for replays.
    op.execute("DELETE FROM webhook_events WHERE state <> 'delivered'")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_next_attempt_at"))
        batch_op.drop_column("refusal")
        batch_op.drop_column("last_error")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("state")
        batch_op.drop_column("request_id")
        batch_op.drop_column("payload")
        batch_op.drop_column("subscription_id")
