"""start() warms its process pools up off the event loop: the workers exist once it returns.

ProcessPoolExecutor starts the fork server and its workers inside the first
``submit``; the manager does that work in a worker thread during ``start()``,
so the first submit through a lease no longer stalls the loop. The observable
effect checked here is that the worker processes already exist after
``start()``, and that the first calls run on them instead of new ones.
"""

from __future__ import annotations

import multiprocessing
import os

from gristmill.testing import FakeClock
from tests.helpers import make_manager


def _new_children(before: set[int | None]) -> set[int | None]:
    return {child.pid for child in multiprocessing.active_children()} - before


async def test_start_spawns_the_workers_of_its_pools_but_acquire_does_not(
    clock: FakeClock,
) -> None:
    before = {child.pid for child in multiprocessing.active_children()}
    manager = make_manager(clock, backend="process", max_pools=2, workers_per_pool=2)
    await manager.start()
    try:
        workers = _new_children(before)
        assert len(workers) == 2  # the one pool start() created, fully spawned
        async with await manager.acquire() as warm:
            pids = {await warm.run(os.getpid) for _ in range(4)}
            assert pids <= workers
            # A pool created on demand inside acquire() is not warmed: acquire
            # stays synchronous and its workers start with its first submit.
            async with await manager.acquire() as cold:
                assert manager.stats()["pools_created"] == 2
                assert _new_children(before) == workers
                assert await cold.run(os.getpid) not in workers
    finally:
        await manager.stop()
