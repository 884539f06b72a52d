"""A batch runs on exactly one leased executor: one lease per batch, one pool per batch."""

from __future__ import annotations

import asyncio
import threading

from gristmill import LeasedExecutorManager, WorkGrinder
from tests.grinder.fakes import Gate, pool_of
from tests.helpers import wait_until


async def test_every_item_of_a_batch_runs_in_threads_of_one_pool(
    grinder: WorkGrinder, manager: LeasedExecutorManager
) -> None:
    def job(gate: Gate) -> str:
        gate.block()
        return threading.current_thread().name

    with Gate() as gate:
        # Two batches of 4 (threshold 4) run at once on the two pools: every
        # worker thread of both pools is busy before any job may finish.
        futures = [await grinder.enqueue(job, gate) for _ in range(8)]
        await wait_until(lambda: gate.arrived == 4, what="both pools busy")
        assert manager.stats()["leased"] == 2
    names = await asyncio.wait_for(asyncio.gather(*futures), 10)
    first, second = {pool_of(n) for n in names[:4]}, {pool_of(n) for n in names[4:]}
    assert len(first) == 1
    assert len(second) == 1
    assert first != second
    assert all(name.startswith("gristmill-thread-") for name in names)


async def test_leases_granted_grows_by_one_per_batch(
    grinder: WorkGrinder, manager: LeasedExecutorManager
) -> None:
    before = manager.stats()["leases_granted"]
    for batch in range(1, 4):
        futures = [await grinder.enqueue(abs, -i) for i in range(4)]
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 2, 3]
        assert grinder.stats()["batches"] == batch
        assert manager.stats()["leases_granted"] == before + batch
    await wait_until(lambda: manager.stats()["leased"] == 0, what="leases returned")
