"""aiosqlite as SQLAlchemy uses it, with one trip to the connection's thread per statement instead of three or four.

aiosqlite runs every call on a connection in a thread of its own; SQLAlchemy's adapter makes a statement four calls
(open a cursor, execute, fetch the rows, close the cursor), and each call waits for the event loop to take its
answer. On a busy loop (a worker running activities and workflow tasks together) that wait, not SQLite, is most of
a statement's time, and SQLite's single writer holds the write lock through all of it. Here a statement is one call
that does the four steps in the connection's thread, and a transaction's BEGIN goes with its first statement: a
write transaction holds the lock a third as long.

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

# How store/db.py begins its transactions.
_BEGINS = frozenset({"BEGIN", "BEGIN IMMEDIATE"})
# What one statement gives back: the cursor's description, its rows, lastrowid and rowcount.
_Outcome = tuple[Any, list[Any], int | None, int]


def _execute(
    connection: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """In the connection's thread: the transaction's BEGIN if it is still to be sent, then the whole statement, as
    the adapter's cursor would have run it step by step."""
    if begin is not None:
        connection.execute(begin)
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
        if isinstance(operation, str) and operation in _BEGINS and not parameters:
            # Sent with the transaction's first statement, in the same trip (store/db.py begins every transaction).
            self._adapt_connection.defer_begin(operation)  # type: ignore[attr-defined]
            self.description, self.rowcount = None, -1
            return
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]  # what the adapter wraps
        try:
            begin = self._adapt_connection.take_begin()  # type: ignore[attr-defined]
            statement = connection._execute(_execute, connection._conn, begin, operation, parameters, many)  # type: ignore[no-untyped-call]
            outcome: _Outcome = self.await_(statement)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, rows, lastrowid, self.rowcount = outcome
        self.lastrowid = lastrowid  # type: ignore[assignment]
        self._rows.clear()
        self._rows.extend(rows)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin",)

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None

    def defer_begin(self, begin: str) -> None:
        self._begin = begin

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:  # a trip of its own for the BEGIN, then the adapter's own cursor
            self._send_begin()
            return super().cursor(server_side)
        return _OneTripCursor(self)

    def commit(self) -> None:
        if self.take_begin() is None:  # else the transaction never started: nothing to commit
            super().commit()

    def rollback(self) -> None:
        if self.take_begin() is None:
            super().rollback()

    def _send_begin(self) -> None:
        begin = self.take_begin()
        if begin is not None:
            _OneTripCursor(self)._run(begin, None, many=False)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to `create_async_engine` for a `sqlite+aiosqlite` URL."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _OneTripConnection(self, adapted._connection)
