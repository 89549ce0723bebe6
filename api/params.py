"""Query parameters: types that need more than pydantic's lax parsing of a query string, and the refusal of the
parameters a route does not declare."""

import re
from datetime import datetime
from typing import Annotated

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, BeforeValidator

from api.errors import invalid_request

# ISO 8601 in its extended form, with a time zone: pydantic alone also reads "0.5" or "1700000000" as Unix time.
_ISO_8601 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})"
)


def _iso_8601_only(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_8601.fullmatch(value)):
        return value
    raise ValueError("must be an ISO 8601 date-time with a time zone, e.g. 2026-11-30T09:00:00Z")


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]
"""A date-time query parameter: ISO 8601 text with a time zone only; a 422 names the parameter otherwise."""


def _declared(route: APIRoute) -> frozenset[str]:
    """The query parameters `route` declares, its dependencies' included; a model of query parameters counts by its
    fields (FastAPI reads them one by one, by alias)."""
    names: set[str] = set()
    dependants = [route.dependant]
    while dependants:
        dependant = dependants.pop()
        dependants.extend(dependant.dependencies)
        for param in dependant.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(field.alias or name for name, field in model.model_fields.items())
            else:
                names.add(param.alias)
    return frozenset(names)


_DECLARED: dict[str, frozenset[str]] = {}  # per route, by its unique operation id


async def refuse_unknown_query_parameters(request: Request) -> None:
    """A query parameter the route does not declare is refused (422) rather than ignored: `limit=100000` or a typo
    in a filter would otherwise answer as if it had been honoured."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _DECLARED.get(route.unique_id)
    if declared is None:
        declared = _DECLARED[route.unique_id] = _declared(route)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise invalid_request(
            [
                {"field": f"query.{name}", "message": f"unknown query parameter (this route takes: {allowed})"}
                for name in unknown
            ]
        )
