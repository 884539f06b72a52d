"""Batch functions: many callers' rows go into SQLite as one ``executemany`` per call.

Each of 200 callers inserts 10 rows, one ``await grinder.submit(...)`` per row,
as request handlers would. ``insert_rows`` is a batch function: the grinder
joins the rows of many callers into one call, which inserts them with one
``executemany`` in one transaction, and every caller gets its own row id back.

Run from the repository root::

    .venv/bin/python examples/batch_sqlite.py
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
from pathlib import Path

from gristmill import LeasedExecutorManager, WorkGrinder, batched

DATABASE = Path(tempfile.mkdtemp()) / "orders.db"
_lock = threading.Lock()  # SQLite takes one writer at a time
_calls: list[int] = []


def _connect() -> sqlite3.Connection:
    connection = sqlite3.connect(DATABASE, check_same_thread=False, isolation_level=None)
    connection.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT)")
    return connection


_connection = _connect()


@batched(max_batch_size=500)
def insert_rows(items: list[str]) -> list[int]:
    """Insert every item in one transaction; return each one's row id, in order."""
    with _lock:
        _connection.execute("BEGIN")
        (first,) = _connection.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM orders").fetchone()
        ids = list(range(first, first + len(items)))
        _connection.executemany("INSERT INTO orders VALUES (?, ?)", zip(ids, items, strict=True))
        _connection.execute("COMMIT")
    _calls.append(len(items))
    return ids


async def customer(grinder: WorkGrinder, number: int) -> list[int]:
    """A request handler: ten orders, one at a time."""
    return [await grinder.submit(insert_rows, f"order {number}-{i}") for i in range(10)]


async def main() -> None:
    manager = LeasedExecutorManager(max_pools=1, workers_per_pool=1)
    grinder = WorkGrinder(
        executor_manager=manager, batch_size_threshold=100, max_wait_seconds=0.005
    )
    async with manager, grinder:
        ids = await asyncio.gather(*(customer(grinder, n) for n in range(200)))
        stats = grinder.stats()
    every_id = sorted(row_id for rows in ids for row_id in rows)
    assert every_id == list(range(1, 2001)), "each caller got its own, distinct row id"
    (count,) = _connection.execute("SELECT COUNT(*) FROM orders").fetchone()
    print(f"{count} rows inserted by 200 callers in {len(_calls)} executemany calls")
    print(f"largest call: {max(_calls)} rows; batch_calls in stats: {stats['batch_calls']}")


if __name__ == "__main__":
    asyncio.run(main())
