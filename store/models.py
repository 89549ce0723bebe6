"""Tables: ISVs, the app catalogue with plans, onboarding events for reporting, notifications."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, Numeric, String, Text, UniqueConstraint
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
