"""`partnerflow payouts`: the monthly statements of what each ISV is paid, and an admin's run of a month."""

from typing import Annotated, Any

import typer

from cli import render
from cli.options import AllPages, AsJson, IdempotencyKey, PageSize, PageToken, api, command, emit_page

app = typer.Typer(help="Monthly payouts to ISVs: statements, and running a month.", no_args_is_help=True)

HEADERS = ["MONTH", "ISV", "AMOUNT", "ENTRIES", "STATUS", "TRANSFER", "TRANSFERRED"]


def _row(statement: dict[str, Any]) -> list[object]:
    return [
        statement["month"],
        statement["isv_id"],
        render.money(statement["amount_cents"]),
        statement["entries"],
        statement["status"],
        statement["transfer_id"],
        render.short(statement["transferred_at"]),
    ]


@app.command("list")
def list_payouts(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="yyyy-mm")] = None,
    isv: Annotated[str | None, typer.Option(help="An ISV's id (an ISV's key sees its own only).")] = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: AsJson = False,
) -> None:
    """Payout statements, by month and ISV."""
    connection = api(ctx, as_json)
    page = connection.pages("/payouts", {"month": month, "isv_id": isv, "page_size": page_size}, page_token, every)
    emit_page(connection, page, HEADERS, _row)


@app.command()
def run(
    ctx: typer.Context,
    month: Annotated[str, typer.Argument(help="yyyy-mm, a month that has ended.")],
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Run (or re-run) a month's payout; a re-run transfers nothing twice."""
    command(ctx, as_json, "POST", f"/payouts/{month}/run", None, idempotency_key, _run)


def _run(answer: dict[str, Any]) -> str:
    head = f"payout {answer['month']} ({answer['workflow_id']}): {answer['status']}"
    return head + "\n\n" + render.table(HEADERS, [_row(statement) for statement in answer["statements"]])
