"""Every API that takes a duration refuses one past ``threading.TIMEOUT_MAX`` (issue 9, defect 7).

Such a value used to pass validation and then overflow inside ``threading``
(``stats_from_thread(timeout=1e10)`` raised ``OverflowError``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill._validate import MAX_SECONDS, duration, optional_timeout
from gristmill.testing import FakeClock

HUGE = 1e10  # > TIMEOUT_MAX (about 9.2e9 s), yet finite


def test_the_maximum_is_what_threading_can_wait() -> None:
    assert MAX_SECONDS == threading.TIMEOUT_MAX
    assert duration("wait", MAX_SECONDS) == MAX_SECONDS
    assert optional_timeout("timeout", MAX_SECONDS) == MAX_SECONDS


@pytest.mark.parametrize("check", [duration, optional_timeout])
def test_past_the_maximum_is_a_value_error_naming_the_field(
    check: Callable[[str, object], object],
) -> None:
    with pytest.raises(ValueError, match=r"wait must be at most .*TIMEOUT_MAX"):
        check("wait", HUGE)


@pytest.mark.parametrize(
    "keyword",
    ["check_interval", "default_lease_seconds", "lease_grace_seconds", "idle_keepalive_seconds"],
)
def test_manager_durations_have_a_maximum(keyword: str) -> None:
    options: dict[str, Any] = {keyword: HUGE}
    with pytest.raises(ValueError, match=keyword):
        LeasedExecutorManager(max_pools=1, **options)


@pytest.mark.parametrize(
    "keyword", ["max_wait_seconds", "lease_seconds", "deadline_seconds", "run_timeout_seconds"]
)
def test_grinder_durations_have_a_maximum(clock: FakeClock, keyword: str) -> None:
    manager = LeasedExecutorManager(max_pools=1, backend="process", clock=clock)
    options: dict[str, Any] = {keyword: HUGE}
    with pytest.raises(ValueError, match=keyword):
        WorkGrinder(executor_manager=manager, **options)


@pytest.mark.parametrize("keyword", ["deadline_seconds", "run_timeout_seconds"])
def test_work_durations_have_a_maximum(keyword: str) -> None:
    options: dict[str, Any] = {keyword: HUGE}
    with pytest.raises(ValueError, match=keyword):
        Work(print, **options)


async def test_runtime_timeouts_have_a_maximum(
    manager: LeasedExecutorManager, grinder: WorkGrinder
) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await manager.acquire(timeout=HUGE)
    with pytest.raises(ValueError, match="lease_seconds"):
        await manager.acquire(lease_seconds=HUGE)
    with pytest.raises(ValueError, match="timeout"):
        await asyncio.to_thread(grinder.stats_from_thread, HUGE)
    with pytest.raises(ValueError, match="timeout"):
        await grinder.stop(timeout=HUGE)
    assert grinder.stats()["state"] == "running"  # the refused stop changed nothing
