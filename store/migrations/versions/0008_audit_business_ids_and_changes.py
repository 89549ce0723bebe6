"""audit entries name their business objects and what an accepted command changed

Every entry gets the ids of the business objects it is about (onboarding, app, ISV, subscription, customer,
channel partner), indexed, so the log can be filtered by them; they are not part of an entry's hash. Entries
already in the log are indexed here from their target and the store's records: an onboarding's ISV and app from
its app claim or catalogue entry (the id alone cannot be split, slugs contain hyphens), a subscription's customer,
app, ISV and channel partner from its latest booking, a payout transfer's ISV from its event key. Entries also get
`changes` (what an accepted command changed), hashed only when present, so the entries here keep their hashes.

The log refuses UPDATE (migration 0004): the refusal is lifted for the backfill only, in this transaction.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IDS = {
    "onboarding_id": 127,
    "app_id": 63,
    "isv_id": 63,
    "subscription_id": 127,
    "customer_id": 63,
    "partner_id": 63,
}
_TABLES = ("audit_log", "audit_queue")

# A payout transfer's event key is `payout.transferred:{isv}:{yyyy-mm}`.
_PAYOUT_KEY = "payout.transferred:"
_MONTH_SUFFIX = len(":yyyy-mm")

_BACKFILL = [
    # the id the target names (a refused request's raw path may be longer than an id: left out)
    "UPDATE audit_log SET onboarding_id = substr(target, 12)"
    " WHERE target LIKE 'onboarding-%' AND length(target) <= 11 + 127 AND target NOT LIKE '%/%'",
    "UPDATE audit_log SET subscription_id = substr(target, 14)"
    " WHERE target LIKE 'subscription-%' AND length(target) <= 13 + 127 AND target NOT LIKE '%/%'",
    "UPDATE audit_log SET partner_id = substr(target, 9)"
    " WHERE target LIKE 'partner-%' AND length(target) <= 8 + 63 AND target NOT LIKE '%/%'",
    # an onboarding's ISV and app: its claim, or (apps published before claims existed) its catalogue entry
    """UPDATE audit_log SET
        isv_id = coalesce(
            (SELECT c.isv_id FROM app_claims c WHERE c.onboarding_id = audit_log.onboarding_id),
            (SELECT a.isv_id FROM apps a WHERE a.onboarding_id = audit_log.onboarding_id)),
        app_id = coalesce(
            (SELECT c.app_id FROM app_claims c WHERE c.onboarding_id = audit_log.onboarding_id),
            (SELECT a.id FROM apps a WHERE a.onboarding_id = audit_log.onboarding_id))
    WHERE onboarding_id IS NOT NULL""",
    # a subscription's customer, app, ISV and channel partner, as its latest booking names them
    *(
        f"""UPDATE audit_log SET {column} = (
            SELECT s.{source} FROM subscriptions s WHERE s.subscription_id = audit_log.subscription_id
            ORDER BY s.booked_at DESC LIMIT 1)
        WHERE subscription_id IS NOT NULL"""
        for column, source in (
            ("customer_id", "customer_id"),
            ("app_id", "app_id"),
            ("isv_id", "isv_id"),
            ("partner_id", "channel_partner_id"),
        )
    ),
    f"""UPDATE audit_log SET isv_id = substr(event_key, {len(_PAYOUT_KEY) + 1},
        length(event_key) - {len(_PAYOUT_KEY) + _MONTH_SUFFIX})
    WHERE event_key LIKE '{_PAYOUT_KEY}%'""",
]


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN (no batch copy of the table, which would drop audit_log's triggers).
    for table in _TABLES:
        op.add_column(table, sa.Column("changes", sa.JSON(none_as_null=True), nullable=True))
        for column, length in _IDS.items():
            op.add_column(table, sa.Column(column, sa.String(length=length), nullable=True))
    for column in _IDS:
        op.create_index(op.f(f"ix_audit_log_{column}"), "audit_log", [column], unique=False)
    _allow_updates(True)
    for statement in _BACKFILL:
        op.execute(statement)
    _allow_updates(False)


def downgrade() -> None:
    for column in _IDS:
        op.drop_index(op.f(f"ix_audit_log_{column}"), table_name="audit_log")
    for table in _TABLES:
        for column in ("changes", *_IDS):
            # SQLite drops a column in place since 3.35; no table copy, so the triggers stay.
            op.drop_column(table, column)


def _allow_updates(allow: bool) -> None:
    """Lifts (or restores) migration 0004's refusal of UPDATE on audit_log."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE audit_log {'DISABLE' if allow else 'ENABLE'} TRIGGER audit_log_no_update_or_delete")
    elif allow:
        op.execute("DROP TRIGGER audit_log_no_update")
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
            " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
