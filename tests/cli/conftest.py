"""The command line against a real stack: the API served by uvicorn on loopback, a real worker, a dev server of the
module's own (lists need its visibility) and a migrated SQLite store.

`run` starts the CLI as its own process (`python -m cli`, what the installed `partnerflow` script runs); `invoke`
runs it in this process through Typer's CliRunner, which is cheaper. Both wait in a thread, since the API they call
answers from this test's event loop.
"""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.app import app
from cli.client import KEY_VARIABLE, URL_VARIABLE
from tests.api.conftest import Api, key_of, serving
from tests.conftest import local_dev_server
from tests.http_server import over_http

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


@dataclass
class Stack:
    url: str
    api: Api

    def env(self, role: str | None) -> dict[str, str]:
        values = {URL_VARIABLE: self.url}
        if role is not None:
            values[KEY_VARIABLE] = key_of(role)
        return values

    async def run(self, *args: str, role: str | None = "pm", env: dict[str, str] | None = None) -> Outcome:
        """The CLI as a process of its own, with the URL and key in its environment."""
        environment = {name: value for name, value in os.environ.items() if name not in (URL_VARIABLE, KEY_VARIABLE)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli",
            *args,
            cwd=ROOT,
            env=environment | self.env(role) | (env or {}),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
        assert process.returncode is not None
        return Outcome(process.returncode, stdout.decode(), stderr.decode())

    async def invoke(self, *args: str, role: str | None = "pm") -> Outcome:
        """The CLI in this process, through CliRunner."""
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=self.env(role))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)


@pytest_asyncio.fixture(scope="module")
async def cli_server() -> AsyncIterator[WorkflowEnvironment]:
    async with local_dev_server() as env:
        yield env


@pytest_asyncio.fixture(scope="module")
async def stack(cli_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with serving(cli_server, tmp_path_factory.mktemp("cli")) as api:
        assert api.app is not None
        async with over_http(api.app) as url:
            yield Stack(url, api)
