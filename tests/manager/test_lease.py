"""ExecutorLease: its terms, the executor proxy, run(), release() and async with."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor

import pytest

from gristmill import ExecutorLease, LeasedExecutor, LeasedExecutorManager, LeaseExpiredError
from gristmill.testing import FakeClock
from tests.helpers import has_begun, wait_until
from tests.manager.support import GATE_TIMEOUT, StartManager, block_on, thread_name


def fail(message: str) -> None:
    raise ValueError(message)


def describe(a: int, b: int, *, sep: str) -> str:
    return f"{a}{sep}{b}"


def next_of_empty() -> int:
    return next(iter(()))


async def test_lease_terms_follow_the_fake_clock(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    clock.advance(1000.0)
    lease = await manager.acquire(lease_seconds=60.0, owner="alice")
    try:
        assert lease.owner == "alice"
        assert (lease.lease_seconds, lease.grace_seconds) == (60.0, 15.0)
        assert lease.leased_at == 1000.0
        assert lease.soft_expires_at == lease.leased_at + lease.lease_seconds == 1060.0
        assert lease.hard_expires_at == lease.soft_expires_at + lease.grace_seconds == 1075.0
    finally:
        await lease.release()


async def test_lease_ids_are_unique(manager: LeasedExecutorManager) -> None:
    ids = set()
    for _ in range(5):
        async with await manager.acquire() as lease:
            ids.add(lease.lease_id)
    assert len(ids) == 5
    assert all(isinstance(lease_id, str) for lease_id in ids)


async def test_executor_is_a_concurrent_futures_executor(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire() as lease:
        assert isinstance(lease.executor, Executor)
        assert isinstance(lease.executor, LeasedExecutor)


async def test_executor_submit_runs_on_the_pool(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire() as lease:
        future = lease.executor.submit(describe, 1, 2, sep="+")
        assert await asyncio.wrap_future(future) == "1+2"
        name = await asyncio.wrap_future(lease.executor.submit(thread_name))
        assert name.startswith("gristmill-thread-")
        assert name != threading.current_thread().name


async def test_executor_map_returns_results_in_order(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire() as lease:
        results = await asyncio.to_thread(lambda: list(lease.executor.map(pow, [1, 2, 3], [2] * 3)))
        assert results == [1, 4, 9]


async def test_executor_shutdown_is_refused_and_pool_keeps_working(
    manager: LeasedExecutorManager,
) -> None:
    async with await manager.acquire() as lease:
        with pytest.raises(RuntimeError, match="release"):
            lease.executor.shutdown()
        with pytest.raises(RuntimeError):
            lease.executor.shutdown(wait=False, cancel_futures=True)
        assert await lease.run(abs, -3) == 3


async def test_submit_after_release_raises_lease_expired(manager: LeasedExecutorManager) -> None:
    lease = await manager.acquire()
    executor = lease.executor
    await lease.release()
    with pytest.raises(LeaseExpiredError):
        executor.submit(int)
    with pytest.raises(LeaseExpiredError):
        await lease.run(int)


async def test_run_returns_the_result_with_args_and_kwargs(
    manager: LeasedExecutorManager,
) -> None:
    async with await manager.acquire() as lease:
        assert await lease.run(describe, 3, 4, sep="-") == "3-4"


async def test_run_propagates_the_exception(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire() as lease:
        with pytest.raises(ValueError, match="boom"):
            await lease.run(fail, "boom")
        assert await lease.run(len, "still usable") == 12


async def test_run_turns_stop_iteration_into_a_chained_runtime_error(
    manager: LeasedExecutorManager,
) -> None:
    async with await manager.acquire() as lease:
        # A real bound: without the conversion the await never resolves.
        with pytest.raises(RuntimeError, match="next_of_empty raised StopIteration") as caught:
            await asyncio.wait_for(lease.run(next_of_empty), 5.0)
        assert isinstance(caught.value.__cause__, StopIteration)
        assert await lease.run(len, "still usable") == 12


async def test_release_is_idempotent(manager: LeasedExecutorManager) -> None:
    lease = await manager.acquire()
    await lease.release()
    await lease.release()
    await manager.release(lease.lease_id)
    stats = manager.stats()
    assert (stats["leases_released"], stats["leased"]) == (1, 0)


async def test_released_pool_is_lent_again(manager: LeasedExecutorManager) -> None:
    lease = await manager.acquire()
    await lease.release()
    assert (manager.available_count, manager.leased_count) == (1, 0)
    again = await manager.acquire()
    try:
        assert manager.stats()["pools_created"] == 1
    finally:
        await again.release()


async def test_async_with_releases_on_exit(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire() as lease:
        assert manager.leased_count == 1
    assert manager.leased_count == 0
    with pytest.raises(LeaseExpiredError):
        lease.executor.submit(int)


async def test_async_with_releases_on_exception(manager: LeasedExecutorManager) -> None:
    held: list[ExecutorLease] = []

    async def use_and_fail() -> None:
        async with await manager.acquire() as lease:
            held.append(lease)
            raise KeyError("inside")

    with pytest.raises(KeyError):
        await use_and_fail()
    assert manager.leased_count == 0
    with pytest.raises(LeaseExpiredError):
        held[0].executor.submit(int)


async def test_manager_release_by_id_returns_the_lease(manager: LeasedExecutorManager) -> None:
    lease = await manager.acquire()
    await manager.release(lease.lease_id)
    assert (manager.leased_count, manager.available_count) == (0, 1)
    with pytest.raises(LeaseExpiredError):
        lease.executor.submit(int)


async def test_manager_release_ignores_unknown_ids(manager: LeasedExecutorManager) -> None:
    lease = await manager.acquire()
    try:
        await manager.release("no-such-lease")
        assert manager.leased_count == 1
        assert manager.stats()["leases_released"] == 0
    finally:
        await lease.release()


async def test_lease_repr_names_id_owner_and_pool(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire(owner="bob") as lease:
        text = repr(lease)
        assert lease.lease_id in text
        assert "'bob'" in text


async def test_cancelling_run_cancels_a_call_that_has_not_started(
    start_manager: StartManager, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1, workers_per_pool=1)
    ran: list[str] = []
    async with await mgr.acquire() as lease:
        started = threading.Event()
        blocker = asyncio.ensure_future(lease.run(block_on, gate, started))
        assert await asyncio.to_thread(started.wait, GATE_TIMEOUT)
        queued = asyncio.ensure_future(lease.run(ran.append, "queued"))
        await wait_until(lambda: has_begun(queued), what="the call submitted")
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        gate.set()
        await blocker
        await lease.run(ran.append, "after")
    assert ran == ["after"]


async def test_a_leased_future_cancels_and_reports_running_like_the_executors_own(
    manager: LeasedExecutorManager, gate: threading.Event
) -> None:
    async with await manager.acquire() as lease:
        started = threading.Event()
        running = lease.executor.submit(block_on, gate, started)
        assert await asyncio.to_thread(started.wait, GATE_TIMEOUT)
        assert running.running()
        assert not running.cancel()  # started: it runs to the end, as with any executor
        gate.set()
        result: str = await asyncio.wrap_future(running)
        assert result.startswith("gristmill-thread")
        assert not running.running()


async def test_a_queued_leased_future_can_be_cancelled(
    start_manager: StartManager, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1, workers_per_pool=1)
    async with await mgr.acquire() as lease:
        started = threading.Event()
        busy = lease.executor.submit(block_on, gate, started)
        queued = lease.executor.submit(int)
        assert queued.cancel()
        assert queued.cancelled()
        gate.set()
        await asyncio.wrap_future(busy)
