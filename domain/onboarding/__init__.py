"""The 5-stage, 6-week ISV onboarding (DESIGN.md §2.1)."""
