"""The plain English of timeline summaries: decoded values, arguments, actors, durations and failures, shortened."""

import json
from datetime import timedelta
from typing import Any

SUMMARY_VALUE_CHARS = 300  # decoded values are shortened to this in summaries; `details` keeps them whole
BRIEF_DEPTH = 3  # nesting shown in summaries
BRIEF_ITEMS = 5  # list items shown in summaries


def shorten(text: str, limit: int = SUMMARY_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def brief(value: Any, depth: int = 0) -> str:
    """A value as `{key=value, ...}`, three levels deep, empty fields left out, long lists cut after a few items."""
    if isinstance(value, dict):
        if depth >= BRIEF_DEPTH:
            return "{…}"
        return "{" + ", ".join(f"{k}={brief(v, depth + 1)}" for k, v in value.items() if _shown(v)) + "}"
    if isinstance(value, list):
        if depth >= BRIEF_DEPTH:
            return f"[{len(value)} items]"
        shown = [brief(item, depth + 1) for item in value[:BRIEF_ITEMS]]
        more = len(value) - BRIEF_ITEMS
        return "[" + ", ".join(shown + ([f"… {more} more"] if more > 0 else [])) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


def _shown(value: Any) -> bool:
    return value is not None and not (isinstance(value, list | dict) and not value)


def value_text(values: list[Any]) -> str:
    return shorten(", ".join(brief(value) for value in values)) if values else "nothing"


def arguments_text(values: list[Any]) -> str:
    """A command's arguments without its actor (named separately): `item="x", comment="y"`."""
    parts: list[str] = []
    for value in values:
        if isinstance(value, dict):
            parts += [f"{key}={brief(item, 1)}" for key, item in value.items() if key != "actor" and _shown(item)]
        else:
            parts.append(brief(value))
    return shorten(", ".join(parts))


def actor_in(values: list[Any]) -> str | None:
    """The subject a command names: every command model carries `actor`."""
    for value in values:
        if isinstance(value, dict) and isinstance(value.get("actor"), str) and value["actor"]:
            return str(value["actor"])
    return None


def duration_text(delta: timedelta) -> str:
    """`30 days`, `2 days 4 h`, `90 s`: to the second, which is how long timers are meant."""
    seconds = round(delta.total_seconds())
    if seconds == 0:
        return f"{delta.total_seconds():.3f} s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} day{'' if days == 1 else 's'}" if days else "", f"{hours} h" if hours else ""]
    parts += [f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(part for part in parts if part)


def failure_text(info: dict[str, Any]) -> str:
    text = str(info.get("message") or info.get("kind") or "failed")
    cause = info.get("cause")
    if isinstance(cause, dict) and cause.get("message"):
        text += f" (cause: {cause['message']})"
    return shorten(text)
