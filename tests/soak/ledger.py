"""The soak's books: what each item is meant to do, and what each one's future did.

Memory is the point of a soak, so the books take compact state only: one byte
per item for its plan and one for how many times its future resolved, plus
counters. No future is kept once its caller has let it go, so the test itself
does not grow while it runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import itertools
import random
import threading
from dataclasses import dataclass
from functools import partial

import psutil

from gristmill import WorkerCrashedError
from tests.soak.jobs import ItemFailedError, expected

__all__ = ["Kind", "Ledger", "Tally", "make_plan", "rss_mib"]

AnyFuture = asyncio.Future[int] | concurrent.futures.Future[int]

_MIB = 1024 * 1024
_MAX_WRONG_KEPT = 20


class Kind(enum.IntEnum):
    """What an item is planned to do; stored as one byte per item."""

    OK = 0
    """Return :func:`~tests.soak.jobs.expected`."""
    FAIL = 1
    """Raise its own :class:`~tests.soak.jobs.ItemFailedError`."""
    CANCEL_AT_ONCE = 2
    """Cancelled by its caller right after submitting: it must end cancelled."""
    CANCEL_LATER = 3
    """Cancelled a little later (queued, running or done by then): cancelled or its result."""
    DEADLINE = 4
    """Carries a deadline too short to keep: its ``TimeoutError`` or, if dispatched in time,
    its result."""
    CRASH = 5
    """Kills its worker process: it must fail with ``WorkerCrashedError``."""


def make_plan(
    items: int,
    seed: int,
    *,
    fail_rate: float,
    cancel_rate: float,
    deadline_items: int = 0,
    crash_items: int = 0,
) -> bytearray:
    """Return one :class:`Kind` per item, drawn from ``random.Random(seed)``.

    ``fail_rate`` and ``cancel_rate`` are shares of all items (the cancels are
    split evenly between at once and later); the deadline and crash items are
    exact counts placed at random.
    """
    rng = random.Random(seed)
    plan = bytearray(items)
    for item in range(items):
        draw = rng.random()
        if draw < fail_rate:
            plan[item] = Kind.FAIL
        elif draw < fail_rate + cancel_rate / 2:
            plan[item] = Kind.CANCEL_AT_ONCE
        elif draw < fail_rate + cancel_rate:
            plan[item] = Kind.CANCEL_LATER
    special = rng.sample(range(items), deadline_items + crash_items)
    for item in special[:deadline_items]:
        plan[item] = Kind.DEADLINE
    for item in special[deadline_items:]:
        plan[item] = Kind.CRASH
    return plan


@dataclass(frozen=True)
class Tally:
    """How the futures resolved, as the callers saw it."""

    completed: int
    failed: int
    crashed: int
    cancelled: int
    cancelled_from_thread: int
    """The ``cancelled`` futures that a producer thread held (concurrent futures)."""
    timed_out: int
    other: int
    """Futures that failed with an error no item raises (a crashed grinder, say)."""
    resolved: int
    wrong: int
    """Futures whose outcome the plan does not allow (wrong value, someone else's error...)."""
    examples: tuple[str, ...]
    """The first few wrong outcomes, described."""


class Ledger:
    """Watches every item's future and checks its outcome against the plan.

    ``watch`` registers a done-callback that counts the resolution in the
    item's byte and judges the outcome. Callbacks may run on the loop or on a
    producer thread (a concurrent future cancelled there), so the books are
    kept under a lock.
    """

    def __init__(self, plan: bytearray) -> None:
        self.plan = plan
        self.resolutions = bytearray(len(plan))
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            (
                "completed",
                "failed",
                "crashed",
                "cancelled",
                "cancelled_from_thread",
                "timed_out",
                "other",
                "wrong",
            ),
            0,
        )
        self._resolved = 0
        self._examples: list[str] = []

    @property
    def resolved(self) -> int:
        """Futures resolved so far (any thread)."""
        return self._resolved

    def watch(self, item: int, future: AnyFuture) -> None:
        """Count and judge ``future``, the future of ``item``, when it resolves."""
        future.add_done_callback(partial(self._on_done, item))

    def expect(self, condition: bool, what: str) -> None:
        """Count ``what`` as a wrong outcome unless ``condition`` holds (any thread)."""
        if not condition:
            with self._lock:
                self._wrong(what)

    def tally(self) -> Tally:
        """Return the books so far."""
        with self._lock:
            return Tally(resolved=self._resolved, examples=tuple(self._examples), **self._counts)

    def unresolved_or_twice(self) -> list[tuple[int, int]]:
        """Return up to ten ``(item, resolutions)`` whose future did not resolve exactly once."""
        odd = ((item, count) for item, count in enumerate(self.resolutions) if count != 1)
        return list(itertools.islice(odd, 10))

    def _on_done(self, item: int, future: AnyFuture) -> None:
        kind = Kind(self.plan[item])
        outcome, allowed = _judge(kind, item, future)
        with self._lock:
            self.resolutions[item] = min(self.resolutions[item] + 1, 255)
            self._resolved += 1
            self._counts[outcome] += 1
            if outcome == "cancelled" and isinstance(future, concurrent.futures.Future):
                self._counts["cancelled_from_thread"] += 1
            if not allowed:
                self._wrong(_describe(item, kind, future))

    def _wrong(self, what: str) -> None:
        self._counts["wrong"] += 1
        if len(self._examples) < _MAX_WRONG_KEPT:
            self._examples.append(what)


def _judge(kind: Kind, item: int, future: AnyFuture) -> tuple[str, bool]:
    """Return the outcome's name and whether the plan allows it for ``item``."""
    if future.cancelled():
        return "cancelled", kind in (Kind.CANCEL_AT_ONCE, Kind.CANCEL_LATER)
    error = future.exception()
    if error is None:
        # From a thread, "at once" still leaves a moment between submit and
        # cancel in which the item may finish; from the loop it does not.
        from_thread = isinstance(future, concurrent.futures.Future)
        allowed = kind in (Kind.OK, Kind.CANCEL_LATER, Kind.DEADLINE) or (
            from_thread and kind is Kind.CANCEL_AT_ONCE
        )
        return "completed", allowed and future.result() == expected(item)
    if isinstance(error, ItemFailedError):
        return "failed", kind is Kind.FAIL and error.item == item
    if isinstance(error, TimeoutError):
        return "timed_out", kind is Kind.DEADLINE
    if isinstance(error, WorkerCrashedError):
        return "crashed", kind is Kind.CRASH
    return "other", False


def _describe(item: int, kind: Kind, future: AnyFuture) -> str:
    if future.cancelled():
        outcome = "was cancelled"
    elif (error := future.exception()) is not None:
        outcome = f"raised {error!r}"
    else:
        outcome = f"returned {future.result()!r}"
    return f"item {item}, planned {kind.name}, {outcome}"


def rss_mib() -> float:
    """This process's resident set size, in MiB."""
    return float(psutil.Process().memory_info().rss) / _MIB
