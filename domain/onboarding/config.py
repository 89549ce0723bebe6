"""The onboarding process as data: stages in order, their exit criteria and SLA budgets."""

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class StageId(StrEnum):
    IDENTIFICATION = "identification"
    FEASIBILITY = "feasibility"
    COMMERCIAL = "commercial"
    INTEGRATION = "integration"
    GO_LIVE = "go_live"


class CriterionSource(StrEnum):
    """Where a criterion's answer comes from."""

    CHECKLIST = "checklist"  # a partner manager ticks it
    PROFILE = "profile"  # the ISV profile given at start is complete
    CATEGORY = "category"  # the app's category is a portfolio category
    PARTNER_MANAGER = "partner_manager"  # a partner manager is assigned
    REVENUE_SHARE = "revenue_share"  # commercial terms carry a revenue share
    PLANS = "plans"  # commercial terms price at least one plan


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    source: CriterionSource = CriterionSource.CHECKLIST


class StageSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: StageId
    title: str
    budget: timedelta
    criteria: tuple[Criterion, ...]


class OnboardingConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    stages: tuple[StageSpec, ...]
    target: timedelta
    # The predicted go-live (domain/onboarding/prediction.py) takes a stage's median from the marketplace's history
    # once this many completed onboardings passed the stage, from the most recent `history_window` go-lives.
    history_min_samples: int
    history_window: int

    def stage(self, stage_id: StageId) -> StageSpec:
        return next(spec for spec in self.stages if spec.id == stage_id)

    def index(self, stage_id: StageId) -> int:
        return [spec.id for spec in self.stages].index(stage_id)

    def next_stage(self, stage_id: StageId) -> StageId | None:
        position = self.index(stage_id) + 1
        return self.stages[position].id if position < len(self.stages) else None

    def budget_after(self, stage_id: StageId) -> timedelta:
        """The budgets of the stages that follow `stage_id`, summed."""
        later = self.stages[self.index(stage_id) + 1 :]
        return sum((spec.budget for spec in later), timedelta())

    def stage_of_item(self, item_id: str) -> StageId | None:
        for spec in self.stages:
            if any(criterion.id == item_id for criterion in spec.criteria):
                return spec.id
        return None


# Checklist items with behaviour of their own: registering the endpoint records it; the connector
# test is ticked only by a signed test call to that endpoint that succeeds.
ENDPOINT_ITEM = "provisioning_endpoint_registered"
CONNECTOR_TEST_ITEM = "connector_test_passed"


def _criterion(id: str, title: str, source: CriterionSource = CriterionSource.CHECKLIST) -> Criterion:
    return Criterion(id=id, title=title, source=source)


ONBOARDING = OnboardingConfig(
    target=timedelta(days=42),
    history_min_samples=5,
    history_window=200,
    stages=(
        StageSpec(
            id=StageId.IDENTIFICATION,
            title="Identification and alignment (Identifikation und Abstimmung)",
            budget=timedelta(days=5),
            criteria=(
                _criterion("isv_profile_complete", "ISV profile complete", CriterionSource.PROFILE),
                _criterion("category_in_portfolio", "App category is a portfolio category", CriterionSource.CATEGORY),
                _criterion("partner_manager_assigned", "Partner manager assigned", CriterionSource.PARTNER_MANAGER),
            ),
        ),
        StageSpec(
            id=StageId.FEASIBILITY,
            title="Feasibility check (Machbarkeitsprüfung)",
            budget=timedelta(days=7),
            criteria=(
                _criterion("technical_assessment_passed", "Technical assessment passed"),
                _criterion("eu_hosting_confirmed", "Hosting in a German/EU data centre confirmed"),
                _criterion("data_export_confirmed", "Data-export capability confirmed"),
            ),
        ),
        StageSpec(
            id=StageId.COMMERCIAL,
            title="Commercial agreement (Kommerzielle Vereinbarung)",
            budget=timedelta(days=10),
            criteria=(
                _criterion("revenue_share_agreed", "Revenue share agreed", CriterionSource.REVENUE_SHARE),
                _criterion("plans_priced", "Plans priced", CriterionSource.PLANS),
                _criterion("contract_signed", "Contract signed"),
            ),
        ),
        StageSpec(
            id=StageId.INTEGRATION,
            title="Integration",
            budget=timedelta(days=14),
            criteria=(
                _criterion(ENDPOINT_ITEM, "Provisioning endpoint registered"),
                _criterion(CONNECTOR_TEST_ITEM, "Connector test passed"),
                _criterion("billing_integration_tested", "Billing integration tested"),
                _criterion("sso_tested", "SSO tested"),
            ),
        ),
        StageSpec(
            id=StageId.GO_LIVE,
            title="Go-live",
            budget=timedelta(days=6),
            criteria=(_criterion("catalogue_listing_approved", "Catalogue listing approved"),),
        ),
    ),
)
