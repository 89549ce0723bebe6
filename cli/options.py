"""What every command shares: the API from the root options, --json, --idempotency-key, paging, and printing."""

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from cli import render
from cli.client import Api

AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer as it is, for scripts.")]
IdempotencyKey = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="Sent as Idempotency-Key: a retry with the same key and body is applied once and answers the first "
        "answer.",
    ),
]
PageSize = Annotated[int | None, typer.Option("--page-size", min=1, help="Items per page (the API caps it).")]
PageToken = Annotated[str | None, typer.Option("--page-token", help="The next_page_token a previous page printed.")]
AllPages = Annotated[bool, typer.Option("--all", help="Follow next_page_token to the last page.")]


def api(ctx: typer.Context, as_json: bool = False) -> Api:
    """The API the root options name; `as_json` makes a refusal print its JSON body too."""
    found: Api = ctx.find_root().obj
    found.as_json = as_json
    return found


def emit(connection: Api, answer: Any, readable: Callable[[Any], str]) -> None:
    """The answer as JSON (--json) or as `readable` makes it for people."""
    if connection.as_json:
        typer.echo(as_json_text(answer))
    elif isinstance(answer, dict) and answer.get("status") == "pending" and "update_id" in answer:
        # 202: the workflow accepted the command and carries it out by itself.
        typer.echo(
            f"202 Accepted: pending — {answer.get('message')}\n"
            f"send it again with --idempotency-key {answer['update_id']} to read its outcome"
        )
    else:
        typer.echo(readable(answer))


def as_json_text(answer: Any) -> str:
    return json.dumps(answer, indent=2, ensure_ascii=False)


def emit_page(
    connection: Api,
    page: dict[str, Any],
    headers: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[object]],
    widest: dict[int, int] | None = None,
) -> None:
    """A list page as a table, then the token of the next page when there is one."""

    def readable(answer: dict[str, Any]) -> str:
        shown = render.table(headers, [row(item) for item in answer["items"]], widest)
        token = answer.get("next_page_token")
        return f"{shown}\n\nmore: --page-token {token}" if token else shown

    emit(connection, page, readable)


def command(
    ctx: typer.Context,
    as_json: bool,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    idempotency_key: str | None,
    readable: Callable[[Any], str],
) -> None:
    """Sends one command (fields left None are not sent) and prints its answer."""
    connection = api(ctx, as_json)
    sent = None if body is None else {name: value for name, value in body.items() if value is not None}
    emit(connection, connection.call(method, path, body=sent, idempotency_key=idempotency_key), readable)
