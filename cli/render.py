"""Plain-text building blocks of the command line's output: aligned tables, label blocks, times, money.

Plain text rather than a terminal library's boxes, so that output stays the same in a pipe, a log or the README.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

GAP = "  "
NONE = "-"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], widest: Mapping[int, int] | None = None) -> str:
    """Columns aligned on the widest cell; `widest` caps a column (by index), cutting longer cells with an ellipsis."""
    cells = [[cut(text(value), (widest or {}).get(i)) for i, value in enumerate(row)] for row in rows]
    if not cells:
        return "(none)"
    lines = [list(headers), *cells]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        GAP.join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def block(pairs: Iterable[tuple[str, object]]) -> str:
    """`label  value` lines with the values aligned; pairs whose value is None are left out."""
    shown = [(label, text(value)) for label, value in pairs if value is not None]
    width = max((len(label) for label, _ in shown), default=0)
    return "\n".join(f"{label.ljust(width)}{GAP}{value}" for label, value in shown)


def section(title: str, body: str) -> str:
    return f"\n\n{title}\n" + "\n".join(f"  {line}" if line else line for line in body.splitlines())


def text(value: object) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(text(item) for item in value) if value else NONE
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def cut(value: str, width: int | None) -> str:
    return value if width is None or len(value) <= width else value[: width - 1] + "…"


def money(cents: int | None) -> str | None:
    """Euros from integer cents, e.g. `1,490.00 EUR`."""
    if cents is None:
        return None
    return f"{Decimal(cents) / 100:,.2f} EUR"


def count(number: int, thing: str) -> str:
    """`1 month`, `12 months`, `1,200 events`."""
    return f"{number:,} {thing}" + ("" if number == 1 else "s")


def cents(euros: str) -> int:
    """Integer cents from euros as typed (`14.90`, `14,90`, `1490`); ValueError for anything else."""
    wrong = ValueError(f"{euros!r} is not an amount of euros with at most two decimals")
    try:
        amount = Decimal(euros.replace(",", "."))
    except InvalidOperation as error:
        raise wrong from error
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise wrong
    return int(amount * 100)


def moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: str | None, now: datetime | None = None) -> str | None:
    """`2026-11-30 11:29 UTC`, followed by how far off it is when `now` is given: `(in 5 days)`, `(3 h ago)`."""
    at = moment(value)
    if at is None:
        return None
    shown = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{shown} ({relative(at, now)})" if now is not None else shown


def short(value: str | None) -> str | None:
    """A time for a table cell: `2026-11-30 11:29` (UTC)."""
    at = moment(value)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if at else None


def relative(at: datetime, now: datetime) -> str:
    seconds = (at - now).total_seconds()
    span = duration(abs(seconds))
    return f"in {span}" if seconds >= 0 else f"{span} ago"


UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def duration(seconds: float) -> str:
    """The largest unit of a span and the next one, rounded to that: `5 d`, `4 d 23 h`, `10 min 5 s`."""
    for i, (name, size) in enumerate(UNITS):
        if seconds >= size or size == 1:
            finer_name, finer = UNITS[min(i + 1, len(UNITS) - 1)]
            big, rest = divmod(round(seconds / finer) * finer, size)
            small = rest // finer
            return f"{big} {name}" + (f" {small} {finer_name}" if small else "")
    raise AssertionError("the last unit takes every span")


def nested(value: Any, indent: str = "") -> list[str]:
    """Error details as indented lines: a dict by key, a list item by item."""
    if isinstance(value, Mapping):
        lines = []
        for key, item in value.items():
            if isinstance(item, Mapping | list) and any(isinstance(inner, Mapping) for inner in _members(item)):
                lines += [f"{indent}{key}:", *nested(item, indent + "  ")]
            else:
                lines.append(f"{indent}{key}: {text(item)}")
        return lines
    if isinstance(value, list):
        return [line for item in value for line in _item_lines(item, indent)]
    return [f"{indent}{text(value)}"]


def _members(value: Mapping[str, Any] | list[Any]) -> list[Any]:
    return list(value.values()) if isinstance(value, Mapping) else value


def _item_lines(item: Any, indent: str) -> list[str]:
    if isinstance(item, Mapping) and set(item) >= {"field", "message"}:
        return [f"{indent}{item['field']}: {item['message']}"]  # the 422 shape
    return [f"{indent}- {line.lstrip()}" for line in nested(item, indent)]
