"""The 5-stage, 6-week ISV onboarding (docs/architecture.md)."""
