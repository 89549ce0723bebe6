"""Subscription rules as data: eligibility, VAT, billing period, dunning, suspend mode, export fee."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict


class SubscriptionConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_employees: int = 500  # SMEs up to 500 employees
    vat_percent: float = 19.0
    billing_period_months: int = 1
    dunning_retry_days: tuple[int, ...] = (3, 7)  # days after the first failed payment
    # A payment the provider has not settled (no webhook) within this many days counts as failed.
    pending_payment_days: int = 5
    suspend_days: int = 30  # "in der Regel 30 Tage"
    # The customer (and the ISV) hear this many days before the trial ends that it will; a booking with less of its
    # trial left hears at once.
    trial_ending_notice_days: int = 3
    export_fee_net_cents: int = 4_900
    currency: str = "EUR"
    # Who hears of points a channel partner could not yet be given (its programme is not running).
    partner_points_recipient: str = "partner-programme"

    @property
    def trial_ending_notice(self) -> timedelta:
        return timedelta(days=self.trial_ending_notice_days)

    @property
    def suspend_window(self) -> timedelta:
        return timedelta(days=self.suspend_days)


SUBSCRIPTIONS = SubscriptionConfig()
