"""aiosqlite as SQLAlchemy uses it, with one trip to the connection's thread per statement instead of three or four.

aiosqlite runs every call on a connection in a thread of its own; SQLAlchemy's adapter makes a statement four calls
(open a cursor, execute, fetch the rows, close the cursor), and each call waits for the event loop to take its
answer. On a busy loop (a worker running activities and workflow tasks together) that wait, not SQLite, is most of
a statement's time, and SQLite's single writer holds the write lock through all of it. Here a statement is one call
that does the four steps in the connection's thread: a write transaction holds the lock a third as long.

Only the plain cursor changes; server-side cursors, the connection and the dialect are aiosqlite's own.
"""

import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

# What one statement gives back: the cursor's description, its rows, lastrowid and rowcount.
_Outcome = tuple[Any, list[Any], int | None, int]


def _execute(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In the connection's thread: the whole statement, as the adapter's cursor would have run it step by step."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, [], cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]  # what the adapter wraps
        try:
            statement = connection._execute(_execute, connection._conn, operation, parameters, many)  # type: ignore[no-untyped-call]
            outcome: _Outcome = self.await_(statement)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, rows, lastrowid, self.rowcount = outcome
        self.lastrowid = lastrowid  # type: ignore[assignment]
        self._rows.clear()
        self._rows.extend(rows)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else _OneTripCursor(self)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to `create_async_engine` for a `sqlite+aiosqlite` URL."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _OneTripConnection(self, adapted._connection)
