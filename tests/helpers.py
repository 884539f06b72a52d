"""Helpers shared by the tests: one bounded wait and the standard manager."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock

__all__ = ["assert_grinder_settled", "assert_manager_empty", "make_manager", "wait_until"]


async def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Yield to the loop until ``predicate()`` holds; fail after ``timeout`` real seconds.

    The bound only turns a bug into a failure instead of a hang: passing tests
    return as soon as the predicate holds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


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
