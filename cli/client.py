"""The command line's side of HTTP: one Partnerflow API with a key, and its refusals and outages as exceptions."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx

from cli import render

URL_VARIABLE = "PARTNERFLOW_URL"
KEY_VARIABLE = "PARTNERFLOW_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"
# A command waits up to COMMAND_WAIT_SECONDS (15 by default) for its workflow, a payout run up to 10 s.
TIMEOUT_SECONDS = 60.0

# Exit codes: 2 is the usage error of Typer (Click) itself.
EXIT_REFUSED = 1  # the API answered 4xx
EXIT_UNAVAILABLE = 3  # no answer, or 5xx
EXIT_CHECK_FAILED = 4  # the answer says something is wrong (a broken audit chain)


class Failure(Exception):
    """Ends the command with `exit_code` after printing `lines` (to stderr) and, with --json, `body` (to stdout)."""

    exit_code = EXIT_REFUSED

    def __init__(self, lines: list[str], body: Any = None) -> None:
        super().__init__(lines[0])
        self.lines, self.body = lines, body


class Refused(Failure):
    """An error answer, e.g. `409 Conflict: criteria_unmet — ...` with its details below."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            self.code, message, details = str(error.get("code")), str(error.get("message")), error.get("details")
        else:  # not the API's error shape: a proxy's page, say
            self.code, message, details = "", render.cut(str(body).strip(), 300), None
        head = f"{status} {status_words(status)}: " + (f"{self.code} — {message}" if self.code else message)
        lines = [head, *render.nested(details, "  ")] if details else [head]
        if status == HTTPStatus.UNAUTHORIZED:
            lines.append(f"  (give the API key with --key or {KEY_VARIABLE})")
        super().__init__(lines, body)
        self.exit_code = EXIT_UNAVAILABLE if status >= HTTPStatus.INTERNAL_SERVER_ERROR else EXIT_REFUSED


class Unreachable(Failure):
    exit_code = EXIT_UNAVAILABLE

    def __init__(self, url: str, reason: str) -> None:
        super().__init__([f"cannot reach Partnerflow at {url} (is scripts/run running?): {reason}"])


def status_words(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP status"


@dataclass
class Api:
    """Partnerflow's API at `url` (the server, e.g. http://127.0.0.1:8000), called with `key`."""

    url: str
    key: str | None
    as_json: bool = False  # set by a command's --json: refusals then print their JSON too
    _http: httpx.Client | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # The API's own prefix is added here; a URL given with it works too.
        self.url = self.url.rstrip("/").removesuffix(API_PREFIX)

    def http(self) -> httpx.Client:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
            self._http = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=TIMEOUT_SECONDS)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, object] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """The answer to one request; Refused for an error status, Unreachable when there is no answer."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        query = {name: _query_value(value) for name, value in (params or {}).items() if value is not None}
        try:
            response = self.http().request(method, path, json=body, params=query, headers=headers)
        except httpx.TransportError as error:
            raise Unreachable(self.url, str(error) or type(error).__name__) from error
        if response.is_error:
            raise Refused(response.status_code, _json_or_text(response))
        return response

    def call(self, method: str, path: str, **options: Any) -> Any:
        """The JSON answer of one request."""
        return _json_or_text(self.send(method, path, **options))

    def get(self, path: str, **params: object) -> Any:
        return self.call("GET", path, params=params)

    def pages(self, path: str, params: Mapping[str, object], page_token: str | None, every: bool) -> dict[str, Any]:
        """One page of a list (`items`, `next_page_token`), or with `every` all pages from `page_token` on."""
        page: dict[str, Any] = self.get(path, **params, page_token=page_token)
        items = list(page.get("items", []))
        while every and page.get("next_page_token"):
            page = self.get(path, **params, page_token=page["next_page_token"])
            items += page.get("items", [])
        return {**page, "items": items}


def _query_value(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError:
        return response.text
