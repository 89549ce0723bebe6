"""What a simulated year came to, read back at its end: the onboardings, subscriptions and partners as the API shows
them, and the money, payments and tier decisions as the store holds them (store/reports.py for the months)."""

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select

from cli.render import money, section, table
from demo.seeder import OPERATOR, PM
from domain.billing_calendar import add_months
from domain.onboarding.model import OnboardingStatus
from domain.onboarding.sla import SlaStatus
from domain.partners.model import TierChange
from domain.subscription.model import SubscriptionStatus, SuspensionReason
from simulation.driver import API
from simulation.plan import Year
from simulation.stack import Stack
from store import models, reports

# History actions of a subscription (domain/subscription/rules.py Event) the dunning figures count.
SUSPENDED_FOR_NON_PAYMENT = "dunning_exhausted"
REINSTATED = "reinstated"


@dataclass(frozen=True)
class MonthRow:
    month: str  # yyyy-mm
    invoices: int  # issued in the month
    failed_payments: int  # charges of the month's invoices the gateway declined (first attempts and retries)
    paid_net_cents: int
    isv_share_cents: int
    payouts_cents: int  # transferred by the month's payout run


@dataclass
class YearReport:
    seed: int
    isvs: int
    customers: int
    partners: int
    months: int
    first_month: str
    onboardings: dict[str, int] = field(default_factory=dict)
    catalogue_apps: int = 0
    subscriptions: dict[str, int] = field(default_factory=dict)
    dunning: dict[str, int] = field(default_factory=dict)
    money: list[MonthRow] = field(default_factory=list)
    tiers: dict[str, int] = field(default_factory=dict)
    reviews: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # commands the API refused, by code
    seconds: float = 0.0  # wall time of the whole run: the capacity figure

    def figures(self) -> dict[str, Any]:
        """Everything but the wall time and the calendar: what the same seed reproduces."""
        figures = asdict(self)
        del figures["seconds"], figures["first_month"]
        for row in figures["money"]:
            del row["month"]
        return figures

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def collect(stack: Stack, year: Year, start: datetime, months: int, refused: Counter[str]) -> YearReport:
    """Reads the report once the year is over."""
    report = YearReport(
        seed=year.seed,
        isvs=len(year.onboardings),
        customers=year.customers,
        partners=len(year.partners),
        months=months,
        first_month=f"{start:%Y-%m}",
        refused=dict(sorted(refused.items())),
    )
    await _onboardings(stack, year, report)
    await _subscriptions(stack, year, report)
    await _store(stack, report, [f"{add_months(start, index):%Y-%m}" for index in range(months)])
    return report


async def _onboardings(stack: Stack, year: Year, report: YearReport) -> None:
    tally: Counter[str] = Counter(started=0, live=0, live_late=0, rejected=0, open=0, open_overdue=0, held=0)
    for onboarding in year.onboardings:
        view = await stack.api.get(PM, f"{API}/onboardings/{onboarding.id}")
        if view is None:
            continue  # its start lay past the year's end
        tally["started"] += 1
        status = view["status"]
        if status == OnboardingStatus.LIVE:
            tally["live"] += 1
            finished, target = view["finished_at"], view["deadlines"]["target_due_at"]
            tally["live_late"] += datetime.fromisoformat(finished) > datetime.fromisoformat(target)
        elif status == OnboardingStatus.REJECTED:
            tally["rejected"] += 1
        else:
            tally["open"] += 1
            tally["open_overdue"] += view["sla_status"] == SlaStatus.OVERDUE
        tally["held"] += any(entry["action"] == "held" for entry in view["history"])
    report.onboardings = dict(tally)


async def _subscriptions(stack: Stack, year: Year, report: YearReport) -> None:
    statuses: Counter[str] = Counter(dict.fromkeys((status.value for status in SubscriptionStatus), 0))
    dunning: Counter[str] = Counter(suspended_for_non_payment=0, reinstated=0, terminated_after_non_payment=0)
    sold = 0
    for booking in year.bookings:
        view = await stack.api.get(OPERATOR, f"{API}/subscriptions/{booking.id}")
        if view is None:
            continue
        statuses[view["status"]] += 1
        sold += view["channel_partner_id"] is not None
        actions = [entry["action"] for entry in view["history"]]
        dunning["suspended_for_non_payment"] += actions.count(SUSPENDED_FOR_NON_PAYMENT)
        dunning["reinstated"] += actions.count(REINSTATED)
        dunning["terminated_after_non_payment"] += (
            view["status"] == SubscriptionStatus.TERMINATED
            and view["suspension_reason"] == SuspensionReason.NON_PAYMENT
        )
    report.subscriptions = {"booked": sum(statuses.values()), **statuses, "sold_by_partners": sold}
    report.dunning = dict(dunning)


