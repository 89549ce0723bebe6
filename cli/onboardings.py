"""`partnerflow onboardings`: an app's way onto the marketplace, stage by stage."""

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from cli import render
from cli.options import AllPages, AsJson, IdempotencyKey, PageSize, PageToken, api, command, emit, emit_page

app = typer.Typer(help="ISV onboardings: start, read, tick the checklist, advance, hold, reject.", no_args_is_help=True)

OnboardingId = Annotated[str, typer.Argument(help="The onboarding's id, `{isv}-{app}`.")]
Comment = Annotated[str | None, typer.Option("--comment", help="Why, for the history.")]
Reason = Annotated[str, typer.Option("--reason", help="Why, for the history.")]
HISTORY_SHOWN = 8


@app.command("list")
def list_onboardings(
    ctx: typer.Context,
    stage: Annotated[
        str | None, typer.Option(help="identification, feasibility, commercial, integration, go_live")
    ] = None,
    status: Annotated[str | None, typer.Option(help="in_progress, on_hold, live, rejected")] = None,
    sla: Annotated[str | None, typer.Option("--sla", help="on_track, at_risk, overdue")] = None,
    partner_manager: Annotated[str | None, typer.Option()] = None,
    isv: Annotated[str | None, typer.Option(help="An ISV's id.")] = None,
    misses_target: Annotated[
        bool | None, typer.Option("--misses-target/--meets-target", help="Predicted to miss (or meet) the target.")
    ] = None,
    by_go_live: Annotated[
        bool, typer.Option("--by-go-live", help="By predicted go-live, earliest first (across pages).")
    ] = False,
    page_size: PageSize = None,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: AsJson = False,
) -> None:
    """Onboardings, newest first, as Temporal's visibility sees them."""
    connection = api(ctx, as_json)
    filters = {"stage": stage, "status": status, "sla_status": sla, "partner_manager": partner_manager, "isv_id": isv}
    filters |= {
        "misses_target": None if misses_target is None else str(misses_target).lower(),
        "sort": "predicted_go_live" if by_go_live else None,
    }
    page = connection.pages("/onboardings", {**filters, "page_size": page_size}, page_token, every)
    emit_page(
        connection,
        page,
        ["ID", "STAGE", "STATUS", "SLA", "PARTNER MANAGER", "STARTED", "PREDICTED GO-LIVE", "CLOSED"],
        lambda o: [
            o["id"],
            o["stage"],
            o["status"],
            o["sla_status"],
            o["partner_manager"],
            render.short(o["started_at"]),
            _predicted_cell(o),
            render.short(o["closed_at"]),
        ],
    )


@app.command()
def show(ctx: typer.Context, onboarding: OnboardingId, as_json: AsJson = False) -> None:
    """One onboarding: stage, SLA and deadlines, the checklist with its ticks, terms, the latest history."""
    connection = api(ctx, as_json)
    emit(connection, connection.get(f"/onboardings/{onboarding}"), readable)


