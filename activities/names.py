"""Activity names, the only part of `activities/` that workflows import."""

REGISTER_ISV = "onboarding.register_isv"
RECORD_ONBOARDING_STEP = "onboarding.record_step"
SEND_ONBOARDING_NOTICE = "onboarding.send_notice"
PUBLISH_APP = "catalogue.publish_app"
READ_MARKETPLACE_HISTORY = "onboarding.read_marketplace_history"

# Subscriptions and billing
RECORD_SUBSCRIPTION = "subscription.record"
ISSUE_INVOICE = "billing.issue_invoice"
CHARGE = "billing.charge"
RECORD_PAYMENT = "billing.record_payment"
BOOK_REVENUE_SHARE = "ledger.book_revenue_share"
# A payment attempt and its outcome in one activity: issue (when new), charge, record, book the revenue share.
SETTLE_INVOICE = "billing.settle_invoice"
# A subscription snapshot and the notice about the change it records, in one activity.
RECORD_SUBSCRIPTION_WITH_NOTICE = "subscription.record_with_notice"
SEND_NOTIFICATION = "notifications.send"
PRODUCE_EXPORT = "exports.produce"

# ISV connector
CALL_CONNECTOR = "connector.call"
# A subscription snapshot (and its notice), then the ISV connector call of the same lifecycle step, in one activity.
RECORD_AND_CALL_CONNECTOR = "connector.record_and_call"
TEST_CONNECTOR = "connector.test"

# Payouts
PREPARE_PAYOUT_STATEMENTS = "payouts.prepare_statements"
TRANSFER_PAYOUT = "payouts.transfer"

# Channel partner programme
RECORD_PARTNER = "partner.record"
AWARD_POINTS = "partner.award_points"
RECORD_TIER_DECISION = "partner.record_tier_decision"
MEASURE_QUALITY = "partner.measure_quality"
RECORD_QUALITY_REPORT = "partner.record_quality_report"
RECORD_REVIEW = "partner.record_review"

# Partner policy backtests
COUNT_BACKTEST_PARTNERS = "partner_backtest.count_partners"
LOAD_PARTNER_YEARS = "partner_backtest.load_partner_years"
RECORD_BACKTEST_LINES = "partner_backtest.record_lines"
COMPLETE_BACKTEST = "partner_backtest.complete"
