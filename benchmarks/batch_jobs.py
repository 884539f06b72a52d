"""Jobs for the batch-function benchmarks, at module top level so process workers import them.

The SQLite jobs write through one connection per process, opened by
:func:`open_database`; a lock makes them safe from several pool threads. Each
call is one durable transaction (WAL with ``synchronous=FULL``, SQLite's
default durability: every commit reaches the disk): a row alone commits once,
and so does a whole batch.
"""

from __future__ import annotations

import os

# One BLAS thread per worker process: the pool already has a process per core,
# and OpenBLAS threads fighting over the same two cores make a small matrix
# product ten times slower. Set before numpy is imported, in every worker.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sqlite3
import threading
from collections.abc import Sequence

import numpy as np

from gristmill import batched

_connection: sqlite3.Connection | None = None
_lock = threading.Lock()

Row = tuple[int, str]


def open_database(path: str) -> None:
    """Open (or create) the benchmark database at ``path`` for this process's writers."""
    global _connection
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # SQLite's default: every commit is durable
    connection.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER, payload TEXT)")
    _connection = connection


def close_database() -> int:
    """Close the connection; return how many rows the table holds."""
    global _connection
    assert _connection is not None
    (count,) = _connection.execute("SELECT COUNT(*) FROM rows").fetchone()
    _connection.close()
    _connection = None
    return int(count)


def insert_one(row: Row) -> None:
    """Insert one row in its own transaction."""
    assert _connection is not None
    with _lock:
        _connection.execute("BEGIN")
        _connection.execute("INSERT INTO rows VALUES (?, ?)", row)
        _connection.execute("COMMIT")


def insert_many(rows: Sequence[Row]) -> list[None]:
    """Insert ``rows`` with one ``executemany`` in one transaction."""
    assert _connection is not None
    with _lock:
        _connection.execute("BEGIN")
        _connection.executemany("INSERT INTO rows VALUES (?, ?)", rows)
        _connection.execute("COMMIT")
    return [None] * len(rows)


insert_batch = batched(max_batch_size=256)(insert_many)
"""``insert_many`` as a batch function: one ``executemany`` over many callers' rows."""


def nothing(items: Sequence[object]) -> list[None]:
    """A batch function's work left out: what is left is the batcher's own cost."""
    return [None] * len(items)


nothing_batch = batched(max_batch_size=256)(nothing)


# -- vector-cpu: a small simulation stepped with numpy, one item or many at once ---------------

_STEPS = 300
_BASIS = np.array([1.0, 0.5, 0.25, 0.125])


def _simulate(xs: np.ndarray) -> np.ndarray:
    """Step damped oscillators (four per item) through time; return each item's end state.

    Every step is a few numpy operations over all the items at once, so the
    per-call cost (hundreds of small numpy calls) is paid once per call, not
    once per item: the case a batch function is for.
    """
    position = xs[:, None] * _BASIS[None, :]
    velocity = np.zeros_like(position)
    for _ in range(_STEPS):
        velocity += (-4.0 * position - 0.1 * velocity) * 0.01
        position += velocity * 0.01
    return position.sum(axis=1)  # type: ignore[no-any-return]


def simulate_one(x: float) -> float:
    """The simulation for one item: the same numpy code over an array of one."""
    return float(_simulate(np.array([x]))[0])


@batched(max_batch_size=1024)
def simulate_batch(xs: list[float]) -> list[float]:
    """The simulation for a whole call of items at once."""
    return _simulate(np.asarray(xs)).tolist()  # type: ignore[no-any-return]


# -- poison-split: a call that costs a fixed millisecond, and fails if it holds a poison ------

POISON = -1


def _checked(items: list[int]) -> list[int]:
    import time

    time.sleep(0.001)  # the fixed cost of one call (a round trip, a model launch)
    if POISON in items:
        raise ValueError("a poison item is in this call")
    return [item * 2 for item in items]


checked = batched(max_batch_size=256, on_error="split")(_checked)
