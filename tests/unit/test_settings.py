"""Settings whose defaults depend on the machine."""

import os

import pytest

from settings import Settings


def test_the_main_job_starts_one_worker_process_per_core_by_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WORKER_PROCESSES", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)

    assert Settings(_env_file=None).worker_processes == 6


def test_worker_processes_can_still_be_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WORKER_PROCESSES", "3")

    assert Settings(_env_file=None).worker_processes == 3
