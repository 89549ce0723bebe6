"""Every CSV the API writes keeps callers' text from running as a spreadsheet formula."""

import csv
import io
from datetime import UTC, datetime

import pytest

from api.csv_safe import csv_text, neutralised
from api.history import timeline_csv
from api.history.schemas import CSV_COLUMNS, TimelineEntry


@pytest.mark.parametrize("text", ["=2+3", "+cmd", "-x", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://evil")'])
def test_text_that_starts_like_a_formula_gets_an_apostrophe_before_it(text: str) -> None:
    assert neutralised(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "a=b", "", "'=already text", -5, 3, 2.5, None])
def test_other_text_and_numbers_are_left_as_they_are(value: object) -> None:
    assert neutralised(value) == value


def test_csv_text_writes_rows_with_every_text_cell_neutralised() -> None:
    text = csv_text([["id", "note"], [1, "=2+3"], [-2, 'say "hi", then @me']])

    assert text == 'id,note\r\n1,\'=2+3\r\n-2,"say ""hi"", then @me"\r\n'


def test_the_workflow_history_csv_neutralises_the_actor_and_summary() -> None:
    entry = TimelineEntry(
        run_id="run-1",
        event_id=7,
        time=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        type="update_accepted",
        actor="=cmd|' /C calc'!A0",
        summary="@SUM(1+1) asked",
        outcome="accepted",
    )

    [row] = list(csv.DictReader(io.StringIO(timeline_csv([entry]))))

    assert tuple(row) == CSV_COLUMNS
    assert (row["actor"], row["summary"]) == ("'=cmd|' /C calc'!A0", "'@SUM(1+1) asked")
    assert (row["run_id"], row["event_id"], row["time"], row["outcome"]) == (
        "run-1",
        "7",
        "2026-11-30T09:00:00Z",
        "accepted",
    )
