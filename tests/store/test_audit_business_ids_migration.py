"""Migration 0008 indexes the entries already in the audit log by the business objects they are about, without
touching what their hashes cover: the chain still verifies, and the log stays append-only afterwards."""

from datetime import UTC, datetime

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import BUSINESS_ID_FIELDS, AuditDraft, BusinessIds, ChainedEntry, chain
from store import audit, migrate
from store.audit import LogFilter
from store.db import create_session_factory

BEFORE = "0007"
AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# What a 0007 audit_log row holds: the entry without the columns 0008 adds.
OLD_COLUMNS = {"seq", *(set(AuditDraft.model_fields) - BUSINESS_ID_FIELDS - {"changes"}), "prev_hash", "hash"}


def _draft(action: str, target: str, event_key: str | None = None) -> AuditDraft:
    return AuditDraft(
        kind="system" if event_key else "command",
        subject="system" if event_key else "pm-anna",
        role="partner_manager",
        action=action,
        target=target,
        outcome="done" if event_key else "accepted",
        occurred_at=AT,
        event_key=event_key,
        detail="2368 cents" if event_key else None,
    )


OLD_ENTRIES = [
    _draft("onboarding.start", "onboarding-acme-acme-crm"),
    _draft("onboarding.start", "onboarding-acme-crm2"),  # ISV acme and app crm2, as its claim says
    _draft("onboarding.advance", "onboarding-old-app"),  # published before claims: the catalogue names the owner
    _draft("invoice.issued", "subscription-cust-1-acme-crm", "invoice.issued:inv-1"),
    _draft("partner.enrol", "partner-nord"),
    _draft("payout.transferred", "payout-2026-10", "payout.transferred:acme-x:2026-10"),
    _draft("onboarding.advance", "POST /api/v1/onboardings/x/y/advance"),
]


def _old_chain() -> list[ChainedEntry]:
    entries: list[ChainedEntry] = []
    for draft in OLD_ENTRIES:
        entries.append(chain(draft, entries[-1] if entries else None))
    return entries


async def _seed_before_0008(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        metadata = sa.MetaData()
        await connection.run_sync(metadata.reflect)
        tables = metadata.tables
        await connection.execute(
            tables["app_claims"].insert(),
            [
                {"app_id": "acme-crm", "isv_id": "acme", "onboarding_id": "acme-acme-crm", "claimed_at": AT},
                {"app_id": "crm2", "isv_id": "acme", "onboarding_id": "acme-crm2", "claimed_at": AT},
            ],
        )
        isv = {"id": "old", "name": "Old GmbH", "contact_email": "a@b.example", "created_at": AT}
        await connection.execute(tables["isvs"].insert(), [isv])
        await connection.execute(
            tables["apps"].insert(),
            [
                {
                    "id": "app",
                    "isv_id": "old",
                    "name": "App",
                    "category": "crm_customer_management",
                    "revenue_share_percent": 70,
                    "trial_days": 30,
                    "listing_fee_cents": 0,
                    "onboarding_id": "old-app",
                    "published_at": AT,
                }
            ],
        )
        await connection.execute(
            tables["subscriptions"].insert(),
            [
                {
                    "subscription_id": "cust-1-acme-crm",
                    "customer_id": "cust-1",
                    "customer_name": "Beispiel GmbH",
                    "app_id": "acme-crm",
                    "isv_id": "acme",
                    "channel_partner_id": "nord",
                    "status": "active",
                    "term_months": 1,
                    "booked_at": AT,
                    "updated_at": AT,
                }
            ],
        )
        rows = [entry.model_dump(include=OLD_COLUMNS) for entry in _old_chain()]
        await connection.execute(tables["audit_log"].insert(), rows)


@pytest_asyncio.fixture
async def upgraded(fresh_database: AsyncEngine) -> AsyncEngine:
    await migrate.upgrade(fresh_database, BEFORE)
    await _seed_before_0008(fresh_database)
    await migrate.upgrade(fresh_database)
    return fresh_database


async def test_entries_chained_before_the_migration_still_verify(upgraded: AsyncEngine) -> None:
    result = await audit.verify(create_session_factory(upgraded))
    assert (result.ok, result.checked, result.last_hash) == (True, len(OLD_ENTRIES), _old_chain()[-1].hash)


async def test_old_entries_are_indexed_by_the_business_objects_their_target_and_records_name(
    upgraded: AsyncEngine,
) -> None:
    entries = [entry async for entry in audit.entries(create_session_factory(upgraded))]
    ids = [(e.onboarding_id, e.isv_id, e.app_id, e.subscription_id, e.customer_id, e.partner_id) for e in entries]
    assert ids == [
        ("acme-acme-crm", "acme", "acme-crm", None, None, None),
        ("acme-crm2", "acme", "crm2", None, None, None),
        ("old-app", "old", "app", None, None, None),
        (None, "acme", "acme-crm", "cust-1-acme-crm", "cust-1", "nord"),
        (None, None, None, None, None, "nord"),
        (None, "acme-x", None, None, None, None),
        (None, None, None, None, None, None),
    ]


async def test_entries_chained_after_the_migration_are_indexed_and_the_chain_goes_on(upgraded: AsyncEngine) -> None:
    sessions = create_session_factory(upgraded)
    await audit.append(sessions, _draft("onboarding.hold", "onboarding-acme-crm2"))
    found = [entry async for entry in audit.entries(sessions, LogFilter(about=BusinessIds(app_id="crm2")))]
    assert [entry.action for entry in found] == ["onboarding.start", "onboarding.hold"]
    assert (found[-1].isv_id, found[-1].onboarding_id) == ("acme", "acme-crm2")
    assert (await audit.verify(sessions)).ok


async def test_the_log_stays_append_only_after_the_migration(upgraded: AsyncEngine) -> None:
    with pytest.raises(DBAPIError):
        async with upgraded.begin() as connection:
            await connection.execute(sa.text("UPDATE audit_log SET isv_id = 'someone-else' WHERE seq = 1"))
