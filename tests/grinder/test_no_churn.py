"""A busy grinder keeps its pools warm: no shutdown and re-creation between batches."""

from __future__ import annotations

import asyncio

from gristmill import WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until


def _double(x: int) -> int:
    return 2 * x


async def _burst(grinder: WorkGrinder, size: int) -> None:
    futures = [await grinder.enqueue(_double, i) for i in range(size)]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [2 * i for i in range(size)]


async def test_repeated_bursts_reuse_the_same_pools(clock: FakeClock) -> None:
    manager = make_manager(clock, max_pools=4, min_pools=1, idle_keepalive_seconds=5.0)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=8)
    await grinder.start()
    try:
        for _ in range(10):
            await _burst(grinder, 64)
            await wait_until(lambda: manager.stats()["leased"] == 0, what="leases back")
            clock.advance(4.9)  # just inside the keep-alive
        stats = manager.stats()
        assert grinder.stats()["batches"] >= 40
        assert stats["pools_created"] == 4
        assert stats["pools_retired"] == 0
        assert stats["total"] == 4
    finally:
        await grinder.stop()
        await manager.stop()


async def test_surplus_pools_shut_down_once_the_grinder_goes_quiet(clock: FakeClock) -> None:
    manager = make_manager(clock, max_pools=4, min_pools=1, idle_keepalive_seconds=5.0)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=8)
    await grinder.start()
    try:
        await _burst(grinder, 64)
        await wait_until(lambda: manager.stats()["leased"] == 0, what="leases back")
        assert manager.stats()["total"] == 4
        clock.advance(5.0)
        assert manager.stats()["total"] == 1  # back to min_pools
        assert manager.stats()["pools_retired"] == 3
        await _burst(grinder, 64)  # busy again: pools come back on demand
        assert manager.stats()["pools_created"] == 7
    finally:
        await grinder.stop()
        await manager.stop()
