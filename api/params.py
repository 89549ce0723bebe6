"""Types of query parameters that need more than pydantic's lax parsing of a query string."""

import re
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

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
