"""The audit log's rules: what an entry says, its canonical form, the hash chain and its verification.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical content, so changing,
removing or inserting any row breaks the chain from that row on; verification names the first row that breaks.
"""

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.ids import ONBOARDING_ID_PATTERN, SLUG_PATTERN

# The chain's anchor: the "previous hash" of the very first entry.
GENESIS_HASH = "0" * 64


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the command was carried out (2xx)
    REFUSED = "refused"  # answered with a 4xx: not allowed, invalid, or refused by the process's rules
    REPLAYED = "replayed"  # an Idempotency-Key retry answered with the first result, nothing ran again
    FAILED = "failed"  # the service could not answer (5xx); the caller may retry
    DONE = "done"  # a system action an activity took


class EntryKind(StrEnum):
    COMMAND = "command"  # a call to the API that asks for a change
    SYSTEM = "system"  # something a workflow did by itself (timers, activities)


# Who takes system actions, as the audit log names them.
SYSTEM_SUBJECT = "system"
SYSTEM_ROLE = "system"


class SystemAction(StrEnum):
    """The system actions the activities record (the issue's list)."""

    INVOICE_ISSUED = "invoice.issued"
    PAYMENT_RECORDED = "payment.recorded"
    SUBSCRIPTION_SUSPENDED = "subscription.suspended"
    SUBSCRIPTION_TERMINATED = "subscription.terminated"
    PAYOUT_TRANSFERRED = "payout.transferred"
    TIER_CHANGED = "partner.tier_changed"
    TIER_KEPT = "partner.tier_kept"  # a year-end decision that kept the tier: recorded too, under its own name
    EXPORT_PRODUCED = "export.produced"
    DATA_DELETED = "customer_data.deleted"


ChangeValue = str | int | float | bool | None


class BusinessIds(BaseModel):
    """The business objects an entry is about: the object its target names and the objects that own it (an
    onboarding's ISV and app; a subscription's customer, app, ISV and selling channel partner)."""

    model_config = ConfigDict(frozen=True)

    onboarding_id: str | None = None
    app_id: str | None = None
    isv_id: str | None = None
    subscription_id: str | None = None
    customer_id: str | None = None
    partner_id: str | None = None

    def fill(self, other: "BusinessIds") -> "BusinessIds":
        """These ids, with the ones missing taken from `other`."""
        return BusinessIds(**{name: mine or getattr(other, name) for name, mine in self})

    def fields(self) -> dict[str, str]:
        return {name: value for name, value in self if value is not None}


BUSINESS_ID_FIELDS = set(BusinessIds.model_fields)
# Workflow id prefixes (domain/ids.py), the id each names and that id's form.
_TARGET_PREFIXES = {
    "onboarding-": ("onboarding_id", re.compile(ONBOARDING_ID_PATTERN)),
    "subscription-": ("subscription_id", re.compile(ONBOARDING_ID_PATTERN)),  # `{customer}-{app}`, as long
    "partner-": ("partner_id", re.compile(SLUG_PATTERN)),
}


def ids_of_target(target: str) -> BusinessIds:
    """The id a workflow id names (`onboarding-acme-crm` -> onboarding `acme-crm`); none for a target that is not
    a well-formed workflow id (a refused request's raw path). An onboarding's or subscription's own parts are not
    split off here: slugs contain hyphens, so only the store's records tell `acme-crm` apart as ISV `acme` and app
    `crm`."""
    for prefix, (field, form) in _TARGET_PREFIXES.items():
        if target.startswith(prefix) and form.fullmatch(target[len(prefix) :]):
            return BusinessIds(**{field: target[len(prefix) :]})
    return BusinessIds()


class AuditDraft(BaseModel):
    """An entry before it joins the chain: what happened, by whom, to what."""

    model_config = ConfigDict(frozen=True)

    # Plain strings rather than the enums above: a row someone changed by hand must still load, so that
    # verification can report it instead of failing on it.
    kind: str
    subject: str
    role: str
    action: str
    target: str
    outcome: str
    occurred_at: datetime
    request_id: str | None = None
    idempotency_key: str | None = None
    status_code: int | None = None
    payload_digest: str | None = None
    # The refusal's error code, or a short note of what a system action did ("2368 cents, invoice inv-...").
    detail: str | None = None
    # Makes a system action recorded once, however often its activity runs.
    event_key: str | None = None
    # What an accepted command changed, as ids, stages, dates and amounts (never names, e-mail addresses, IBANs or
    # tokens). Hashed when present; entries written before it existed have none and keep their hashes.
    changes: dict[str, ChangeValue] | None = None
    # The business objects the entry is about, for filtering the log (see BusinessIds). Not hashed: they are an
    # index derived from `target` and the store's records, and entries written before them were indexed later.
    onboarding_id: str | None = None
    app_id: str | None = None
    isv_id: str | None = None
    subscription_id: str | None = None
    customer_id: str | None = None
    partner_id: str | None = None


