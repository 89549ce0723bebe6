"""The operator console (`/console/`, the project's own files in `console/`) and the API's documentation pages
(`/docs`, `/redoc`), all served by this app with nothing loaded from elsewhere.

The console is static HTML and JavaScript that works through /api/v1 with the key its user pastes, so it adds no
privilege of its own. Swagger UI and ReDoc come from the `fastapi-offline` package's files, installed with the
project. A Content-Security-Policy keeps every page to this origin: a page that tried to load from a CDN would be
refused by the browser, not silently depend on the network.
"""

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
DOCS_ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_ASSETS_URL = "/static/docs"

CONSOLE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc start from an inline script and style their elements inline.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"
)


class _PolicedFiles(StaticFiles):
    def __init__(self, directory: Path, policy: str) -> None:
        super().__init__(directory=directory, html=True)
        self._policy = policy

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        _secure(response, self._policy)
        return response


def _secure(response: Response, policy: str) -> Response:
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def install_console(app: FastAPI) -> None:
    """Mounts the console and the documentation pages; `FastAPI(docs_url=None, redoc_url=None)` must leave them."""
    app.mount("/console", _PolicedFiles(CONSOLE_DIR, CONSOLE_POLICY), name="console")
    app.mount(DOCS_ASSETS_URL, _PolicedFiles(DOCS_ASSETS_DIR, DOCS_POLICY), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url="data:,",
        )
        return _secure(page, DOCS_POLICY)  # type: ignore[return-value]

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url="data:,",
            with_google_fonts=False,
        )
        return _secure(page, DOCS_POLICY)  # type: ignore[return-value]
