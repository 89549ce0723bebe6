"""After the load of `bench.load`: what the processes logged, what the audit log recorded, and the printed table."""

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# What the log scan counts: each pattern counts the lines it matches. ERROR and WARNING take the level as Python's
# logging and uvicorn print it ("ERROR:    ...", "WARNING:temporalio...", " ERROR "), as our JSON log lines do
# ('"level": "ERROR"') and as the dev server does ("level=WARN", "level=ERROR").
PATTERNS: dict[str, re.Pattern[str]] = {
    "database is locked": re.compile(r"database is locked"),
    "Traceback": re.compile(r"Traceback"),
    "QueuePool limit": re.compile(r"QueuePool limit"),
    "ERROR": re.compile(r"(^|\s|\")ERROR\b|\blevel=ERROR\b"),
    "WARNING": re.compile(r"(^|\s|\")WARNING\b|\blevel=WARN\b"),
}
# The last line of a traceback names the exception: worth counting alongside the level lines.
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exhausted|Timeout)\b.*")
AUDIT_QUIET_SECONDS = 5.0
AUDIT_SETTLE_MAX_SECONDS = 30.0
# Ids, numbers, hashes and timestamps vary per line; without them, equal causes count as one line.
VARIABLE = re.compile(
    r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # UUIDs
    r"|\b[0-9a-f]{16,}\b"  # hashes
    r"|\b(raw|direct|api|warm)-[0-9a-f]{6}-[\w-]+"  # the bench's customer and subscription ids
    r"|\d+(\.\d+)?"
)
# The dev server logs key=value pairs; these say what went wrong, the rest (ids, shards, task keys) where.
LOGFMT_FIELD = re.compile(r'([\w-]+)=("(?:[^"\\]|\\.)*"|\S+)')
LOGFMT_KEPT = ("level", "msg", "error", "store-operation", "component", "method")


@dataclass
class LogScan:
    counts: dict[str, dict[str, int]]  # log name -> pattern -> lines
    totals: dict[str, int]
    top_lines: list[tuple[int, str, str]] = field(default_factory=list)  # (count, log, normalised line)


def normalise(line: str) -> str:
    fields = dict(LOGFMT_FIELD.findall(line)) if "level=" in line and "msg=" in line else {}
    if fields:
        line = " ".join(f"{key}={fields[key]}" for key in LOGFMT_KEPT if key in fields)
    return VARIABLE.sub("#", line.strip())[:200]


def scan_logs(logs: dict[str, Path], top: int = 10) -> LogScan:
    counts: dict[str, dict[str, int]] = {}
    frequent: Counter[tuple[str, str]] = Counter()
    for name, path in logs.items():
        found = dict.fromkeys(PATTERNS, 0)
        text = path.read_text(errors="replace") if path.exists() else ""
        for line in text.splitlines():
            hits = [label for label, pattern in PATTERNS.items() if pattern.search(line)]
            for label in hits:
                found[label] += 1
            if (hits and hits != ["Traceback"]) or EXCEPTION_LINE.match(line):
                frequent[(name, normalise(line))] += 1
        counts[name] = found
    totals = {label: sum(found[label] for found in counts.values()) for label in PATTERNS}
    return LogScan(counts, totals, [(n, name, line) for (name, line), n in frequent.most_common(top)])


# --- the audit log -------------------------------------------------------------------------------


@dataclass
class AuditCheck:
    verify: dict[str, Any] | None
    verify_error: str | None
    accepted: int | None  # `subscription.book` entries with outcome accepted since the API phase began
    by_outcome: dict[str, int]  # every `subscription.book` entry since then, by outcome
    read_error: str | None


async def _count(http: httpx.AsyncClient, query: dict[str, str]) -> Counter[str]:
    """Pages through the audit log (`page_token` = the previous `next_page_token`), counting entries by outcome."""
    outcomes: Counter[str] = Counter()
    page_token: str | None = None
    while True:
        params = {**query, "page_size": "500"} | ({"page_token": page_token} if page_token else {})
        response = await http.get("/api/v1/audit/log", params=params)
        response.raise_for_status()
        page = response.json()
        outcomes.update(str(item.get("outcome")) for item in page["items"])
        page_token = page["next_page_token"]
        if page_token is None:
            return outcomes


async def _settled_count(http: httpx.AsyncClient, query: dict[str, str], expected: int) -> int:
    """The count once it reaches `expected` or stops growing for a few seconds: an app may append its audit
    entries after answering (a queue and a sequencer), so one read right after the load could undercount."""
    count, changed = -1, time.monotonic()
    deadline = changed + AUDIT_SETTLE_MAX_SECONDS
    while True:
        now = (await _count(http, query)).total()
        if now != count:
            count, changed = now, time.monotonic()
        quiet = time.monotonic() - changed >= AUDIT_QUIET_SECONDS
        if count >= expected or quiet or time.monotonic() > deadline:
            return count
        await asyncio.sleep(1)


async def check_audit(api_url: str, key: str, since: str, expected: int) -> AuditCheck:
    verify: dict[str, Any] | None = None
    verify_error = read_error = None
    accepted: int | None = None
    by_outcome: dict[str, int] = {}
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=120, trust_env=False
    ) as http:
        try:
            query = {"action": "subscription.book", "since": since}
            accepted = await _settled_count(http, {**query, "outcome": "accepted"}, expected)
            by_outcome = dict(await _count(http, query))
        except httpx.HTTPError as error:
            read_error = f"{type(error).__name__}: {error}"
        try:
            response = await http.get("/api/v1/audit/verify")
            response.raise_for_status()
            verify = response.json()
        except httpx.HTTPError as error:
            verify_error = f"{type(error).__name__}: {error}"
    return AuditCheck(verify, verify_error, accepted, by_outcome, read_error)


# --- the table -----------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


class Table:
    """Two columns, label and figures, as plain text."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def rule(self, char: str = "-") -> None:
        self.lines.append(char * 112)

    def row(self, label: str, value: str) -> None:
        self.lines.append(f"{label:<44} {value}")

    def text(self, line: str = "") -> None:
        self.lines.append(line)

    def render(self) -> str:
        return "\n".join(self.lines)


def scan_table(table: Table, scan: LogScan) -> None:
    labels = list(PATTERNS)
    table.text(f"{'log scan (lines)':<20}" + "".join(f"{label:>20}" for label in labels))
    for name, found in [*scan.counts.items(), ("total", scan.totals)]:
        table.text(f"  {name:<18}" + "".join(f"{found[label]:>20}" for label in labels))
    if scan.top_lines:
        table.text("most frequent error/warning lines (numbers and ids as #):")
        for count, name, line in scan.top_lines:
            table.text(f"  {count:>6}  {name:<9} {line[:150]}")
