"""Orchestration only: one deterministic workflow per file."""