async def _store(stack: Stack, report: YearReport, months: list[str]) -> None:
    failed = models.Payment.status == "failed"
    async with stack.sessions() as session:
        report.catalogue_apps = int(await session.scalar(select(func.count()).select_from(models.App)) or 0)
        issued = await session.execute(select(models.InvoiceRow.issued_at))
        # By the month of the invoice charged: the gateway dates its attempts by the wall clock, not simulated time.
        declined = await session.execute(
            select(models.InvoiceRow.issued_at)
            .join(models.Payment, models.Payment.invoice_number == models.InvoiceRow.number)
            .where(failed)
        )
        invoices_by_month = Counter(f"{at:%Y-%m}" for (at,) in issued)
        failed_by_month = Counter(f"{at:%Y-%m}" for (at,) in declined)
        # Invoices paid after at least one declined charge: dunning that worked.
        recovered = await session.scalar(
            select(func.count(distinct(models.InvoiceRow.number)))
            .join(models.Payment, models.Payment.invoice_number == models.InvoiceRow.number)
            .where(failed, models.InvoiceRow.status == "paid")
        )
        decisions = (await session.scalars(select(models.TierDecisionRow.change))).all()
        reviews = (await session.scalars(select(models.PartnerReviewEvent.event))).all()
    report.dunning = {
        "payments_failed": sum(failed_by_month.values()),
        "invoices_recovered": int(recovered or 0),
        **report.dunning,
    }
    figures = {row.month: row for row in await reports.monthly(stack.sessions)}
    report.money = [
        MonthRow(
            month,
            invoices_by_month[month],
            failed_by_month[month],
            figures[month].paid_net_cents if month in figures else 0,
            figures[month].isv_share_cents if month in figures else 0,
            figures[month].payouts_cents if month in figures else 0,
        )
        # Every simulated month, those with nothing in them too; anything dated later (none expected) as well.
        for month in sorted(set(months) | invoices_by_month.keys() | failed_by_month.keys() | figures.keys())
    ]
    report.tiers = {change.value: decisions.count(change.value) for change in TierChange}
    report.reviews = dict(sorted(Counter(reviews).items()))


# Column headers of the one-row tables, by the report's keys.
ONBOARDING_COLUMNS = {
    "started": "started",
    "live": "live",
    "live_late": "live late (> 6 weeks)",
    "rejected": "rejected",
    "open": "open",
    "open_overdue": "open overdue",
    "held": "held on the way",
}
DUNNING_COLUMNS = {
    "payments_failed": "charges failed",
    "invoices_recovered": "invoices recovered",
    "suspended_for_non_payment": "suspended (non-payment)",
    "reinstated": "reinstated",
    "terminated_after_non_payment": "terminated",
}
TIER_COLUMNS = {"upgrade": "up", "keep": "kept", "downgrade": "down"}
MONEY_HEADERS = ["month", "invoices", "failed charges", "paid (net)", "ISVs' share", "paid out"]


def render(report: YearReport) -> str:
    head = (
        f"Simulated {report.months} month{'s' if report.months != 1 else ''} of {report.isvs} ISVs, "
        f"{report.customers} customers and "
        f"{report.partners} partners (seed {report.seed}, from {report.first_month}) in {report.seconds:.1f} s"
    )
    reviews = ", ".join(f"{event} {count}" for event, count in report.reviews.items()) or "none"
    parts = [
        head,
        section(
            "Onboardings",
            f"{_one_row(report.onboardings, ONBOARDING_COLUMNS)}\napps in the catalogue: {report.catalogue_apps}",
        ),
        section(
            "Subscriptions at the year end", _one_row(report.subscriptions, {key: key for key in report.subscriptions})
        ),
        section(
            "Revenue and payouts per month",
            table(MONEY_HEADERS, [*map(_money_row, report.money), _total(report.money)]),
        ),
        section("Dunning", _one_row(report.dunning, DUNNING_COLUMNS)),
        section(
            "Channel partners at the programme's year end",
            f"{_one_row(report.tiers, TIER_COLUMNS)}\ntermination reviews: {reviews}",
        ),
    ]
    if report.refused:
        refused = ", ".join(f"{code} {count}" for code, count in report.refused.items())
        parts.append(f"\n\ncommands refused (the state had moved on): {refused}")
    return "".join(parts)


def _one_row(figures: dict[str, int], columns: dict[str, str]) -> str:
    return table(list(columns.values()), [[figures[key] for key in columns]])


def _money_row(row: MonthRow) -> list[object]:
    return [
        row.month,
        row.invoices,
        row.failed_payments,
        money(row.paid_net_cents),
        money(row.isv_share_cents),
        money(row.payouts_cents),
    ]


def _total(rows: list[MonthRow]) -> list[object]:
    total = MonthRow(
        "total",
        sum(row.invoices for row in rows),
        sum(row.failed_payments for row in rows),
        sum(row.paid_net_cents for row in rows),
        sum(row.isv_share_cents for row in rows),
        sum(row.payouts_cents for row in rows),
    )
    return _money_row(total)
