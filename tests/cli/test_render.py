"""The plain-text pieces of the CLI's output."""

import pytest

from cli import render


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (45, "45 s"), (3_576, "59 min 36 s"), (431_990, "5 d"), (442_870, "5 d 3 h"), (7_200, "2 h")],
)
def test_a_span_shows_its_largest_unit_and_the_next_rounded(seconds: float, shown: str):
    assert render.duration(seconds) == shown


def test_money_is_euros_from_cents_and_typed_euros_are_exact_cents():
    assert render.money(123_456) == "1,234.56 EUR"
    assert render.cents("14.90") == 1490 and render.cents("14,9") == 1490 and render.cents("20") == 2000
    for wrong in ("14.901", "-1", "abc"):
        with pytest.raises(ValueError):
            render.cents(wrong)


def test_a_table_aligns_columns_and_cuts_a_capped_one():
    shown = render.table(["ID", "NOTE"], [["a", "short"], ["long-id", "x" * 20]], {1: 8})
    assert shown.splitlines() == ["ID       NOTE", "a        short", "long-id  xxxxxxx…"]


def test_error_details_read_by_field_and_by_key():
    assert render.nested({"stage": "feasibility", "unmet": ["a", "b"]}) == ["stage: feasibility", "unmet: a, b"]
    assert render.nested([{"field": "body.term_months", "message": "must be 1, 12 or 24"}], "  ") == [
        "  body.term_months: must be 1, 12 or 24"
    ]
