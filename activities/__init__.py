"""Every side effect of the workflows; each activity is idempotent and safe to retry."""
