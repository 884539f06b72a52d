"""The scheduler goes away under a running manager: work fails clearly, stop() returns.

Uses a cluster of its own, since the test closes it: one in-process worker,
which starts and stops quicker than a worker process and loses its scheduler
all the same.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import BrokenExecutor

import pytest
from distributed import Client, Event, LocalCluster

from gristmill import WorkGrinder
from gristmill.testing import FakeClock
from tests.dask import jobs
from tests.helpers import assert_manager_empty, make_manager, wait_until

WAIT = 20.0


async def test_losing_the_scheduler_breaks_pools_and_stop_still_returns(clock: FakeClock) -> None:
    cluster = await asyncio.to_thread(
        LocalCluster, n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    manager = make_manager(
        clock, backend="dask", address=cluster.scheduler_address, max_pools=1, workers_per_pool=1
    )
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1)
    started = f"started-{uuid.uuid4()}"
    try:
        await manager.start()
        await grinder.start()
        lease = await manager.acquire()
        running = lease.executor.submit(jobs.block, started, f"never-{uuid.uuid4()}")
        assert await asyncio.to_thread(_wait_for_event, cluster, started)

        await asyncio.to_thread(cluster.close)

        await wait_until(running.done, timeout=WAIT, what="the in-flight job to fail")
        assert isinstance(running.exception(), BrokenExecutor)
        await wait_until(lambda: manager.stats()["pools_broken"] == 1, what="the pool to retire")
        with pytest.raises(BrokenExecutor, match="not connected to its scheduler"):
            await grinder.submit(abs, -1)
    finally:
        await asyncio.wait_for(grinder.stop(), WAIT)
        await asyncio.wait_for(manager.stop(), WAIT)
        await asyncio.to_thread(cluster.close)
    assert_manager_empty(manager)


def _wait_for_event(cluster: LocalCluster, name: str) -> bool:
    """Wait (blocking) until the cluster event ``name`` is set; False after ``WAIT`` s."""
    with Client(cluster, set_as_default=False) as client:
        return bool(Event(name, client=client).wait(WAIT))