@app.command()
def start(
    ctx: typer.Context,
    isv: Annotated[str, typer.Option(help="The ISV's id (a slug).")],
    isv_name: Annotated[str, typer.Option(help="The ISV's company name.")],
    email: Annotated[str, typer.Option(help="The ISV's contact e-mail.")],
    app_id: Annotated[str, typer.Option("--app", help="The app's id (a slug).")],
    app_name: Annotated[str, typer.Option(help="The app's name.")],
    category: Annotated[str, typer.Option(help="A portfolio category, e.g. crm_customer_management.")],
    partner_manager: Annotated[str, typer.Option(help="The partner manager who drives it, e.g. pm-anna.")],
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Start an onboarding in identification; its id is `{isv}-{app}`."""
    body = {
        "isv": {"id": isv, "name": isv_name, "contact_email": email},
        "app": {"id": app_id, "name": app_name, "category": category},
        "partner_manager": partner_manager,
    }
    _command(ctx, as_json, "POST", "", body, idempotency_key)


@app.command()
def tick(
    ctx: typer.Context,
    onboarding: OnboardingId,
    items: Annotated[list[str], typer.Argument(help="Checklist item ids of the current stage.")],
    comment: Comment = None,
    value: Annotated[
        str | None, typer.Option(help="provisioning_endpoint_registered: the ISV's endpoint URL, or `local`.")
    ] = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Tick checklist items (one request each); the onboarding is shown after the last."""
    body = {"comment": comment, "value": value}
    _each_item(ctx, as_json, "POST", onboarding, items, body, idempotency_key)


@app.command()
def untick(
    ctx: typer.Context,
    onboarding: OnboardingId,
    items: Annotated[list[str], typer.Argument(help="Checklist item ids of the current stage.")],
    comment: Comment = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Undo ticks of checklist items."""
    _each_item(ctx, as_json, "DELETE", onboarding, items, {"comment": comment}, idempotency_key)


@app.command()
def terms(
    ctx: typer.Context,
    onboarding: OnboardingId,
    share: Annotated[float, typer.Option("--share", help="The ISV's revenue share in percent, e.g. 70.")],
    plans: Annotated[
        list[str], typer.Option("--plan", help="`MONTHS=EUROS`, the monthly price of a term, e.g. 12=14.90; repeat.")
    ],
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Set the commercial terms: revenue share and plans (the 30-day trial and no listing fee are the marketplace's)."""
    body = {"revenue_share_percent": share, "plans": [_plan(plan) for plan in plans]}
    _command(ctx, as_json, "PUT", f"/{onboarding}/commercial-terms", body, idempotency_key)


@app.command()
def advance(
    ctx: typer.Context,
    onboarding: OnboardingId,
    to: Annotated[str | None, typer.Option("--to", help="The next stage, to be sure of it.")] = None,
    comment: Comment = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Leave the current stage once its exit criteria are met (go_live: publish the app)."""
    _command(ctx, as_json, "POST", f"/{onboarding}/advance", {"to_stage": to, "comment": comment}, idempotency_key)


@app.command()
def hold(
    ctx: typer.Context,
    onboarding: OnboardingId,
    reason: Reason,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Put the onboarding on hold: the SLA clock stops."""
    _command(ctx, as_json, "POST", f"/{onboarding}/hold", {"reason": reason}, idempotency_key)


@app.command()
def resume(
    ctx: typer.Context,
    onboarding: OnboardingId,
    comment: Comment = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Resume after a hold: every deadline moves back by the time on hold."""
    _command(ctx, as_json, "POST", f"/{onboarding}/resume", {"comment": comment}, idempotency_key)


@app.command()
def reject(
    ctx: typer.Context,
    onboarding: OnboardingId,
    reason: Reason,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Reject the app: the onboarding ends."""
    _command(ctx, as_json, "POST", f"/{onboarding}/reject", {"reason": reason}, idempotency_key)


@app.command()
def reassign(
    ctx: typer.Context,
    onboarding: OnboardingId,
    partner_manager: Annotated[str, typer.Argument(help="The partner manager who takes over.")],
    comment: Comment = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Hand the onboarding to another partner manager."""
    body = {"partner_manager": partner_manager, "comment": comment}
    _command(ctx, as_json, "POST", f"/{onboarding}/reassign", body, idempotency_key)


def _command(ctx: typer.Context, as_json: bool, method: str, path: str, body: dict[str, Any], key: str | None) -> None:
    command(ctx, as_json, method, f"/onboardings{path}", body, key, compact)


def _each_item(
    ctx: typer.Context,
    as_json: bool,
    method: str,
    onboarding: str,
    items: list[str],
    body: dict[str, Any],
    key: str | None,
) -> None:
    connection = api(ctx, as_json)
    sent = {name: value for name, value in body.items() if value is not None}
    answer: Any = None
    for item in items:
        # One key per item: a key names one request, and a retry of the whole line replays each of them.
        item_key = f"{key}-{item}" if key and len(items) > 1 else key
        path = f"/onboardings/{onboarding}/checklist/{item}"
        answer = connection.call(method, path, body=sent or None, idempotency_key=item_key)
    emit(connection, answer, compact)


def _plan(text: str) -> dict[str, int]:
    months, separator, euros = text.partition("=")
    try:
        if not separator:
            raise ValueError(text)
        return {"term_months": int(months), "monthly_price_cents": render.cents(euros)}
    except ValueError as error:
        raise typer.BadParameter(f"{text!r}: give MONTHS=EUROS, e.g. 12=14.90", param_hint="--plan") from error


# --- how an onboarding reads -------------------------------------------------------------------------


def readable(view: dict[str, Any]) -> str:
    """The whole onboarding: what `show` prints."""
    checklist = "\n".join(_stage_lines(stage, view["stage"]) for stage in view["checklist"])
    history = view["history"][-HISTORY_SHOWN:]
    shown = render.table(
        ["AT", "ACTOR", "ACTION", "STAGE", "ITEM", "COMMENT"],
        [
            [render.short(h["at"]), h["actor"], h["action"], h["stage"], h.get("item"), h.get("comment")]
            for h in history
        ],
        {5: 60},
    )
    title = f"history (last {len(history)} of {len(view['history'])})"
    return _head(view) + render.section("checklist", checklist) + render.section(title, shown)


def compact(view: dict[str, Any]) -> str:
    """The onboarding after a command: its head and the checklist of the stage it is in, while it runs."""
    if view["finished_at"]:
        return _head(view)
    current = next(stage for stage in view["checklist"] if stage["stage"] == view["stage"])
    return _head(view) + render.section("checklist", _stage_lines(current, view["stage"]))


def _head(view: dict[str, Any]) -> str:
    now = datetime.now(UTC)
    stages = [stage["stage"] for stage in view["checklist"]]
    place = f"{view['stage']} ({stages.index(view['stage']) + 1} of {len(stages)})"
    if not view["finished_at"]:
        budget = next(stage["budget_days"] for stage in view["checklist"] if stage["stage"] == view["stage"])
        since = render.duration((now - datetime.fromisoformat(view["stage_started_at"])).total_seconds())
        place += f", {since} in it of a {budget:g}-day budget"
    deadlines = view["deadlines"]
    return render.block(
        [
            ("onboarding", f"{view['id']}: {view['app']['name']} ({view['app']['category']})"),
            ("ISV", f"{view['isv']['name']} ({view['isv']['id']}, {view['isv']['contact_email']})"),
            ("partner manager", view["partner_manager"]),
            ("stage", place),
            (
                "status",
                view["status"] + (f" since {render.when(view['on_hold_since'])}" if view["on_hold_since"] else ""),
            ),
            ("SLA", view["sla_status"]),
            ("stage due", render.when(deadlines["stage_due_at"], now)),
            ("target due", render.when(deadlines["target_due_at"], now)),
            ("predicted go-live", _prediction(view, now)),
            ("finished", render.when(view["finished_at"])),
            ("unmet criteria", view["unmet_criteria"] or None),
            ("commercial terms", _terms(view["commercial_terms"])),
            ("endpoint", view.get("provisioning_endpoint")),
        ]
    )


def _prediction(view: dict[str, Any], now: datetime) -> str | None:
    if not view.get("predicted_go_live"):
        return None
    basis = view["prediction_basis"]
    how = "went live" if basis == "went_live" else "from " + basis.replace("_", " ")
    misses = ", misses the target" if view["misses_target"] else ""
    return f"{render.when(view['predicted_go_live'], now)} ({how}{misses})"


def _predicted_cell(item: dict[str, Any]) -> str | None:
    shown = render.short(item.get("predicted_go_live"))
    return f"{shown} (misses target)" if shown and item.get("misses_target") else shown


def _stage_lines(stage: dict[str, Any], current: str) -> str:
    mark = "  <- current stage" if stage["stage"] == current else ""
    lines = [f"{stage['stage']}: {stage['title']}, {stage['budget_days']:g} days{mark}"]
    for item in stage["items"]:
        ticked = "[x]" if item["done"] else "[ ]"
        by = f"{item['done_by']} {render.short(item['done_at'])}" if item["done_by"] else ""
        derived = "" if item["source"] == "checklist" else "(from the data)"
        lines.append(f"  {ticked} {item['id']:<34} {item['title']:<46} {by or derived}".rstrip())
    return "\n".join(lines)


def _terms(terms: dict[str, Any] | None) -> str | None:
    if terms is None:
        return None
    plans = ", ".join(
        f"{render.count(plan['term_months'], 'month')} at {render.money(plan['monthly_price_cents'])}"
        for plan in terms["plans"]
    )
    return f"{terms['revenue_share_percent']:g} % to the ISV; {plans}; trial {terms['trial_days']} days"
