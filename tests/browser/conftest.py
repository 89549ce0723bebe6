"""The console in a real browser: headless Chromium (Debian's package) driven by Playwright, against the app served
over HTTP on loopback with a real worker, store and Temporal dev server (lists need its visibility).

Every page the tests visit is checked for JavaScript errors and for requests that leave loopback; screenshots go
to tests/browser/screenshots/ (ignored by git) so the pages can be looked at.
"""

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright
from temporalio.testing import WorkflowEnvironment

from devstack import time_skipping_server
from tests.api.conftest import Api, key_of, serving
from tests.conftest import local_dev_server
from tests.http_server import over_http

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
LOOPBACK = {"127.0.0.1", "localhost"}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (Debian's `chromium` package; scripts/bootstrap installs it as root)")
    return found


@dataclass
class Console:
    """A browser tab on the console, with what it did that the tests check."""

    page: Page
    url: str
    api: Api
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    async def sign_in(self, role: str) -> None:
        await self.page.goto(f"{self.url}/console/")
        await self.page.get_by_label("API key").fill(key_of(role))
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.get_by_role("button", name="Sign out").wait_for()

    async def open(self, hash_path: str) -> None:
        await self.page.goto(f"{self.url}/console/#{hash_path}")
        await self.page.wait_for_function(
            "hash => document.getElementById('main').dataset.shown === hash", arg=f"#{hash_path}"
        )

    async def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        outside = [
            url
            for url in self.requests
            if urlparse(url).scheme in ("http", "https", "ws", "wss") and urlparse(url).hostname not in LOOPBACK
        ]
        assert outside == [], outside


def _is_script_error(kind: str, text: str) -> bool:
    # Chromium also logs every answer >= 400 as "Failed to load resource": the refusals the tests ask for.
    return kind == "error" and not text.startswith("Failed to load resource")


@pytest_asyncio.fixture(scope="module")
async def console_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of the console tests' own: lists read every workflow in its visibility, and those other tests
    left on a shared one have no worker any more to answer the console's reads."""
    async with local_dev_server() as env:
        yield env


@pytest_asyncio.fixture(scope="module")
async def served(
    console_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Api]]:
    """The app over real HTTP (uvicorn on loopback), its worker and store."""
    async with serving(console_server, tmp_path_factory.mktemp("console")) as api:
        assert api.app is not None
        async with over_http(api.app) as url:
            yield url, api


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        await launched.close()


@pytest_asyncio.fixture
async def console(browser: Browser, served: tuple[str, Api], request: pytest.FixtureRequest) -> AsyncIterator[Console]:
    url, api = served
    async with tab_on(browser, url, api, request.node.name) as tab:
        yield tab


@pytest_asyncio.fixture
async def skipping_console(browser: Browser, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Console]:
    """The console on the time-skipping test server, for pages of a subscription after its trial: the test moves
    the clock (the console's reads are queries, which need no visibility)."""
    async with (
        time_skipping_server() as env,
        serving(env, tmp_path) as api,
    ):
        assert api.app is not None
        async with over_http(api.app) as url, tab_on(browser, url, api, request.node.name) as tab:
            yield tab


@asynccontextmanager
async def tab_on(browser: Browser, url: str, api: Api, test_name: str) -> AsyncIterator[Console]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    tab = Console(page, url, api)
    page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: tab.errors.append(message.text) if _is_script_error(message.type, message.text) else None,
    )
    page.on("request", lambda request: tab.requests.append(request.url))
    page.set_default_timeout(15_000)
    yield tab
    await tab.screenshot(f"last-{test_name}")  # how the test left the page, for a failing one above all
    await context.close()
