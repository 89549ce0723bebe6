"""Tables: ISVs, the app catalogue with plans, onboarding events for reporting, notifications."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Isv(Base):
    __tablename__ = "isvs"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    apps: Mapped[list["App"]] = relationship(back_populates="isv")


class App(Base):
    """An app in the marketplace catalogue, published when its onboarding goes live."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    isv_id: Mapped[str] = mapped_column(ForeignKey("isvs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64), index=True)
    revenue_share_percent: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False))
    trial_days: Mapped[int] = mapped_column(Integer)
    listing_fee_cents: Mapped[int] = mapped_column(Integer)
    onboarding_id: Mapped[str] = mapped_column(String(127), unique=True)
    # Registered during integration; None means the embedded local connector.
    provisioning_endpoint: Mapped[str | None] = mapped_column(String(500))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    isv: Mapped[Isv] = relationship(back_populates="apps")
    plans: Mapped[list["AppPlan"]] = relationship(
        back_populates="app", order_by="AppPlan.term_months", cascade="all, delete-orphan", lazy="selectin"
    )


class AppPlan(Base):
    __tablename__ = "app_plans"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    term_months: Mapped[int] = mapped_column(Integer, primary_key=True)
    monthly_price_cents: Mapped[int] = mapped_column(Integer)

    app: Mapped[App] = relationship(back_populates="plans")


