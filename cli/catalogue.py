"""`partnerflow apps` (the catalogue) and `partnerflow me` (who the key is)."""

from typing import Annotated, Any

import typer

from cli import render
from cli.options import AllPages, AsJson, PageSize, PageToken, api, emit, emit_page

app = typer.Typer(help="The catalogue: apps that went live.", no_args_is_help=True)


def _plans(app_view: dict[str, Any]) -> str:
    return ", ".join(
        f"{render.count(plan['term_months'], 'month')} at {render.money(plan['monthly_price_cents'])}"
        for plan in app_view["plans"]
    )


@app.command("list")
def list_apps(
    ctx: typer.Context,
    category: Annotated[str | None, typer.Option(help="A portfolio category, e.g. crm_customer_management.")] = None,
    isv: Annotated[str | None, typer.Option(help="An ISV's id.")] = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    every: AllPages = False,
    as_json: AsJson = False,
) -> None:
    """Live apps, by id."""
    connection = api(ctx, as_json)
    page = connection.pages("/apps", {"category": category, "isv_id": isv, "page_size": page_size}, page_token, every)
    emit_page(
        connection,
        page,
        ["ID", "NAME", "CATEGORY", "ISV", "PLANS (A MONTH, NET)", "PUBLISHED"],
        lambda a: [a["id"], a["name"], a["category"], a["isv_id"], _plans(a), render.short(a["published_at"])],
    )


@app.command()
def show(
    ctx: typer.Context,
    app_id: Annotated[str, typer.Argument(help="The app's id.")],
    as_json: AsJson = False,
) -> None:
    """One app of the catalogue with its plans and terms."""
    connection = api(ctx, as_json)
    emit(connection, connection.get(f"/apps/{app_id}"), _app)


def _app(view: dict[str, Any]) -> str:
    share = view["revenue_share_percent"]
    return render.block(
        [
            ("app", f"{view['id']}: {view['name']} ({view['category']})"),
            ("ISV", view["isv_id"]),
            ("plans", _plans(view) + " (a month, net)"),
            ("trial", f"{view['trial_days']} days"),
            ("listing fee", render.money(view["listing_fee_cents"])),
            ("revenue share", f"{share:g} % to the ISV" if share is not None else None),
            ("published", render.when(view["published_at"])),
        ]
    )


def me(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Who the API key belongs to: roles, tenant and what it may do."""
    connection = api(ctx, as_json)
    emit(
        connection,
        connection.get("/me"),
        lambda caller: render.block(
            [
                ("subject", caller["subject"]),
                ("roles", caller["roles"]),
                ("ISV", caller["isv_id"]),
                ("partner", caller["partner_id"]),
                ("may", caller["permissions"]),
            ]
        ),
    )
