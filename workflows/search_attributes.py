"""Custom search attributes: what lists filter on through Temporal visibility. Ids only, no personal data.

Temporal's SQL visibility allows at most 10 Keyword attributes per namespace, so the processes share
theirs: every workflow's business status is `ProcessStatus`, its responsible manager `Manager`
(queries always name the WorkflowType as well).
"""

from typing import Any

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

ISV_ID = SearchAttributeKey.for_keyword("IsvId")
APP_ID = SearchAttributeKey.for_keyword("AppId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CHANNEL_PARTNER_ID = SearchAttributeKey.for_keyword("ChannelPartnerId")
PROCESS_STATUS = SearchAttributeKey.for_keyword("ProcessStatus")
MANAGER = SearchAttributeKey.for_keyword("Manager")
ONBOARDING_STAGE = SearchAttributeKey.for_keyword("OnboardingStage")
SLA_STATUS = SearchAttributeKey.for_keyword("SlaStatus")
PARTNER_TIER = SearchAttributeKey.for_keyword("PartnerTier")
# The onboarding's predicted go-live and whether it is after the target (domain/onboarding/prediction.py).
PREDICTED_GO_LIVE = SearchAttributeKey.for_datetime("PredictedGoLive")
MISSES_GO_LIVE_TARGET = SearchAttributeKey.for_bool("MissesGoLiveTarget")
# How it was predicted (stage_budgets, marketplace_history, mixed): read back by lists, never searched on, so Text
# (its own slots) rather than the last free Keyword slot of SQL visibility.
PREDICTION_BASIS = SearchAttributeKey.for_text("PredictionBasis")

# Per process, the shared attributes under the names the process uses.
ONBOARDING_STATUS = SUBSCRIPTION_STATUS = PARTNER_STATUS = PROCESS_STATUS
PARTNER_MANAGER = ACCOUNT_MANAGER = MANAGER

ALL: tuple[SearchAttributeKey[Any], ...] = (
    ISV_ID,
    APP_ID,
    CUSTOMER_ID,
    CHANNEL_PARTNER_ID,
    PROCESS_STATUS,
    MANAGER,
    ONBOARDING_STAGE,
    SLA_STATUS,
    PARTNER_TIER,
    PREDICTED_GO_LIVE,
    MISSES_GO_LIVE_TARGET,
    PREDICTION_BASIS,
)

_CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.TEXT: "Text",
}


def dev_server_arguments() -> list[str]:
    """`temporal server start-dev` arguments that register every attribute with its type."""
    return [arg for key in ALL for arg in ("--search-attribute", f"{key.name}={_CLI_TYPES[key.indexed_value_type]}")]
