"""`partnerflow subscriptions`: a customer's booking of an app, its lifecycle, invoices and exports."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import render
from cli.options import AllPages, AsJson, IdempotencyKey, PageSize, PageToken, api, command, emit, emit_page

app = typer.Typer(
    help="Customer subscriptions: book, read, change plan, cancel, uncancel, reinstate, payment method, exports.",
    no_args_is_help=True,
)

SubscriptionId = Annotated[str, typer.Argument(help="The subscription's id, `{customer}-{app}`.")]
Method = Annotated[
    str | None,
    typer.Option(
        "--method",
        help="credit_card, paypal, clickandbuy (with --token), direct_debit (with --iban, "
        "--mandate, --holder) or phone_bill.",
    ),
]
Token = Annotated[str | None, typer.Option(help="The payment gateway's token, e.g. tok_success.")]
Iban = Annotated[str | None, typer.Option(help="direct_debit: the IBAN (spaces allowed).")]
Mandate = Annotated[str | None, typer.Option(help="direct_debit: the SEPA mandate reference.")]
Holder = Annotated[str | None, typer.Option(help="direct_debit: the account holder.")]


@app.command("list")
def list_subscriptions(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="trialing, active, suspended, terminated, ...")] = None,
    app_id: Annotated[str | None, typer.Option("--app", help="An app's id.")] = None,
    customer: Annotated[str | None, typer.Option(help="A customer's id.")] = None,
    isv: Annotated[str | None, typer.Option(help="An ISV's id.")] = None,
    channel_partner: Annotated[str | None, typer.Option(help="The channel partner who sold it.")] = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: AsJson = False,
) -> None:
    """Subscriptions, newest first, as Temporal's visibility sees them."""
    connection = api(ctx, as_json)
    filters = {
        "status": status,
        "app_id": app_id,
        "customer_id": customer,
        "isv_id": isv,
        "channel_partner_id": channel_partner,
        "page_size": page_size,
    }
    page = connection.pages("/subscriptions", filters, page_token, every)
    emit_page(
        connection,
        page,
        ["ID", "STATUS", "CUSTOMER", "APP", "ISV", "PARTNER", "BOOKED", "CLOSED"],
        lambda s: [
            s["id"],
            s["status"],
            s["customer_id"],
            s["app_id"],
            s["isv_id"],
            s["channel_partner_id"],
            render.short(s["started_at"]),
            render.short(s["closed_at"]),
        ],
    )


@app.command()
def show(ctx: typer.Context, subscription: SubscriptionId, as_json: AsJson = False) -> None:
    """One subscription: status, term, dates, dunning, exports and its latest history."""
    connection = api(ctx, as_json)
    emit(connection, connection.get(f"/subscriptions/{subscription}"), readable)


@app.command()
def book(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="The customer's id (a slug).")],
    customer_name: Annotated[str, typer.Option(help="The customer's company name.")],
    employees: Annotated[int, typer.Option(help="Its employees (the marketplace serves up to 500).")],
    app_id: Annotated[str, typer.Option("--app", help="A live app's id.")],
    term: Annotated[int, typer.Option(help="Contract term in months: 1, 12 or 24.")],
    telekom_number: Annotated[str | None, typer.Option(help="Telekom customer number (for phone_bill).")] = None,
    channel_partner: Annotated[str | None, typer.Option(help="The channel partner who sold it.")] = None,
    method: Method = None,
    token: Token = None,
    iban: Iban = None,
    mandate: Mandate = None,
    holder: Holder = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Book an app for a customer: a 30-day trial, then the paid term. Its id is `{customer}-{app}`."""
    customer_body = {"id": customer, "name": customer_name, "employees": employees}
    body = {
        "customer": customer_body | ({"telekom_customer_number": telekom_number} if telekom_number else {}),
        "app_id": app_id,
        "term_months": term,
        "payment_method": _method(method, token, iban, mandate, holder) if method else None,
        "channel_partner_id": channel_partner,
    }
    command(ctx, as_json, "POST", "/subscriptions", body, idempotency_key, readable)


@app.command("payment-method")
def payment_method(
    ctx: typer.Context,
    subscription: SubscriptionId,
    kind: Annotated[str, typer.Argument(help="credit_card, paypal, clickandbuy, direct_debit or phone_bill.")],
    token: Token = None,
    iban: Iban = None,
    mandate: Mandate = None,
    holder: Holder = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Change the payment method (an IBAN is checked)."""
    body = _method(kind, token, iban, mandate, holder)
    command(ctx, as_json, "PUT", f"/subscriptions/{subscription}/payment-method", body, idempotency_key, readable)


