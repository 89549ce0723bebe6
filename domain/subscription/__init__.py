"""A business customer's subscription to an app: trial, paid terms, dunning, suspend mode (DESIGN.md §2.2)."""
