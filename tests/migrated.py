"""SQLite databases migrated to head for the tests that need one: the migrations run once per test session and each
test gets a copy of the result (migrating takes about 0.3 s, a copy about a millisecond). The migrations themselves
are tested on empty databases (tests/store/test_migrations.py), never on a copy."""

import atexit
import shutil
import tempfile
from pathlib import Path

from store import migrate
from store.db import create_engine

_head: Path | None = None


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def migrated_sqlite(path: Path) -> str:
    """The URL of a SQLite database at `path`, migrated to head (a copy of the session's one)."""
    global _head
    if _head is None:
        directory = Path(tempfile.mkdtemp(prefix="partnerflow-head-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        head = directory / "head.db"
        engine = create_engine(sqlite_url(head))
        await migrate.upgrade(engine)
        await engine.dispose()  # the last connection closed: the WAL is checkpointed into the file, and removed
        _head = head
    shutil.copyfile(_head, path)
    return sqlite_url(path)