class ChainedEntry(AuditDraft):
    """An entry in the chain: its position, the previous entry's hash and its own."""

    seq: int
    prev_hash: str
    hash: str


def payload_digest(body: bytes) -> str | None:
    """SHA-256 of a request body: proves what was sent without keeping personal data in the log."""
    return hashlib.sha256(body).hexdigest() if body else None


def _timestamp(moment: datetime) -> str:
    # Databases hand back naive UTC (SQLite) or aware datetimes; both must hash alike.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


_HASHED_FIELDS = set(AuditDraft.model_fields) - BUSINESS_ID_FIELDS


def business_ids(draft: AuditDraft) -> BusinessIds:
    return BusinessIds(**draft.model_dump(include=BUSINESS_ID_FIELDS))


def canonical_content(seq: int, draft: AuditDraft) -> str:
    """The entry as one deterministic string: sorted keys, no whitespace, UTC times to the microsecond."""
    content: dict[str, Any] = draft.model_dump(mode="json", include=_HASHED_FIELDS)
    if content["changes"] is None:
        del content["changes"]  # as entries from before `changes` were hashed
    content["occurred_at"] = _timestamp(draft.occurred_at)
    content["seq"] = seq
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, seq: int, draft: AuditDraft) -> str:
    return hashlib.sha256((prev_hash + canonical_content(seq, draft)).encode()).hexdigest()


def chain(draft: AuditDraft, previous: ChainedEntry | None) -> ChainedEntry:
    """`draft` as the entry that follows `previous` (None: the first entry)."""
    seq = previous.seq + 1 if previous else 1
    prev_hash = previous.hash if previous else GENESIS_HASH
    return ChainedEntry(**draft.model_dump(), seq=seq, prev_hash=prev_hash, hash=chain_hash(prev_hash, seq, draft))


class BrokenEntry(BaseModel):
    seq: int
    reason: str


class Verification(BaseModel):
    ok: bool
    checked: int
    # The hash the chain ends with: an auditor who noted it earlier can tell that nothing was cut off the end.
    last_hash: str
    first_broken: BrokenEntry | None = None


def first_break(entry: ChainedEntry, expected_seq: int, expected_prev: str) -> str | None:
    """Why `entry` does not follow the entries before it, or None when it does."""
    if entry.seq != expected_seq:
        return f"the sequence jumps from {expected_seq - 1} to {entry.seq}: entries are missing"
    if entry.prev_hash != expected_prev:
        return "its previous hash does not match the entry before it: an entry was removed or replaced"
    if entry.hash != chain_hash(entry.prev_hash, entry.seq, entry):
        return "its content does not match its hash: the entry was changed after it was written"
    if not ids_agree_with_target(entry):
        return "its business ids do not match its target: the entry was moved to another object after it was written"
    return None


def ids_agree_with_target(draft: AuditDraft) -> bool:
    """The business ids are not hashed, but the hashed target pins most of them: the onboarding or subscription it
    names, and the ISV and app (or customer and app) that make up that id."""
    ids, named = business_ids(draft), ids_of_target(draft.target)
    for field in ("onboarding_id", "subscription_id"):
        if getattr(ids, field) not in (None, getattr(named, field)):
            return False
    if named.partner_id and ids.partner_id not in (None, named.partner_id):
        return False
    made_of = [(ids.onboarding_id, ids.isv_id, ids.app_id), (ids.subscription_id, ids.customer_id, ids.app_id)]
    return all(
        whole is None or None in (first, second) or whole == f"{first}-{second}" for whole, first, second in made_of
    )


class ChainCheck:
    """Checks entries one at a time, in order of `seq`, so a long log can be read in batches."""

    def __init__(self) -> None:
        self.checked = 0
        self.last_hash = GENESIS_HASH
        self.broken: BrokenEntry | None = None

    def add(self, entry: ChainedEntry) -> bool:
        """False once the chain is broken; later entries are not checked."""
        if self.broken is not None:
            return False
        reason = first_break(entry, self.checked + 1, self.last_hash)
        if reason is not None:
            self.broken = BrokenEntry(seq=entry.seq, reason=reason)
            return False
        self.checked += 1
        self.last_hash = entry.hash
        return True

    def result(self) -> Verification:
        return Verification(
            ok=self.broken is None, checked=self.checked, last_hash=self.last_hash, first_broken=self.broken
        )


def verify(entries: Iterable[ChainedEntry]) -> Verification:
    check = ChainCheck()
    for entry in entries:
        if not check.add(entry):
            break
    return check.result()
