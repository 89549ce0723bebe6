"""`partnerflow partners`: channel partners, their points and tiers, quality reports and termination reviews."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import render
from cli.client import Api
from cli.options import AllPages, AsJson, IdempotencyKey, PageSize, PageToken, api, command, emit, emit_page

app = typer.Typer(help="Channel partners: enrol, contract events, tiers and points, reviews.", no_args_is_help=True)

PartnerId = Annotated[str, typer.Argument(help="The partner's id.")]
BACKTEST_POLL_SECONDS = 0.5  # how often `backtest --wait` reads the backtest again


@app.command("list")
def list_partners(
    ctx: typer.Context,
    tier: Annotated[str | None, typer.Option(help="basic, advanced, expert, expert_plus")] = None,
    account_manager: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="active or terminated")] = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: AsJson = False,
) -> None:
    """Channel partners, as Temporal's visibility sees them."""
    connection = api(ctx, as_json)
    filters = {"tier": tier, "account_manager": account_manager, "status": status, "page_size": page_size}
    page = connection.pages("/partners", filters, page_token, every)
    emit_page(
        connection,
        page,
        ["ID", "TIER", "STATUS", "ACCOUNT MANAGER", "CLOSED"],
        lambda p: [p["id"], p["tier"], p["status"], p["account_manager"], render.short(p["closed_at"])],
    )


@app.command()
def show(ctx: typer.Context, partner: PartnerId, as_json: AsJson = False) -> None:
    """One partner: tier, points this year, what the next tier and keeping this one take, an open review."""
    connection = api(ctx, as_json)
    emit(connection, connection.get(f"/partners/{partner}"), readable)


