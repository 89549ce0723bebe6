"""The channel partner programme: points, the annual tier review, quality reports, termination reviews (§2.3)."""
