"""The audit log's hash chain: each entry's hash covers the previous hash and its own canonical content, so any
change, removal, insertion or reordering is found, at the first entry where it happened."""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.audit import (
    GENESIS_HASH,
    AuditDraft,
    BusinessIds,
    ChainedEntry,
    EntryKind,
    Outcome,
    canonical_content,
    chain,
    chain_hash,
    ids_of_target,
    payload_digest,
    verify,
)

AT = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=UTC)


def draft(n: int = 1, **changes: object) -> AuditDraft:
    values: dict[str, object] = {
        "kind": EntryKind.COMMAND,
        "subject": "op-otto",
        "role": "operator",
        "action": "subscription.cancel",
        "target": "subscription-beispiel-crm",
        "outcome": Outcome.ACCEPTED,
        "occurred_at": AT + timedelta(seconds=n),
        "request_id": f"req-{n}",
        "status_code": 200,
    }
    return AuditDraft.model_validate(values | changes)


def chained(count: int) -> list[ChainedEntry]:
    entries: list[ChainedEntry] = []
    for n in range(1, count + 1):
        entries.append(chain(draft(n), entries[-1] if entries else None))
    return entries


def test_the_first_entry_follows_the_genesis_hash():
    first = chain(draft(), None)
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    expected = hashlib.sha256((GENESIS_HASH + canonical_content(1, draft())).encode()).hexdigest()
    assert first.hash == expected


def test_each_entry_links_to_the_hash_of_the_one_before():
    entries = chained(3)
    assert [entry.seq for entry in entries] == [1, 2, 3]
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash


def test_canonical_content_is_sorted_compact_json_with_utc_microseconds():
    content = canonical_content(7, draft())
    parsed = json.loads(content)
    assert list(parsed) == sorted(parsed)
    assert " " not in content.replace("op-otto", "")
    assert parsed["seq"] == 7 and parsed["occurred_at"] == "2026-11-02T09:30:16.123456+00:00"


def test_the_same_moment_hashes_alike_whatever_its_timezone_or_naivety():
    berlin = (AT + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=1)))
    naive_utc = (AT + timedelta(seconds=1)).replace(tzinfo=None)
    hashes = {chain_hash(GENESIS_HASH, 1, draft(occurred_at=moment)) for moment in (berlin, naive_utc)}
    assert hashes == {chain_hash(GENESIS_HASH, 1, draft())}


@pytest.mark.parametrize(
    "field", ["subject", "role", "action", "target", "outcome", "request_id", "detail", "idempotency_key"]
)
def test_changing_any_field_changes_the_hash(field: str):
    changed = draft().model_copy(update={field: "changed"})
    assert chain_hash(GENESIS_HASH, 1, draft()) != chain_hash(GENESIS_HASH, 1, changed)


def test_an_entry_without_changes_hashes_as_entries_did_before_changes_and_business_ids_existed():
    old = AuditDraft(
        kind="command",
        subject="pm-anna",
        role="partner_manager",
        action="onboarding.advance",
        target="onboarding-acme-acme-crm",
        outcome="accepted",
        occurred_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        request_id="r1",
        status_code=200,
    )
    # The hash this entry had when AuditDraft had neither `changes` nor the business ids (commit 2969b56).
    before = "46ce49073b34e532a9e03b546409e81cb0dd98f3932c99f696762245def7e9b3"
    assert chain_hash(GENESIS_HASH, 1, old) == before
    assert chain_hash(GENESIS_HASH, 1, old.model_copy(update={"isv_id": "acme", "app_id": "acme-crm"})) == before


def test_what_a_command_changed_is_part_of_the_hash():
    changed = draft(changes={"from_stage": "commercial", "to_stage": "integration"})
    assert "changes" in json.loads(canonical_content(1, changed))
    forged = changed.model_copy(update={"changes": {"from_stage": "commercial", "to_stage": "go_live"}})
    assert chain_hash(GENESIS_HASH, 1, changed) not in {
        chain_hash(GENESIS_HASH, 1, draft()),
        chain_hash(GENESIS_HASH, 1, forged),
    }


def test_the_business_ids_of_a_target_are_only_the_id_it_names():
    assert ids_of_target("onboarding-acme-acme-crm") == BusinessIds(onboarding_id="acme-acme-crm")
    assert ids_of_target("subscription-cust-1-crm") == BusinessIds(subscription_id="cust-1-crm")
    assert ids_of_target("partner-nord") == BusinessIds(partner_id="nord")
    for not_an_id in ("payout-2026-10", "POST /api/v1/onboardings/x/y", "onboarding-", "partner-Nord!", "x" * 300):
        assert ids_of_target(not_an_id) == BusinessIds()


@pytest.mark.parametrize(
    "moved",
    [
        {"onboarding_id": "acme-crm2"},  # another onboarding than its target names
        {"isv_id": "acme-crm", "app_id": "crm"},  # parts that do not make up its onboarding id
        {"subscription_id": "cust-1-crm"},  # an onboarding's entry filed under a subscription
    ],
)
def test_an_entry_whose_unhashed_business_ids_were_moved_breaks_the_chain(moved: dict[str, str]):
    indexed = draft(target="onboarding-acme-crm", onboarding_id="acme-crm", isv_id="acme", app_id="crm")
    entry = chain(indexed, None)
    assert verify([entry]).ok
    result = verify([entry.model_copy(update=moved)])
    assert result.first_broken is not None and "business ids" in result.first_broken.reason


def test_an_untouched_chain_verifies():
    entries = chained(4)
    result = verify(entries)
    assert result.ok and result.checked == 4 and result.last_hash == entries[-1].hash


def test_an_empty_chain_verifies_with_the_genesis_hash():
    assert verify([]).model_dump() == {"ok": True, "checked": 0, "last_hash": GENESIS_HASH, "first_broken": None}


def test_a_changed_entry_is_the_first_broken_one():
    entries = chained(5)
    entries[2] = entries[2].model_copy(update={"outcome": Outcome.REFUSED})
    result = verify(entries)
    assert not result.ok and result.checked == 2
    assert result.first_broken is not None and result.first_broken.seq == 3
    assert "changed" in result.first_broken.reason


def test_a_removed_entry_breaks_the_chain_at_the_next_one():
    entries = chained(5)
    del entries[1]
    broken = verify(entries).first_broken
    assert broken is not None and broken.seq == 3 and "missing" in broken.reason


def test_a_rehashed_forgery_still_breaks_the_link_to_the_next_entry():
    entries = chained(3)
    forged_draft = draft(2, subject="someone-else")
    forged = ChainedEntry(
        **forged_draft.model_dump(),
        seq=2,
        prev_hash=entries[0].hash,
        hash=chain_hash(entries[0].hash, 2, forged_draft),
    )
    broken = verify([entries[0], forged, entries[2]]).first_broken
    assert broken is not None and broken.seq == 3 and "previous hash" in broken.reason


def test_swapped_entries_are_found():
    entries = chained(3)
    broken = verify([entries[0], entries[2], entries[1]]).first_broken
    assert broken is not None and broken.seq == 3


def test_the_payload_digest_is_sha256_of_the_body_and_absent_without_one():
    assert payload_digest(b'{"reason":"x"}') == hashlib.sha256(b'{"reason":"x"}').hexdigest()
    assert payload_digest(b"") is None
