"""The main job's demo keys: used only when no API keys are configured, in the environment or in .env."""

import json
import os
from pathlib import Path

import pytest

from devstack import DEMO_API_KEYS, use_demo_keys_unless_configured

CONFIGURED = {"key-of-our-own": {"subject": "ops-olga", "roles": ["admin"]}}


@pytest.fixture
def no_api_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A working directory without .env and an environment without API_KEYS (both restored afterwards)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("API_KEYS", "{}")  # records the variable's earlier state, restored after the test
    monkeypatch.delenv("API_KEYS")
    return tmp_path


def test_without_configured_keys_the_demo_keys_are_used(no_api_keys: Path):
    assert use_demo_keys_unless_configured()
    assert json.loads(os.environ["API_KEYS"]) == DEMO_API_KEYS


def test_keys_configured_in_dot_env_are_not_overridden_by_the_demo_keys(no_api_keys: Path):
    (no_api_keys / ".env").write_text(f"API_KEYS={json.dumps(CONFIGURED)}\n")
    assert not use_demo_keys_unless_configured()
    assert "API_KEYS" not in os.environ


def test_keys_configured_in_the_environment_are_not_overridden(no_api_keys: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("API_KEYS", json.dumps(CONFIGURED))
    assert not use_demo_keys_unless_configured()
    assert json.loads(os.environ["API_KEYS"]) == CONFIGURED
