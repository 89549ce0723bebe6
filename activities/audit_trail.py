"""System actions in the audit log: what an activity did, recorded once however often Temporal runs it.

An entry names the workflow whose process took the action (`target`, the workflow id an auditor compares with that
workflow's Temporal history), carries the business time the workflow handed the activity (never the activity's
own clock: a retry must describe the same moment), and a short note with ids and amounts only: no names, no
e-mail addresses, no IBANs. Its `event_key` makes a retry, or a second run of the same step, leave the log as it
was.
"""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit import SYSTEM_ROLE, SYSTEM_SUBJECT, AuditDraft, BusinessIds, EntryKind, Outcome, SystemAction
from store import audit
from store.db import as_utc

DETAIL_LIMIT = 500  # audit_log.detail is VARCHAR(500)


def key_time(moment: datetime) -> str:
    """A moment as it appears in event keys: UTC to the microsecond (naive datetimes from the store are UTC)."""
    return as_utc(moment).astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


async def record_system_action(
    sessions: async_sessionmaker[AsyncSession],
    action: SystemAction,
    *,
    target: str,
    at: datetime,
    detail: str,
    event_key: str,
    about: BusinessIds | None = None,
) -> None:
    """Queues the system action for the audit log; the sequencer drops it if an entry with `event_key` is there."""
    draft = system_action(action, target=target, at=at, detail=detail, event_key=event_key, about=about)
    await audit.enqueue(sessions, draft)


def system_action(
    action: SystemAction, *, target: str, at: datetime, detail: str, event_key: str, about: BusinessIds | None = None
) -> AuditDraft:
    """The audit entry of a system action, for `store.audit.enqueue_in` in the transaction of the change it records.

    `about` names business objects the target does not (the sequencer adds those the target and the store's records
    name: an onboarding's or a subscription's)."""
    return AuditDraft(
        kind=EntryKind.SYSTEM.value,
        subject=SYSTEM_SUBJECT,
        role=SYSTEM_ROLE,
        action=action.value,
        target=target,
        outcome=Outcome.DONE.value,
        occurred_at=at,
        detail=detail[:DETAIL_LIMIT],
        event_key=event_key,
        **(about.fields() if about else {}),
    )
