"""Manager lifecycle: start, stop, restart, loop ownership and what stop leaves behind."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from gristmill import (
    LeasedExecutorManager,
    LeaseExpiredError,
    LeasePoolNotStartedError,
    NotStartedError,
    WrongLoopError,
)
from gristmill.testing import FakeClock
from tests.helpers import has_begun, make_manager, wait_until
from tests.manager.support import block_on, thread_name


def live_threads(prefix: str) -> list[str]:
    """Names of live threads that belong to pools named ``prefix``."""
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


async def test_start_is_idempotent(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    try:
        await mgr.start()
        assert mgr.stats()["pools_created"] == 1
        assert mgr.stats()["state"] == "running"
    finally:
        await mgr.stop()


async def test_stop_before_start_is_a_no_op(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.stop()
    assert mgr.stats()["state"] == "created"


async def test_stop_twice_and_concurrently_is_safe(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    await asyncio.gather(mgr.stop(), mgr.stop(), mgr.stop())
    await mgr.stop()
    assert mgr.stats()["state"] == "stopped"
    assert mgr.total_count == 0


async def test_start_from_second_loop_while_running_raises_wrong_loop(
    manager: LeasedExecutorManager,
) -> None:
    with pytest.raises(WrongLoopError) as info:
        await asyncio.to_thread(asyncio.run, manager.start())
    assert isinstance(info.value, RuntimeError)


async def test_acquire_from_foreign_loop_raises_runtime_error(
    manager: LeasedExecutorManager,
) -> None:
    with pytest.raises(RuntimeError) as info:
        await asyncio.to_thread(asyncio.run, manager.acquire())
    assert isinstance(info.value, WrongLoopError)
    assert manager.leased_count == 0


async def test_stop_from_foreign_loop_raises_wrong_loop(manager: LeasedExecutorManager) -> None:
    with pytest.raises(WrongLoopError):
        await asyncio.to_thread(asyncio.run, manager.stop())
    assert manager.stats()["state"] == "running"


async def test_acquire_before_start_raises_not_started(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    with pytest.raises(LeasePoolNotStartedError) as info:
        await mgr.acquire()
    assert isinstance(info.value, RuntimeError)


async def test_acquire_after_stop_raises_not_started(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    await mgr.stop()
    with pytest.raises(NotStartedError):
        await mgr.acquire()


async def test_restart_after_stop_serves_leases_again(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    await mgr.stop()
    await mgr.start()
    try:
        async with await mgr.acquire() as lease:
            assert await lease.run(lambda: 21 * 2) == 42
        assert mgr.stats()["state"] == "running"
    finally:
        await mgr.stop()
    assert mgr.total_count == 0


async def test_stopped_manager_can_be_started_on_another_loop(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    await mgr.stop()

    async def use_elsewhere() -> int:
        await mgr.start()
        try:
            async with await mgr.acquire() as lease:
                return await lease.run(lambda: 7)
        finally:
            await mgr.stop()

    assert await asyncio.to_thread(asyncio.run, use_elsewhere()) == 7


async def test_start_and_acquire_while_stopping_raise_not_started(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    stopping = asyncio.create_task(mgr.stop())
    # Checked on the very turn stop() begins: it soon finishes joining the idle pools.
    await wait_until(lambda: has_begun(stopping), what="stop() to begin", every_turn=True)
    assert mgr.stats()["state"] == "stopping"
    with pytest.raises(NotStartedError):
        await mgr.start()
    with pytest.raises(NotStartedError):
        await mgr.acquire()
    await mgr.stop()
    assert stopping.done()
    assert mgr.stats()["state"] == "stopped"


async def test_stop_fails_waiting_acquirers_with_not_started(clock: FakeClock) -> None:
    mgr = make_manager(clock, max_pools=1)
    await mgr.start()
    await mgr.acquire()
    waiters = [asyncio.create_task(mgr.acquire(owner=f"w{i}")) for i in range(3)]
    await wait_until(lambda: mgr.stats()["waiters"] == 3, what="three waiters")
    await mgr.stop()
    for task in waiters:
        with pytest.raises(LeasePoolNotStartedError):
            await task


async def test_stop_revokes_active_leases(clock: FakeClock) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    lease = await mgr.acquire()
    await mgr.stop()
    with pytest.raises(LeaseExpiredError):
        lease.executor.submit(int)
    with pytest.raises(LeaseExpiredError):
        await lease.run(int)
    await lease.release()  # returning a revoked lease is harmless
    stats = mgr.stats()
    assert (stats["total"], stats["leased"], stats["leases"]) == (0, 0, [])


async def test_stop_joins_idle_pool_threads(clock: FakeClock) -> None:
    prefix = f"stopidle{uuid.uuid4().hex[:8]}"
    mgr = make_manager(clock, name_prefix=prefix)
    await mgr.start()
    first, second = await mgr.acquire(), await mgr.acquire()
    names = {await first.run(thread_name), await second.run(thread_name)}
    assert len(live_threads(prefix)) >= 2, names
    await first.release()
    await second.release()
    await mgr.stop()
    assert live_threads(prefix) == []
    assert mgr.total_count == 0


async def test_stop_joins_threads_of_leased_pools_with_no_running_work(
    clock: FakeClock,
) -> None:
    prefix = f"stopleased{uuid.uuid4().hex[:8]}"
    mgr = make_manager(clock, name_prefix=prefix)
    await mgr.start()
    lease = await mgr.acquire()
    await lease.run(thread_name)
    assert live_threads(prefix) != []
    await mgr.stop()
    assert live_threads(prefix) == []


async def test_stop_does_not_wait_for_running_work(clock: FakeClock, gate: threading.Event) -> None:
    mgr = make_manager(clock)
    await mgr.start()
    lease = await mgr.acquire()
    started = threading.Event()
    running = asyncio.wrap_future(lease.executor.submit(block_on, gate, started))
    assert await asyncio.to_thread(started.wait, 10)
    await mgr.stop()
    assert not running.done()
    assert mgr.total_count == 0
    gate.set()
    assert (await running).startswith("gristmill-thread-")


async def test_release_from_foreign_loop_raises_and_keeps_the_lease(
    manager: LeasedExecutorManager,
) -> None:
    lease = await manager.acquire()
    with pytest.raises(WrongLoopError):
        await asyncio.to_thread(asyncio.run, lease.release())
    with pytest.raises(WrongLoopError):
        await asyncio.to_thread(asyncio.run, manager.release(lease.lease_id))
    assert manager.leased_count == 1
    assert await lease.run(lambda: "still mine") == "still mine"
    await lease.release()


async def test_stop_right_after_handoff_fails_the_unresumed_acquirer(clock: FakeClock) -> None:
    mgr = make_manager(clock, max_pools=1)
    await mgr.start()
    first = await mgr.acquire()
    waiting = asyncio.create_task(mgr.acquire(owner="late"))
    await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
    await first.release()  # hands the pool to "late", whose task has not resumed yet
    await mgr.stop()
    with pytest.raises(NotStartedError):
        await waiting
    assert mgr.stats()["leases"] == []
