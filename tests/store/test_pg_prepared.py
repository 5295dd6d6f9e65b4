"""PostgreSQL only: a write's statements are prepared once per connection
(``store/pg_batch.py``). Should the server lose them (``DEALLOCATE ALL``, a connection pooler
in between), the next write prepares them again instead of failing."""

from __future__ import annotations

from pathlib import Path

from gateway.store.conn import Conn
from gateway.store.store import Store
from tests.support.postgres import TestDatabase


async def test_writes_go_on_when_the_server_forgot_the_prepared_statements(
        tmp_path: Path, postgres: TestDatabase) -> None:
    store = await Store.open(tmp_path, postgres.new_schema())
    try:
        await store.write(lambda conn: conn.execute(
            "CREATE TABLE scratch (n INTEGER PRIMARY KEY, t TEXT)"))

        async def insert(n: int) -> None:
            await store.write(lambda conn: conn.execute(
                "INSERT INTO scratch (n, t) VALUES (?, ?)", (n, f"row {n}")))

        def prepared(conn: Conn) -> int:
            """The connection's prepared statements, other than this count's own."""
            return int(conn.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'stampgate%' "
                "AND statement NOT LIKE '%pg_prepared_statements%'").fetchone()[0])

        await insert(1)
        await insert(2)
        assert await store.write(prepared) > 0
        await store.write(lambda conn: conn.execute("DEALLOCATE ALL"))
        assert await store.write(prepared) == 0
        for n in range(3, 8):
            await insert(n)
        assert await store.write(prepared) > 0

        def numbers(conn: Conn) -> list[int]:
            return [int(n) for (n,) in conn.execute("SELECT n FROM scratch ORDER BY n")]

        assert await store.read(numbers) == list(range(1, 8))
    finally:
        await store.close()
