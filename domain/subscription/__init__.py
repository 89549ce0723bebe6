"""A business customer's subscription to an app: trial, paid terms, dunning, suspend mode (docs/architecture.md)."""
