"""`partnerflow audit`: the hash-chained audit log, its verification, and a workflow's decoded history."""

from typing import Annotated, Any

import typer

from cli import render
from cli.client import EXIT_CHECK_FAILED
from cli.options import AllPages, AsJson, PageSize, PageToken, api, emit, emit_page

app = typer.Typer(help="Auditors: the audit log, its verification, workflow histories.", no_args_is_help=True)

SUMMARY_WIDTH = 110


@app.command()
def log(
    ctx: typer.Context,
    subject: Annotated[str | None, typer.Option(help="Who, e.g. pm-anna.")] = None,
    target: Annotated[str | None, typer.Option(help="A workflow id, e.g. onboarding-acme-acme-crm.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. onboarding.advance, invoice.issued.")] = None,
    outcome: Annotated[str | None, typer.Option(help="accepted, refused, replayed, failed or done.")] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time on, ISO 8601 with a zone: 2026-11-30T09:00:00Z.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this time.")] = None,
    onboarding: Annotated[str | None, typer.Option(help="Entries about this onboarding.")] = None,
    app_id: Annotated[str | None, typer.Option("--app", help="Entries about this app.")] = None,
    isv: Annotated[str | None, typer.Option(help="Entries about this ISV.")] = None,
    subscription: Annotated[str | None, typer.Option(help="Entries about this subscription.")] = None,
    customer: Annotated[str | None, typer.Option(help="Entries about this customer.")] = None,
    partner: Annotated[str | None, typer.Option(help="Entries about this channel partner.")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Every matching entry as CSV, unpaged.")] = False,
    page_size: PageSize = None,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: AsJson = False,
) -> None:
    """Audit entries, oldest first: every command answered (accepted or refused) and every system action."""
    connection = api(ctx, as_json)
    filters: dict[str, object] = {
        "subject": subject,
        "target": target,
        "action": action,
        "outcome": outcome,
        "since": since,
        "until": until,
        "onboarding_id": onboarding,
        "app_id": app_id,
        "isv_id": isv,
        "subscription_id": subscription,
        "customer_id": customer,
        "partner_id": partner,
    }
    if csv:
        typer.echo(connection.send("GET", "/audit/log", params={**filters, "format": "csv"}).text, nl=False)
        return
    page = connection.pages("/audit/log", {**filters, "page_size": page_size}, page_token, every)
    emit_page(
        connection,
        page,
        ["SEQ", "AT", "SUBJECT", "ACTION", "TARGET", "OUTCOME", "STATUS", "DETAIL"],
        lambda e: [
            e["seq"],
            render.short(e["occurred_at"]),
            e["subject"],
            e["action"],
            e["target"],
            e["outcome"],
            e["status_code"],
            e["detail"],
        ],
        {7: 60},
    )


@app.command()
def verify(
    ctx: typer.Context,
    cross_check: Annotated[
        bool, typer.Option("--cross-check", help="Also check every accepted command in Temporal's histories (costly).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Recompute the hash chain; exits 4 when it is broken or a command has no entry."""
    connection = api(ctx, as_json)
    answer = connection.get("/audit/verify", cross_check=cross_check or None)
    emit(connection, answer, _verification)
    checked = answer.get("cross_check")
    if not answer["ok"] or (checked and checked["missing_count"]):
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def history(
    ctx: typer.Context,
    workflow_id: Annotated[
        str,
        typer.Argument(help="onboarding-{isv}-{app}, subscription-{customer}-{app}, partner-{id}, payout-{yyyy-mm}"),
    ],
    run_id: Annotated[str | None, typer.Option(help="One run of the workflow.")] = None,
    last: Annotated[int | None, typer.Option(min=1, help="Only the last N entries of the timeline.")] = None,
    as_json: AsJson = False,
) -> None:
    """A workflow's Temporal history, decoded, as a timeline across its runs (refused commands merged in)."""
    connection = api(ctx, as_json)
    timeline = connection.get(f"/audit/workflows/{workflow_id}/history", run_id=run_id)
    if last is not None:
        timeline["events"] = timeline["events"][-last:]
    emit(connection, timeline, _timeline)


def _verification(answer: dict[str, Any]) -> str:
    broken = answer["first_broken"]
    verdict = "intact" if answer["ok"] else f"BROKEN at entry {broken['seq']}: {broken['reason']}"
    checked = answer.get("cross_check")
    return render.block(
        [
            ("chain", verdict),
            ("entries checked", f"{answer['checked']:,}"),
            ("last hash", answer["last_hash"]),
            ("queued", answer["queued"]),
            ("unresolved commands", answer["unresolved_commands"]),
            ("cross-check", _cross_check(checked) if checked else None),
        ]
    )


def _cross_check(checked: dict[str, Any]) -> str:
    found = f"{checked['commands']:,} accepted commands in {checked['runs']:,} runs"
    if not checked["missing_count"]:
        return f"{found}, each with its entry"
    missing = "; ".join(render.text(entry) for entry in checked["missing"])
    return f"{found}; {checked['missing_count']} without an entry: {missing}"


def _timeline(timeline: dict[str, Any]) -> str:
    runs = render.table(
        ["RUN", "STATUS", "STARTED", "CLOSED", "EVENTS"],
        [
            [r["run_id"], r["status"], render.short(r["started_at"]), render.short(r["closed_at"]), r["event_count"]]
            for r in timeline["runs"]
        ],
    )
    events = render.table(
        ["TIME", "ACTOR", "TYPE", "OUTCOME", "SUMMARY"],
        [[render.short(e["time"]), e["actor"], e["type"], e["outcome"], e["summary"]] for e in timeline["events"]],
        {4: SUMMARY_WIDTH},
    )
    omitted = f"{timeline['omitted_events']} bookkeeping events left out"
    head = f"{timeline['workflow_id']} ({timeline['workflow_type']}), {omitted}"
    return head + render.section("runs", runs) + render.section("timeline", events)
