"""Custom search attributes: what lists filter on through Temporal visibility. Ids only, no personal data.

Temporal's SQL visibility allows at most 10 Keyword attributes per namespace, so the processes share
theirs: every workflow's business status is `ProcessStatus`, its responsible manager `Manager`
(queries always name the WorkflowType as well).
"""

from temporalio.common import SearchAttributeKey

ISV_ID = SearchAttributeKey.for_keyword("IsvId")
APP_ID = SearchAttributeKey.for_keyword("AppId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CHANNEL_PARTNER_ID = SearchAttributeKey.for_keyword("ChannelPartnerId")
PROCESS_STATUS = SearchAttributeKey.for_keyword("ProcessStatus")
MANAGER = SearchAttributeKey.for_keyword("Manager")
ONBOARDING_STAGE = SearchAttributeKey.for_keyword("OnboardingStage")
SLA_STATUS = SearchAttributeKey.for_keyword("SlaStatus")
PARTNER_TIER = SearchAttributeKey.for_keyword("PartnerTier")

# Per process, the shared attributes under the names the process uses.
ONBOARDING_STATUS = SUBSCRIPTION_STATUS = PARTNER_STATUS = PROCESS_STATUS
PARTNER_MANAGER = ACCOUNT_MANAGER = MANAGER

ALL: tuple[SearchAttributeKey[str], ...] = (
    ISV_ID,
    APP_ID,
    CUSTOMER_ID,
    CHANNEL_PARTNER_ID,
    PROCESS_STATUS,
    MANAGER,
    ONBOARDING_STAGE,
    SLA_STATUS,
    PARTNER_TIER,
)
