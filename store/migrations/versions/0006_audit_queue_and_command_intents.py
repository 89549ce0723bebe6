"""audit queue, command intents and API process heartbeats

Commands and activities queue their audit entries instead of extending the hash chain themselves; a sequencer
chains them in batches. A command's intent is written before it reaches Temporal, so the entry of a command whose
API process died is recovered from Temporal; API processes keep a heartbeat, so a dead one's intents are known.
Usage reports name the command that wrote them, so a retry writes once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:00:01.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=300), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("payload_digest", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_queue")),
    )
    with op.batch_alter_table("audit_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_queue_event_key"), ["event_key"], unique=False)

    op.create_table(
        "command_intents",
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("command_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("payload_digest", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_command_intents")),
    )
    with op.batch_alter_table("command_intents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_command_intents_started_at"), ["started_at"], unique=False)

    op.create_table(
        "api_processes",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_api_processes")),
    )
    with op.batch_alter_table("api_processes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_processes_beat_at"), ["beat_at"], unique=False)

    with op.batch_alter_table("usage_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("command_id", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint("uq_usage_reports_command", ["reported_by", "command_id"])


def downgrade() -> None:
    with op.batch_alter_table("usage_reports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_usage_reports_command", type_="unique")
        batch_op.drop_column("command_id")
    with op.batch_alter_table("api_processes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_processes_beat_at"))
    op.drop_table("api_processes")
    with op.batch_alter_table("command_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_command_intents_started_at"))
    op.drop_table("command_intents")
    with op.batch_alter_table("audit_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_queue_event_key"))
    op.drop_table("audit_queue")
