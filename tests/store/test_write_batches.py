"""A write's statements as the store sends them: on PostgreSQL bound on the client, prepared
on the server where it can, and sent as one query string until a result is read
(``store/pg_batch.py``). Whatever a value holds, it is stored exactly as given, the first
time a statement runs on a connection and every time after; results come back to the
statement that asked; a statement that fails takes the whole write with it. The same tests
run on SQLite, which binds every statement on the server: both engines must behave alike."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from gateway.store.conn import POSTGRESQL, Conn, dialect
from gateway.store.pg_batch import MANY_LIMIT, QUOTE_LIMIT, SEPARATOR
from gateway.store.store import Store, StoreError

# Texts that would break a query string built by hand: quotes, backslashes, the statement
# separator, placeholders, comment starts, dollar quoting, non-ASCII, a lone surrogate's
# neighbours, and SQL that would drop the table if it ran.
AWKWARD = ["it's", "''", "\\", "\\'", "50%", "%s", "%(x)s", "?", SEPARATOR, "a;b",
           "-- not a comment", "/* nor */", "$$", "$tag$", "x'; DROP TABLE scratch; --",
           "Zoë · 北京 · ‮", "\t\r\n", "E'\\x41'", ""]


def _table(conn: Conn) -> None:
    blob = "bytea" if dialect(conn) == POSTGRESQL else "BLOB"
    conn.execute(f"CREATE TABLE IF NOT EXISTS scratch (n INTEGER PRIMARY KEY, t TEXT, b {blob})")


@pytest.fixture
async def store(any_store: Store) -> Store:
    """The store with the scratch table made (as the migrations make the real ones)."""
    await any_store.write(_table)
    return any_store


async def _rows(store: Store) -> list[tuple[int, str | None, bytes | None]]:
    def read(conn: Conn) -> list[tuple[int, str | None, bytes | None]]:
        return [(int(n), t, bytes(b) if b is not None else None) for n, t, b in conn.execute(
            "SELECT n, t, b FROM scratch ORDER BY n").fetchall()]
    return await store.read(read)


@pytest.mark.parametrize("writes", [1, 4])
async def test_every_value_is_stored_exactly_as_given(store: Store, writes: int) -> None:
    small = bytes(range(256)) * 4
    large = bytes(range(256)) * (QUOTE_LIMIT // 256 + 1)  # sent bound, after the queue

    def write(conn: Conn, base: int) -> None:
        for n, text in enumerate(AWKWARD):
            conn.execute("INSERT INTO scratch (n, t, b) VALUES (?, ?, ?)",
                         (base + n, text, small if n % 2 else None))
        conn.execute("INSERT INTO scratch (n, t, b) VALUES (?, ?, ?)",
                     (base + 100, "large", large))
        conn.execute("INSERT INTO scratch (n, t, b) VALUES (?, ?, ?)",
                     (base + 101, "after", b"\0"))

    # Several writes in turn: on PostgreSQL the first prepares the statement, the rest
    # execute it with their values.
    for w in range(writes):
        await store.write(lambda conn, w=w: write(conn, 1000 * w))
    rows = await _rows(store)
    assert rows == [row for w in range(writes) for row in
                    [(1000 * w + n, t, small if n % 2 else None) for n, t in enumerate(AWKWARD)]
                    + [(1000 * w + 100, "large", large), (1000 * w + 101, "after", b"\0")]]


async def test_a_statement_the_server_cannot_prepare_runs_all_the_same(store: Store) -> None:
    def write(conn: Conn) -> list[Any]:
        # PostgreSQL cannot tell the type of a parameter that is only compared with NULL.
        return [conn.execute("SELECT ? IS NULL, ? IS NULL", (None, "x")).fetchone()[:]
                for _ in range(3)]

    assert [tuple(bool(v) for v in row) for row in await store.write(write)] == \
        [(True, False)] * 3


async def test_each_statement_gets_its_own_result_in_order(store: Store) -> None:
    def write(conn: Conn) -> tuple[int, int, list[str], int, str]:
        first = conn.execute("INSERT INTO scratch (n, t) VALUES (1, 'one') "
                             "ON CONFLICT DO NOTHING")
        again = conn.execute("INSERT INTO scratch (n, t) VALUES (1, 'other') "
                             "ON CONFLICT DO NOTHING")
        many = conn.execute("SELECT t FROM scratch WHERE n = ? OR n = ?", (1, 2))
        changed = conn.execute("UPDATE scratch SET t = ? WHERE n = ?", ("uno", 1))
        named = conn.execute("SELECT t AS word FROM scratch WHERE n = 1")
        # Nothing was read until here: on PostgreSQL the five went as one query string.
        return (first.rowcount, again.rowcount, [r[0] for r in many.fetchall()],
                changed.rowcount, named.fetchone()["word"])

    assert await store.write(write) == (1, 0, ["one"], 1, "uno")


async def test_results_read_on_the_way_see_what_came_before(store: Store) -> None:
    def write(conn: Conn) -> list[int]:
        seen = []
        for n in range(3):
            conn.execute("INSERT INTO scratch (n, t) VALUES (?, 'x')", (n,))
            seen.append(conn.execute("SELECT count(*) FROM scratch").fetchone()[0])
        return seen

    assert await store.write(write) == [1, 2, 3]


@pytest.mark.parametrize("rows", [3, MANY_LIMIT + 1])
async def test_executemany_counts_every_row(store: Store, rows: int) -> None:
    def write(conn: Conn) -> tuple[int, int]:
        conn.executemany("INSERT INTO scratch (n, t) VALUES (?, ?)",
                         [(n, f"row {n}'") for n in range(rows)])
        updated = conn.executemany("UPDATE scratch SET t = ? WHERE n = ?",
                                   [("seen", n) for n in range(0, rows + 5, 2)])
        return updated.rowcount, conn.execute("SELECT count(*) FROM scratch").fetchone()[0]

    assert await store.write(write) == (len(range(0, rows, 2)), rows)


async def test_a_failing_statement_commits_nothing_of_its_write(store: Store) -> None:
    def fails_midway(conn: Conn) -> None:
        conn.execute("INSERT INTO scratch (n, t) VALUES (1, 'before')")
        conn.execute("INSERT INTO scratch (n, t) VALUES (1, 'same key')")  # fails
        conn.execute("INSERT INTO scratch (n, t) VALUES (2, 'after')")

    def fails_after_reading(conn: Conn) -> None:
        conn.execute("INSERT INTO scratch (n, t) VALUES (3, 'read')")
        conn.execute("SELECT count(*) FROM scratch").fetchone()
        raise ValueError("the work's own error")

    with pytest.raises((StoreError, sqlite3.Error)):  # as each engine reports it
        await store.write(fails_midway)
    with pytest.raises(ValueError, match="the work's own error"):
        await store.write(fails_after_reading)
    assert await _rows(store) == []
    # The connections went back clean: the next writes commit.
    for n in range(4):
        await store.write(lambda conn, n=n: conn.execute(
            "INSERT INTO scratch (n, t) VALUES (?, 'fine')", (n,)))
    assert [n for n, _, _ in await _rows(store)] == [0, 1, 2, 3]
