"""Several batches at once: bounded by max_concurrent_batches and the manager's pools; a
backlog is cut into bounded batches spread over free leases; chunking keeps every
caller's own outcome, in order, and resolves each caller when its chunk finishes."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import SourceFactory
from tests.grinder.fakes import Gate, pool_of
from tests.helpers import make_manager, stays, wait_until


class Occupancy:
    """Records, from worker threads, how many jobs run at once in each pool."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self.max_pools_busy = 0
        self.max_per_pool = 0

    def job(self, i: int) -> int:
        pool = pool_of(threading.current_thread().name)
        with self._lock:
            self._running[pool] += 1
            busy = +self._running  # drops pools with nothing running
            self.max_pools_busy = max(self.max_pools_busy, len(busy))
            self.max_per_pool = max(self.max_per_pool, self._running[pool])
        try:
            self._gate.block()
        finally:
            with self._lock:
                self._running[pool] -= 1
        return i


async def test_batches_run_at_once_up_to_max_concurrent_batches(clock: FakeClock) -> None:
    manager = make_manager(clock, max_pools=3, workers_per_pool=1)
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=1,
        max_batch_size=1,
        max_concurrent_batches=2,
    )
    await grinder.start()
    try:
        with Gate() as gate:
            occupancy = Occupancy(gate)
            futures = [await grinder.enqueue(occupancy.job, i) for i in range(6)]
            await wait_until(lambda: gate.arrived == 2, what="two batches running")
            await stays(
                lambda: (
                    grinder.stats()["running_batches"] == 2
                    and grinder.stats()["pending"] == 4
                    and manager.stats()["leased"] == 2
                    and gate.arrived == 2
                ),
                what="two batches and no third",
            )
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == list(range(6))
        assert occupancy.max_pools_busy == 2
    finally:
        await grinder.stop()
        await manager.stop()


async def test_batches_never_outnumber_the_managers_pools(clock: FakeClock) -> None:
    manager = make_manager(clock, max_pools=2, workers_per_pool=2)
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager, batch_size_threshold=2, max_concurrent_batches=5
    )
    await grinder.start()
    try:
        with Gate() as gate:
            occupancy = Occupancy(gate)
            futures = [await grinder.enqueue(occupancy.job, i) for i in range(12)]
            await wait_until(lambda: gate.arrived == 4, what="every worker busy")
            await wait_until(lambda: manager.stats()["waiters"] == 1, what="grinder waits")
            await stays(
                lambda: (
                    grinder.stats()["running_batches"] == 2
                    and manager.stats()["leased"] == 2
                    and gate.arrived == 4
                ),
                what="two batches, one per pool",
            )
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == list(range(12))
        assert occupancy.max_pools_busy == 2
        assert occupancy.max_per_pool == 2
    finally:
        await grinder.stop()
        await manager.stop()


def _lease_name() -> str:
    return pool_of(threading.current_thread().name)


async def test_a_backlog_is_split_evenly_over_the_free_leases(make_source: SourceFactory) -> None:
    source = make_source(max_pools=2)
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=2)
    await grinder.start()
    try:
        futures = [await grinder.enqueue(_lease_name) for _ in range(30)]
        names = await asyncio.wait_for(asyncio.gather(*futures), 10)
    finally:
        await grinder.stop()
    assert [names.count(lease.name) for lease in source.leases] == [15, 15]
    assert names == sorted(names)  # FIFO: the first 15 jobs form the first batch


async def test_no_batch_exceeds_max_batch_size(make_source: SourceFactory) -> None:
    source = make_source(max_pools=2)
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=2, max_batch_size=5)
    await grinder.start()
    try:
        futures = [await grinder.enqueue(_lease_name) for _ in range(33)]
        names = await asyncio.wait_for(asyncio.gather(*futures), 10)
        assert grinder.stats()["batches"] == len(source.leases)
    finally:
        await grinder.stop()
    sizes = [names.count(lease.name) for lease in source.leases]
    assert max(sizes) <= 5
    assert sum(sizes) == 33
    assert source.owners == [f"work-grinder-{n}" for n in range(1, len(sizes) + 1)]


def _mixed(i: int) -> int:
    if i % 7 == 3:
        raise KeyError(i)
    return i * i


async def test_thousands_of_items_each_get_their_own_outcome(
    manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=50, max_batch_size=400)
    await grinder.start()
    try:
        futures = [await grinder.enqueue(_mixed, i) for i in range(3000)]
        outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 30)
        stats = grinder.stats()
    finally:
        await grinder.stop()
    for i, outcome in enumerate(outcomes):
        if i % 7 == 3:
            assert isinstance(outcome, KeyError)
            assert outcome.args == (i,)
        else:
            assert outcome == i * i
    assert stats["failed"] == sum(1 for i in range(3000) if i % 7 == 3)
    assert stats["completed"] + stats["failed"] == 3000


async def test_one_worker_runs_items_in_submission_order(clock: FakeClock) -> None:
    manager = make_manager(clock, max_pools=1, workers_per_pool=1)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=64)
    await grinder.start()
    order: list[int] = []
    try:
        futures = [await grinder.enqueue(order.append, i) for i in range(1000)]
        await asyncio.wait_for(asyncio.gather(*futures), 30)
    finally:
        await grinder.stop()
        await manager.stop()
    assert order == list(range(1000))


async def test_each_caller_resolves_when_its_own_chunk_finishes(
    manager: LeasedExecutorManager,
) -> None:
    # A batch of 8 on a 2-worker pool goes out as several chunks; the chunk
    # holding item 0 is held back while the others finish.
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=8)
    await grinder.start()
    try:
        with Gate() as gate:

            def job(i: int) -> int:
                if i == 0:
                    gate.block()
                return i

            futures = [await grinder.enqueue(job, i) for i in range(8)]
            await wait_until(lambda: all(f.done() for f in futures[4:]), what="other chunks")
            assert [f.result() for f in futures[4:]] == [4, 5, 6, 7]
            assert not futures[0].done()
            assert grinder.stats()["running_batches"] == 1
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == list(range(8))
    finally:
        await grinder.stop()
