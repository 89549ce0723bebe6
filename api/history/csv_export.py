"""The timeline as CSV, safe to open in a spreadsheet."""

import csv
import io
from collections.abc import Iterable
from datetime import UTC

from api.history.schemas import CSV_COLUMNS, TimelineEntry

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Spreadsheets run a cell that starts like a formula; an apostrophe keeps it text (OWASP's advice)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def timeline_csv(entries: Iterable[TimelineEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.run_id or "",
                "" if entry.event_id is None else entry.event_id,
                entry.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                entry.type,
                _cell(entry.actor),
                _cell(entry.summary),
                entry.outcome or "",
            ]
        )
    return buffer.getvalue()
