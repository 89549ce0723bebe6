"""`partnerflow`: the root command, its options (the API's URL and key) and what a failure prints."""

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli import audit, catalogue, onboardings, partners, payouts, subscriptions
from cli.client import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE, Api, Failure
from cli.options import as_json_text


class _Group(TyperGroup):
    """Turns a refusal or an outage anywhere below into its lines and exit code, instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Failure as failure:
            connection = ctx.obj
            if isinstance(connection, Api) and connection.as_json and failure.body is not None:
                typer.echo(as_json_text(failure.body))
            for line in failure.lines:
                typer.echo(line, err=True)
            raise typer.Exit(failure.exit_code) from None


app = typer.Typer(
    name="partnerflow",
    cls=_Group,
    help="Partnerflow from the command line: onboardings, subscriptions, partners, payouts and the audit log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(onboardings.app, name="onboardings")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(partners.app, name="partners")
app.add_typer(payouts.app, name="payouts")
app.add_typer(audit.app, name="audit")
app.add_typer(catalogue.app, name="apps")
app.command()(catalogue.me)


@app.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option("--url", envvar=URL_VARIABLE, help="Where the API runs.", show_default=True)
    ] = DEFAULT_URL,
    key: Annotated[
        str | None, typer.Option("--key", envvar=KEY_VARIABLE, help="The API key (sent as a Bearer token).")
    ] = None,
) -> None:
    connection = Api(url, key)
    ctx.obj = connection
    ctx.call_on_close(connection.close)


def main() -> None:
    app()
