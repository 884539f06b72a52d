"""Helpers shared by the tests: one bounded wait, its negative, and the standard manager."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock

__all__ = [
    "assert_grinder_settled",
    "assert_manager_empty",
    "has_begun",
    "make_manager",
    "stays",
    "wait_until",
]


async def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float = 10.0,
    what: str = "condition",
    every_turn: bool = False,
) -> None:
    """Yield to the loop until ``predicate()`` holds; fail after ``timeout`` real seconds.

    The bound only turns a bug into a failure instead of a hang: passing tests
    return as soon as the predicate holds. With ``every_turn`` the predicate
    is checked after every loop turn instead of every millisecond, so the wait
    ends on the very turn it first holds: for a test that must act at that
    point, before the tasks it woke take their next step.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = 0 if every_turn else 0.001
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(pause)


def has_begun(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` has taken its first step: run up to its first ``await``, or finished."""
    if task.done():
        return True
    coroutine = task.get_coro()
    return not inspect.iscoroutine(coroutine) or (
        inspect.getcoroutinestate(coroutine) != inspect.CORO_CREATED
    )


async def stays(predicate: Callable[[], bool], *, turns: int = 20, what: str = "condition") -> None:
    """Assert that ``predicate()`` holds now and after each of the next ``turns`` loop turns.

    For what must *not* happen (no batch before the max wait, no waiter served
    early) there is no event to wait for. Checking at every turn, rather than
    once after a fixed count, catches a fault on whichever turn it shows, and
    does not depend on how many turns the code under test takes.
    """
    for turn in range(turns + 1):
        if not predicate():
            raise AssertionError(f"{what} stopped holding after {turn} loop turns")
        await asyncio.sleep(0)


def make_manager(clock: FakeClock, **overrides: Any) -> LeasedExecutorManager:
    """A thread-backed manager on the fake clock; keywords override the defaults."""
    options: dict[str, Any] = {"max_pools": 2, "workers_per_pool": 2, "clock": clock}
    options.update(overrides)
    return LeasedExecutorManager(**options)


def assert_manager_empty(manager: LeasedExecutorManager) -> None:
    """After ``stop()``: no pool is alive and no lease is held."""
    stats = manager.stats()
    assert stats["total"] == 0, stats
    assert stats["leases"] == [], stats


def assert_grinder_settled(grinder: WorkGrinder) -> None:
    """After ``stop()``: nothing pending or in flight, and every job is accounted for."""
    stats = grinder.stats()
    assert stats["pending"] == 0, stats
    assert stats["in_flight"] == 0, stats
    settled = stats["completed"] + stats["failed"] + stats["cancelled"] + stats["timed_out"]
    assert stats["submitted"] == settled, stats
