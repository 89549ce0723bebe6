"""Custom search attributes: what lists filter on through Temporal visibility. Ids only, no personal data."""

from temporalio.common import SearchAttributeKey

ISV_ID = SearchAttributeKey.for_keyword("IsvId")
APP_ID = SearchAttributeKey.for_keyword("AppId")
PARTNER_MANAGER = SearchAttributeKey.for_keyword("PartnerManager")
ONBOARDING_STAGE = SearchAttributeKey.for_keyword("OnboardingStage")
ONBOARDING_STATUS = SearchAttributeKey.for_keyword("OnboardingStatus")
SLA_STATUS = SearchAttributeKey.for_keyword("SlaStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CHANNEL_PARTNER_ID = SearchAttributeKey.for_keyword("ChannelPartnerId")
SUBSCRIPTION_STATUS = SearchAttributeKey.for_keyword("SubscriptionStatus")
PARTNER_TIER = SearchAttributeKey.for_keyword("PartnerTier")
ACCOUNT_MANAGER = SearchAttributeKey.for_keyword("AccountManager")
PARTNER_STATUS = SearchAttributeKey.for_keyword("PartnerStatus")

ALL: tuple[SearchAttributeKey[str], ...] = (
    ISV_ID,
    APP_ID,
    PARTNER_MANAGER,
    ONBOARDING_STAGE,
    ONBOARDING_STATUS,
    SLA_STATUS,
    CUSTOMER_ID,
    CHANNEL_PARTNER_ID,
    SUBSCRIPTION_STATUS,
    PARTNER_TIER,
    ACCOUNT_MANAGER,
    PARTNER_STATUS,
)
