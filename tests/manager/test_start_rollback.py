"""start() warms its pools up in a worker thread; a start that fails or is cancelled is undone.

On the thread backend the warm-up does nothing, but ``start()`` still awaits
it, so these tests can cancel or race a start at that await deterministically.
"""

from __future__ import annotations

import asyncio

import pytest

from gristmill import NotStartedError
from gristmill.testing import FakeClock
from tests.helpers import make_manager


async def test_cancelled_start_leaves_the_manager_stopped_and_restartable(
    clock: FakeClock,
) -> None:
    manager = make_manager(clock)
    starting = asyncio.create_task(manager.start())
    await asyncio.sleep(0)  # start() now waits for its warm-up thread
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    stats = manager.stats()
    assert (stats["state"], stats["total"]) == ("stopped", 0)
    assert stats["pools_created"] == stats["pools_retired"] == 1

    await manager.start()
    try:
        async with await manager.acquire() as lease:
            assert await lease.run(sum, [1, 2]) == 3
    finally:
        await manager.stop()


async def test_stop_during_the_warm_up_makes_start_raise_not_started(clock: FakeClock) -> None:
    manager = make_manager(clock)
    starting = asyncio.create_task(manager.start())
    await asyncio.sleep(0)  # start() now waits for its warm-up thread
    await manager.stop()
    with pytest.raises(NotStartedError, match="stopped while start"):
        await starting
    assert manager.stats()["state"] == "stopped"
    assert manager.total_count == 0


async def test_pools_are_lendable_while_start_warms_them_up(clock: FakeClock) -> None:
    manager = make_manager(clock)
    starting = asyncio.create_task(manager.start())
    await asyncio.sleep(0)  # start() now waits for its warm-up thread
    try:
        async with await manager.acquire(wait=False) as lease:
            assert await lease.run(max, 4, 9) == 9
        await starting
        assert manager.stats()["state"] == "running"
    finally:
        await manager.stop()


async def test_start_whose_first_pool_cannot_be_created_is_undone_and_not_counted(
    clock: FakeClock,
) -> None:
    # ThreadPoolExecutor itself refuses an initializer that is not callable.
    manager = make_manager(clock, initializer="not callable")
    with pytest.raises(TypeError, match="initializer"):
        await manager.start()
    stats = manager.stats()
    assert (stats["state"], stats["total"]) == ("stopped", 0)
    assert stats["pools_created"] == stats["pools_retired"] == 0