class AppClaim(Base):
    """Which ISV an app id belongs to, from the start of its onboarding; the primary key settles two ISVs' race.

    No foreign keys: the claim is written before the onboarding's workflow registers the ISV."""

    __tablename__ = "app_claims"

    app_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    isv_id: Mapped[str] = mapped_column(String(63))
    onboarding_id: Mapped[str] = mapped_column(String(127))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OnboardingEvent(Base):
    """Every step of every onboarding, for reporting; (onboarding, seq) makes the write idempotent."""

    __tablename__ = "onboarding_events"
    __table_args__ = (UniqueConstraint("onboarding_id", "seq", name="uq_onboarding_events_onboarding_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    onboarding_id: Mapped[str] = mapped_column(String(127), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32))
    to_stage: Mapped[str | None] = mapped_column(String(32))
    item: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """Reminders and escalations sent by timers; `key` makes each one be sent once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    subject_ref: Mapped[str] = mapped_column(String(127), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Subscription(Base):
    """The store's copy of a subscription (one row per booking), kept current by the workflow's activities."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("subscription_id", "booked_at", name="uq_subscriptions_booking"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(127), index=True)
    customer_id: Mapped[str] = mapped_column(String(63), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    app_id: Mapped[str] = mapped_column(String(63), index=True)
    isv_id: Mapped[str] = mapped_column(String(63), index=True)
    channel_partner_id: Mapped[str | None] = mapped_column(String(63), index=True)
    status: Mapped[str] = mapped_column(String(32))
    suspension_reason: Mapped[str | None] = mapped_column(String(32))
    term_months: Mapped[int] = mapped_column(Integer)
    booked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    contract_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terminated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InvoiceRow(Base):
    __tablename__ = "invoices"

    number: Mapped[str] = mapped_column(String(200), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(127), index=True)
    customer_id: Mapped[str] = mapped_column(String(63), index=True)
    app_id: Mapped[str] = mapped_column(String(63))
    isv_id: Mapped[str] = mapped_column(String(63), index=True)
    channel_partner_id: Mapped[str | None] = mapped_column(String(63), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    net_cents: Mapped[int] = mapped_column(Integer)
    vat_cents: Mapped[int] = mapped_column(Integer)
    gross_cents: Mapped[int] = mapped_column(Integer)
    # Of net_cents: a plan change's proration billed with this period (below zero a credit).
    proration_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_id: Mapped[str | None] = mapped_column(String(100))
    failure_reason: Mapped[str | None] = mapped_column(Text)


class Payment(Base):
    """Each payment attempt through the gateway; the idempotency key makes a retried attempt charge once."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    payment_id: Mapped[str] = mapped_column(String(100), unique=True)
    invoice_number: Mapped[str | None] = mapped_column(String(200), index=True)
    method_type: Mapped[str] = mapped_column(String(32))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RevenueShare(Base):
    """The revenue ledger: the ISV's share of each paid invoice, booked once."""

    __tablename__ = "revenue_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_number: Mapped[str] = mapped_column(String(200), unique=True)
    subscription_id: Mapped[str] = mapped_column(String(127))
    isv_id: Mapped[str] = mapped_column(String(63), index=True)
    app_id: Mapped[str] = mapped_column(String(63))
    month: Mapped[str] = mapped_column(String(7), index=True)
    net_cents: Mapped[int] = mapped_column(Integer)
    share_percent: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False))
    share_cents: Mapped[int] = mapped_column(Integer)
    booked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookEvent(Base):
    """Payment webhooks received, kept (the inbox) until the subscription's workflow has them; the unique event id
    stores each event once. States and backoff: domain/delivery.py."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    payment_id: Mapped[str] = mapped_column(String(100))
    invoice_number: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # None only for events stored before migration 0007, which were all delivered when they arrived.
    subscription_id: Mapped[str | None] = mapped_column(String(127))
    payload: Mapped[str | None] = mapped_column(Text)  # the verified body as received
    request_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    # When the relay may try (again); None once delivered or undeliverable. While an attempt runs it is a lease.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # JSON {"status", "code", "message", "details"}: the answer an undeliverable event gets when sent again.
    refusal: Mapped[str | None] = mapped_column(Text)


class OutgoingWebhook(Base):
    """The payment sandbox's outbox: each webhook it reports, recorded with its charge and resent until taken."""

    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)  # the event's JSON; each attempt is signed anew, with its own timestamp
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When to send (again); None once delivered or given up. While an attempt runs it is a lease.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class ConnectorCallRow(Base):
    """Calls to ISV provisioning endpoints (or the embedded local connector), once per event id."""

    __tablename__ = "connector_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    app_id: Mapped[str] = mapped_column(String(63), index=True)
    action: Mapped[str] = mapped_column(String(32))
    subscription_id: Mapped[str | None] = mapped_column(String(127), index=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    request_body: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AppSigningSecret(Base):
    """An app's Standard Webhooks secret, which signs its connector calls: one row per generation (1 the first, one
    more per rotation; the newest signs), sealed with the payload encryption keys (EncryptionCodec.seal)."""

    __tablename__ = "app_signing_secrets"
    __table_args__ = (UniqueConstraint("app_id", "created_by", "command_id", name="uq_app_signing_secrets_command"),)

    app_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    # The rotation command that made it (Idempotency-Key or request id); None for an app's first secret.
    command_id: Mapped[str | None] = mapped_column(String(200))
    # Set when a newer generation replaces it: until then it still signs, beside the newer one.
    retires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Export(Base):
    """A customer's data export produced in suspend mode; the file lives under the export directory."""

    __tablename__ = "exports"

    export_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(127), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PayoutStatement(Base):
    """One ISV's revenue shares of one month, transferred once."""

    __tablename__ = "payout_statements"
    __table_args__ = (UniqueConstraint("isv_id", "month", name="uq_payout_statements_isv_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    isv_id: Mapped[str] = mapped_column(String(63), index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    transfer_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    transferred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Partner(Base):
    """The store's copy of a channel partner, kept current by its programme workflow."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_manager: Mapped[str] = mapped_column(String(63), index=True)
    tier: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PointsLedgerEntry(Base):
    """Points awarded for one contract event; the reference id counts once per partner."""

    __tablename__ = "points_ledger"
    __table_args__ = (UniqueConstraint("partner_id", "reference_id", name="uq_points_ledger_partner_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(63), index=True)
    reference_id: Mapped[str] = mapped_column(String(120))
    year: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    monthly_value_cents: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    awarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TierDecisionRow(Base):
    __tablename__ = "tier_decisions"
    __table_args__ = (UniqueConstraint("partner_id", "year", name="uq_tier_decisions_partner_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(63), index=True)
    year: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    from_tier: Mapped[str] = mapped_column(String(16))
    to_tier: Mapped[str] = mapped_column(String(16))
    change: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QualityReportRow(Base):
    __tablename__ = "quality_reports"
    __table_args__ = (UniqueConstraint("partner_id", "period_end", name="uq_quality_reports_partner_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(63), index=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_on_time_share: Mapped[float | None] = mapped_column(Numeric(6, 4, asdecimal=False))
    usage_share: Mapped[float | None] = mapped_column(Numeric(6, 4, asdecimal=False))
    churn_share: Mapped[float | None] = mapped_column(Numeric(6, 4, asdecimal=False))
    invoices: Mapped[int] = mapped_column(Integer)
    active_subscriptions: Mapped[int] = mapped_column(Integer)
    cancellations: Mapped[int] = mapped_column(Integer)
    failing: Mapped[str] = mapped_column(String(200))  # comma-separated threshold names
    below_thresholds: Mapped[bool] = mapped_column(Boolean)
    bad_streak: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsageReport(Base):
    """How much of what a partner's customers booked is in use, as ISVs or operators report it."""

    __tablename__ = "usage_reports"
    __table_args__ = (UniqueConstraint("reported_by", "command_id", name="uq_usage_reports_command"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(63), index=True)
    subscription_id: Mapped[str | None] = mapped_column(String(127))
    usage_share: Mapped[float] = mapped_column(Numeric(6, 4, asdecimal=False))
    reported_by: Mapped[str] = mapped_column(String(200))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The command that wrote it (Idempotency-Key or request id), per reporter: a retried command writes it once.
    command_id: Mapped[str | None] = mapped_column(String(200))


class PartnerReviewEvent(Base):
    """Termination reviews: opened, escalated, retained, terminated."""

    __tablename__ = "partner_reviews"
    __table_args__ = (UniqueConstraint("partner_id", "event", "at", name="uq_partner_reviews_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(63), index=True)
    event: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class PartnerBacktest(Base):
    """A policy backtest of one programme year: what was asked, how far it is, and its totals once done."""

    __tablename__ = "partner_backtests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)  # the whole alternative policy, as replayed
    status: Mapped[str] = mapped_column(String(16))
    partners_total: Mapped[int | None] = mapped_column(Integer)
    partners_done: Mapped[int] = mapped_column(Integer, default=0)
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    command_id: Mapped[str] = mapped_column(String(200))  # the command that asked for it (recovery finds it so)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartnerBacktestLine(Base):
    """One partner's year in a backtest, under today's policy and the alternative."""

    __tablename__ = "partner_backtest_lines"
    __table_args__ = (UniqueConstraint("backtest_id", "partner_id", name="uq_partner_backtest_lines_partner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    backtest_id: Mapped[str] = mapped_column(String(40), index=True)
    partner_id: Mapped[str] = mapped_column(String(63))
    start_tier: Mapped[str] = mapped_column(String(16))
    points_today: Mapped[int] = mapped_column(BigInteger)
    points_alternative: Mapped[int] = mapped_column(BigInteger)
    tier_today: Mapped[str | None] = mapped_column(String(16))
    tier_alternative: Mapped[str | None] = mapped_column(String(16))
    change_today: Mapped[str | None] = mapped_column(String(16))
    change_alternative: Mapped[str | None] = mapped_column(String(16))
    reviews_today: Mapped[int] = mapped_column(Integer)
    reviews_alternative: Mapped[int] = mapped_column(Integer)
    move: Mapped[str] = mapped_column(String(16))
    why: Mapped[str] = mapped_column(Text)


AUDIT_BUSINESS_IDS = ("onboarding_id", "app_id", "isv_id", "subscription_id", "customer_id", "partner_id")


class AuditContent:
    """What an audit entry says (domain/audit.py AuditDraft), as columns: shared by the log and its queue."""

    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    status_code: Mapped[int | None] = mapped_column(Integer)
    payload_digest: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))
    event_key: Mapped[str | None] = mapped_column(String(300))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # The business objects the entry is about (domain.audit.BusinessIds), for filtering.
    onboarding_id: Mapped[str | None] = mapped_column(String(127))
    app_id: Mapped[str | None] = mapped_column(String(63))
    isv_id: Mapped[str | None] = mapped_column(String(63))
    subscription_id: Mapped[str | None] = mapped_column(String(127))
    customer_id: Mapped[str | None] = mapped_column(String(63))
    partner_id: Mapped[str | None] = mapped_column(String(63))


class AuditEntry(AuditContent, Base):
    """One row of the append-only, hash-chained audit log (rules in domain/audit.py).

    The database refuses UPDATE and DELETE on this table (triggers from migration 0004)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "occurred_at"),
        Index(None, "subject"),
        Index(None, "action"),
        Index(None, "target"),
        *(Index(None, column) for column in AUDIT_BUSINESS_IDS),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class AuditQueueEntry(AuditContent, Base):
    """An entry waiting to be chained: writers only insert here, so no command waits on the chain's tail; the
    sequencer (store/audit.py) moves entries into audit_log in batches, in the order it finds them."""

    __tablename__ = "audit_queue"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_key: Mapped[str | None] = mapped_column(String(300), index=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CommandIntent(Base):
    """A command the API is carrying out, written before it reaches Temporal and removed with its audit entry.

    One left behind means the process answering it died (or gave up waiting): store/intents.py finds out from
    Temporal whether the command took effect and records the entry then, so no accepted command goes unaudited."""

    __tablename__ = "command_intents"

    request_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # What Temporal knows the command by: the Update id, or the start's memo (the Idempotency-Key or request id).
    command_id: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    payload_digest: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The API process answering it; None once no process waits for it any more (recovery takes it at once).
    owner: Mapped[str | None] = mapped_column(String(64))


class ApiProcess(Base):
    """A running API process, as the owner of command intents; its heartbeat says it is alive, so recovery leaves
    the commands it is answering alone, and takes those of a process whose heartbeat stopped."""

    __tablename__ = "api_processes"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IdempotencyRecord(Base):
    """The first answer to a command sent with an Idempotency-Key, per caller and key, for replays."""

    __tablename__ = "idempotency_records"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request is still being answered.
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