@app.command()
def enrol(
    ctx: typer.Context,
    partner: PartnerId,
    name: Annotated[str, typer.Option(help="The partner's company name.")],
    account_manager: Annotated[str, typer.Option(help="Its account manager, e.g. am-bernd.")],
    last_year_points: Annotated[int | None, typer.Option(help="Places the partner by last year's points.")] = None,
    legacy_level: Annotated[
        str | None, typer.Option(help="Or by its old programme's level: business, business_silber, gold, premium.")
    ] = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Enrol a channel partner in the programme."""
    body = {
        "id": partner,
        "name": name,
        "account_manager": account_manager,
        "last_year_points": last_year_points,
        "legacy_level": legacy_level,
    }
    command(ctx, as_json, "POST", "/partners", body, idempotency_key, readable)


@app.command()
def contract(
    ctx: typer.Context,
    partner: PartnerId,
    reference: Annotated[str, typer.Argument(help="The order's reference id: it counts once.")],
    kind: Annotated[
        str,
        typer.Option(
            help="new_customer_contract, existing_customer_contract, fixed_line_order, digital_phone_licenses, "
            "unite_pool_volume or marketplace_subscription."
        ),
    ],
    monthly_value: Annotated[str | None, typer.Option(help="Monthly value in euros, e.g. 49.90.")] = None,
    quantity: Annotated[int | None, typer.Option(help="Licences or units.")] = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Record a contract event: its points, awarded once per reference id."""
    body = {
        "reference_id": reference,
        "kind": kind,
        "quantity": quantity,
        "monthly_value_cents": _cents(monthly_value) if monthly_value is not None else None,
    }
    command(ctx, as_json, "POST", f"/partners/{partner}/contracts", body, idempotency_key, _award)


@app.command()
def review(
    ctx: typer.Context,
    partner: PartnerId,
    decision: Annotated[str, typer.Argument(help="retain or terminate")],
    note: Annotated[str, typer.Option(help="Why, for the history.")],
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Decide an open termination review."""
    body = {"decision": decision, "note": note}
    command(ctx, as_json, "POST", f"/partners/{partner}/review-decision", body, idempotency_key, readable)


@app.command()
def quality(ctx: typer.Context, partner: PartnerId, as_json: AsJson = False) -> None:
    """The partner's quarterly quality reports, newest first."""
    connection = api(ctx, as_json)
    emit(connection, connection.get(f"/partners/{partner}/quality-reports"), _reports)


@app.command()
def backtest(
    ctx: typer.Context,
    year: Annotated[int, typer.Option(help="The programme year to replay.")],
    policy: Annotated[
        Path | None,
        typer.Option(help="A JSON file with the alternative policy (docs/api.md); what it omits is today's."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result and print it.")] = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Replay a programme year under today's policy and an alternative one: who would move, and why."""
    connection = api(ctx, as_json)
    body = {"year": year, "policy": _policy_file(policy) if policy else {}}
    answer = connection.call("POST", "/partners/backtests", body=body, idempotency_key=idempotency_key)
    while wait and answer["status"] != "completed":
        time.sleep(BACKTEST_POLL_SECONDS)
        answer = _whole_backtest(connection, answer["id"])
    emit(connection, answer, _backtest)


@app.command("backtest-show")
def backtest_show(
    ctx: typer.Context,
    backtest_id: Annotated[str, typer.Argument(help="The id `partners backtest` answered with.")],
    csv: Annotated[bool, typer.Option("--csv", help="One row per partner as CSV (once completed).")] = False,
    as_json: AsJson = False,
) -> None:
    """A backtest's progress, or its result once completed."""
    connection = api(ctx, as_json)
    if csv:
        typer.echo(connection.send("GET", f"/partners/backtests/{backtest_id}/csv").text, nl=False)
        return
    emit(connection, _whole_backtest(connection, backtest_id), _backtest)


def _whole_backtest(connection: Api, backtest_id: str) -> dict[str, Any]:
    """The backtest with every line: its pages of lines followed to the last."""
    view: dict[str, Any] = connection.get(f"/partners/backtests/{backtest_id}")
    while view.get("next_page_token"):
        page = connection.get(f"/partners/backtests/{backtest_id}", page_token=view["next_page_token"])
        view = {**page, "lines": view["lines"] + page["lines"]}
    return view


def _policy_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{path}: {error}", param_hint="--policy") from error


def _cents(euros: str) -> int:
    try:
        return render.cents(euros)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--monthly-value") from error


# --- how a partner reads -----------------------------------------------------------------------------


def readable(view: dict[str, Any]) -> str:
    now = datetime.now(UTC)
    review = view["open_review"]
    next_tier = f"{view['points_to_next_tier']:,} points to {view['next_tier']}" if view["next_tier"] else "top tier"
    head = render.block(
        [
            ("partner", f"{view['id']}: {view['name']}"),
            ("account manager", view["account_manager"]),
            ("status", view["status"]),
            ("tier", view["tier"]),
            (
                "points",
                f"{view['points']:,} in {view['year']} ({render.count(view['events_counted'], 'event')}); "
                f"last year {view['last_year_points']:,}",
            ),
            ("next tier", next_tier),
            ("to keep the tier", f"{view['points_to_keep_tier']:,} points more"),
            (
                "projected tier",
                f"{view['projected_tier']} ({view['projection_basis']})"
                if view["projection_basis"]
                else view["projected_tier"],
            ),
            ("year ends", render.when(view["year_ends_at"], now)),
            ("next quality report", render.when(view["next_report_at"], now)),
            ("reports below thresholds", view["bad_streak"] or None),
            ("open review", _review(review, now) if review else None),
        ]
    )
    parts = [head]
    if view["decisions"]:
        decisions = render.table(
            ["YEAR", "POINTS", "FROM", "TO", "CHANGE"],
            [[d["year"], f"{d['points']:,}", d["from_tier"], d["to_tier"], d["change"]] for d in view["decisions"]],
        )
        parts.append(render.section("year-end decisions", decisions))
    history = view["history"][-8:]
    shown = render.table(
        ["AT", "ACTOR", "ACTION", "DETAIL"],
        [[render.short(h["at"]), h["actor"], h["action"], h.get("detail")] for h in history],
        {3: 70},
    )
    parts.append(render.section(f"history (last {len(history)} of {len(view['history'])})", shown))
    return "".join(parts)


def _review(review: dict[str, Any], now: datetime) -> str:
    escalation = (
        f"escalated {render.short(review['escalated_at'])}"
        if review["escalated_at"]
        else (f"escalates {render.when(review['escalate_at'], now)}")
    )
    return f"opened {render.short(review['opened_at'])}: {review['reason']}; {escalation}"


def _award(answer: dict[str, Any]) -> str:
    if answer["duplicate"]:
        return (
            f"{answer['reference_id']}: counted before, on {render.short(answer['awarded_at'])}, for "
            f"{answer['points_awarded']:,} points (nothing new); {answer['points']:,} points this year"
        )
    return f"{answer['reference_id']}: +{answer['points_awarded']:,} points; {answer['points']:,} points this year"


def _backtest(view: dict[str, Any]) -> str:
    done = f"{view['partners_done']} of {view['partners_total']}" if view["partners_total"] is not None else "counting"
    head = render.block(
        [
            ("backtest", f"{view['id']}: programme year {view['year']}"),
            ("status", f"{view['status']}, {view['percent_done']}% done ({done} partners)"),
            ("asked by", f"{view['created_by']}, {render.short(view['created_at'])}"),
        ]
    )
    totals = view["totals"]
    if totals is None:
        return f"{head}\nread it again with: partnerflow partners backtest-show {view['id']}"
    today, alternative = totals["today"], totals["alternative"]
    figures = [(tier, today["tiers"][tier], alternative["tiers"][tier]) for tier in today["tiers"]] + [
        (name.replace("_", " "), today[name], alternative[name])
        for name in ("upgrades", "downgrades", "kept", "ended", "termination_reviews")
    ]
    lines = render.table(
        ["PARTNER", "POINTS", "START", "TODAY", "ALTERNATIVE", "MOVE", "WHY"],
        [
            [
                line["partner_id"],
                f"{line['points_today']:,}"
                + (f" / {line['points_alternative']:,}" if line["points_alternative"] != line["points_today"] else ""),
                line["start_tier"],
                line["tier_today"] or "ended",
                line["tier_alternative"] or "ended",
                line["move"],
                line["why"],
            ]
            for line in view["lines"]
        ],
        {6: 90},
    )
    return "".join(
        [
            head,
            render.section(
                f"totals ({totals['higher']} higher, {totals['lower']} lower under the alternative)",
                render.table(["", "TODAY", "ALTERNATIVE"], figures),
            ),
            render.section("partners", lines),
        ]
    )


def _reports(answer: dict[str, Any]) -> str:
    return render.table(
        ["PERIOD", "PAID ON TIME", "USAGE", "CHURN", "FAILING", "BAD STREAK"],
        [
            [
                f"{render.short(r['period_start'])} to {render.short(r['period_end'])}",
                _share(r["metrics"]["paid_on_time_share"]),
                _share(r["metrics"]["usage_share"]) if r["metrics"]["usage_share"] is not None else "unknown",
                _share(r["metrics"]["churn_share"]),
                r["failing"] or None,
                r["bad_streak"],
            ]
            for r in answer["items"]
        ],
    )


def _share(value: float | None) -> str | None:
    return f"{value:.0%}" if value is not None else None