@app.command()
def cancel(
    ctx: typer.Context,
    subscription: SubscriptionId,
    reason: Annotated[str | None, typer.Option(help="Why, for the history.")] = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Cancel at the term's end (at once during the trial: suspend mode)."""
    body = {"reason": reason}
    command(ctx, as_json, "POST", f"/subscriptions/{subscription}/cancel", body, idempotency_key, readable)


@app.command()
def uncancel(
    ctx: typer.Context, subscription: SubscriptionId, idempotency_key: IdempotencyKey = None, as_json: AsJson = False
) -> None:
    """Withdraw a cancellation scheduled for the term's end (until then): the contract renews."""
    command(ctx, as_json, "POST", f"/subscriptions/{subscription}/uncancel", None, idempotency_key, readable)


@app.command()
def plan(
    ctx: typer.Context,
    subscription: SubscriptionId,
    term: Annotated[int, typer.Option("--term", help="The app's plan to change to, by its term in months.")],
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Change the plan: an upgrade applies at once (prorated on the next invoice), a downgrade at the term's end."""
    body = {"term_months": term}
    command(ctx, as_json, "POST", f"/subscriptions/{subscription}/plan", body, idempotency_key, readable)


@app.command()
def reinstate(
    ctx: typer.Context,
    subscription: SubscriptionId,
    comment: Annotated[str | None, typer.Option(help="Why, for the history.")] = None,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Reinstate a subscription suspended for non-payment, by paying the arrears with its payment method."""
    body = {"comment": comment}
    command(ctx, as_json, "POST", f"/subscriptions/{subscription}/reinstate", body, idempotency_key, readable)


@app.command()
def export(
    ctx: typer.Context,
    subscription: SubscriptionId,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Request a data export in suspend mode (invoiced); `download` fetches the ZIP."""
    command(ctx, as_json, "POST", f"/subscriptions/{subscription}/export-request", {}, idempotency_key, readable)


@app.command()
def download(
    ctx: typer.Context,
    subscription: SubscriptionId,
    export_id: Annotated[str, typer.Argument(help="An export id from `show`.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the ZIP.")] = None,
) -> None:
    """Download an export's ZIP (by default into the export's own file name here)."""
    response = api(ctx).send("GET", f"/subscriptions/{subscription}/exports/{export_id}")
    target = output or Path(_file_name(response.headers.get("content-disposition")) or f"{export_id}.zip")
    target.write_bytes(response.content)
    typer.echo(f"{target} ({len(response.content):,} bytes)")


@app.command()
def invoices(ctx: typer.Context, subscription: SubscriptionId, as_json: AsJson = False) -> None:
    """Every invoice the subscription issued, with its payment."""
    connection = api(ctx, as_json)
    emit(connection, connection.get(f"/subscriptions/{subscription}/invoices"), _invoice_table)


def _method(kind: str, token: str | None, iban: str | None, mandate: str | None, holder: str | None) -> dict[str, Any]:
    return {
        "type": kind,
        "token": token,
        "iban": iban,
        "mandate_reference": mandate,
        "account_holder": holder,
    }


def _file_name(disposition: str | None) -> str | None:
    if not disposition or "filename=" not in disposition:
        return None
    return Path(disposition.split("filename=", 1)[1].strip('"; ')).name  # never a path elsewhere


# --- how a subscription reads ------------------------------------------------------------------------


def readable(view: dict[str, Any]) -> str:
    now = datetime.now(UTC)
    customer = view["customer"]
    dunning = view["dunning"]
    # Term 0 is the trial; the paid terms count from 1.
    term = render.count(view["term_months"], "month") + (f", term {view['term_number']}" if view["term_number"] else "")
    head = render.block(
        [
            ("subscription", view["id"]),
            ("customer", f"{customer['name']} ({customer['id']}, {customer['employees']} employees)"),
            ("app", f"{view['app_id']} of {view['isv_id']}"),
            ("channel partner", view["channel_partner_id"]),
            ("status", view["status"] + (f" ({view['suspension_reason']})" if view["suspension_reason"] else "")),
            ("term", term),
            ("price", f"{render.money(view['monthly_price_cents'])} a month, net"),
            ("payment method", view["payment_method"] or "none on file"),
            ("booked", render.when(view["booked_at"])),
            ("trial ends", render.when(view["trial_ends_at"], now)),
            ("contract started", render.when(view["contract_started_at"])),
            ("current term", _span(view["current_term_start"], view["current_term_end"])),
            ("current period", _span(view["current_period_start"], view["current_period_end"])),
            ("next invoice", render.when(view["next_invoice_at"], now)),
            ("plan change", _scheduled(view.get("scheduled_plan_change"))),
            ("proration", _proration(view.get("pending_proration_cents"))),
            ("cancelled for", render.when(view["cancel_at"], now)),
            ("suspended", render.when(view["suspended_at"])),
            ("suspend mode ends", render.when(view["suspend_ends_at"], now)),
            ("terminated", render.when(view["terminated_at"])),
            ("dunning", _dunning(dunning) if dunning else None),
            ("arrears", render.money(view["arrears_cents"]) if view["arrears_cents"] else None),
            ("invoices issued", view["invoices_issued"]),
        ]
    )
    parts = [head]
    if view["exports"]:
        exports = render.table(
            ["EXPORT", "REQUESTED", "BY", "FEE INVOICE", "FILE", "BYTES"],
            [
                [
                    e["export_id"],
                    render.short(e["requested_at"]),
                    e["requested_by"],
                    e["fee_invoice"],
                    e["file_name"],
                    e["size_bytes"],
                ]
                for e in view["exports"]
            ],
        )
        parts.append(render.section("exports", exports))
    history = view["history"][-8:]
    shown = render.table(
        ["AT", "ACTOR", "ACTION", "DETAIL"],
        [[render.short(h["at"]), h["actor"], h["action"], h.get("detail")] for h in history],
        {3: 70},
    )
    parts.append(render.section(f"history (last {len(history)} of {len(view['history'])})", shown))
    return "".join(parts)


def _span(start: str | None, end: str | None) -> str | None:
    return f"{render.short(start)} to {render.short(end)}" if start and end else None


def _scheduled(change: dict[str, Any] | None) -> str | None:
    if not change:
        return None
    price = render.money(change["monthly_price_cents"])
    return f"to {change['term_months']} months at {price} a month, from {render.short(change['effective_at'])}"


def _proration(cents: int | None) -> str | None:
    """A plan change's amount for the next invoice: a charge, or a credit."""
    if not cents:
        return None
    return f"{render.money(abs(cents))} {'charged' if cents > 0 else 'credited'} with the next invoice, net"


def _dunning(dunning: dict[str, Any]) -> str:
    retry = render.short(dunning["next_retry_at"])
    unpaid = ", ".join(dunning["unpaid_invoices"])
    return (
        f"since {render.short(dunning['started_at'])}, {dunning['retries_done']} retries, next {retry}; unpaid {unpaid}"
    )


def _invoice_table(answer: dict[str, Any]) -> str:
    return render.table(
        ["NUMBER", "KIND", "PERIOD", "NET", "VAT", "GROSS", "STATUS", "ISSUED", "PAID", "FAILURE"],
        [
            [
                i["number"],
                i["kind"],
                _span(i["period_start"], i["period_end"]),
                render.money(i["net_cents"]),
                render.money(i["vat_cents"]),
                render.money(i["gross_cents"]),
                i["status"],
                render.short(i["issued_at"]),
                render.short(i["paid_at"]),
                i["failure_reason"],
            ]
            for i in answer["items"]
        ],
    )
