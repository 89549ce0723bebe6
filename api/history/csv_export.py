"""The timeline as CSV, safe to open in a spreadsheet."""

from collections.abc import Iterable
from datetime import UTC

from api.csv_safe import csv_text
from api.history.schemas import CSV_COLUMNS, TimelineEntry


def timeline_csv(entries: Iterable[TimelineEntry]) -> str:
    rows = (
        [
            entry.run_id or "",
            "" if entry.event_id is None else entry.event_id,
            entry.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            entry.type,
            entry.actor,
            entry.summary,
            entry.outcome or "",
        ]
        for entry in entries
    )
    return csv_text([CSV_COLUMNS, *rows])
