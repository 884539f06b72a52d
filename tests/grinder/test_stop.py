"""stop(): draining by default, cancel_pending=True, repeated and concurrent stops, restart."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pytest

from gristmill import LeasedExecutorManager, NotStartedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import Gate, batch_launched
from tests.helpers import has_begun, stays, wait_until

T = TypeVar("T")


async def start_gated(
    grinder: WorkGrinder, clock: FakeClock, gate: Gate, value: T
) -> asyncio.Future[T]:
    """Enqueue one gated job, let its 10 s max wait pass and wait until it runs."""
    future = await grinder.enqueue(gate.hold, value)
    clock.advance(10.0)
    await wait_until(lambda: gate.arrived == 1, what="gated job running")
    return future


async def test_stop_drains_pending_work_without_waiting_for_max_wait(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    ran: list[int] = []
    futures = [await grinder.enqueue(ran.append, i) for i in range(3)]
    await grinder.stop()
    assert all(future.done() and future.result() is None for future in futures)
    assert sorted(ran) == [0, 1, 2]
    assert clock.time() == 0.0
    stats = grinder.stats()
    assert stats["state"] == "stopped"
    assert stats["completed"] == 3


async def test_stop_waits_for_in_flight_work(grinder: WorkGrinder, clock: FakeClock) -> None:
    with Gate() as gate:
        future = await start_gated(grinder, clock, gate, "done")
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: has_begun(stopping), what="stop() to begin")
        assert grinder.stats()["stopping"] is True
        await stays(lambda: not stopping.done(), what="stop() waiting for the running job")
    await asyncio.wait_for(stopping, 10)
    assert future.result() == "done"


async def test_stop_cancel_pending_cancels_queued_work(grinder: WorkGrinder) -> None:
    ran: list[int] = []
    futures = [await grinder.enqueue(ran.append, i) for i in range(3)]
    await grinder.stop(cancel_pending=True)
    assert all(future.cancelled() for future in futures)
    assert ran == []
    stats = grinder.stats()
    assert stats["cancelled"] == 3
    assert stats["pending"] == 0


async def test_stop_cancel_pending_unblocks_a_grinder_waiting_for_a_lease(
    grinder: WorkGrinder, manager: LeasedExecutorManager
) -> None:
    held = [await manager.acquire(owner="test"), await manager.acquire(owner="test")]
    try:
        ran: list[int] = []
        futures = [await grinder.enqueue(ran.append, i) for i in range(4)]
        await wait_until(lambda: manager.stats()["waiters"] == 1, what="grinder waits for lease")
        await asyncio.wait_for(grinder.stop(cancel_pending=True), 10)
        assert all(future.cancelled() for future in futures)
        assert manager.stats()["waiters"] == 0
        assert ran == []
    finally:
        for lease in held:
            await lease.release()


async def test_stop_cancel_pending_unblocks_a_grinder_waiting_for_in_flight_work(
    grinder: WorkGrinder, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    with Gate() as gate:
        running = await start_gated(grinder, clock, gate, None)
        await asyncio.wait_for(grinder.stop(cancel_pending=True), 10)
        assert running.cancelled()
        assert grinder.stats()["state"] == "stopped"
        assert manager.stats()["leases"] == []  # the lease is back; its pool may still drain
    # The thread finishes in its own time; its outcome is counted, not delivered.
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="worker finished")
    assert grinder.stats()["cancelled"] == 1


async def test_cancel_pending_stop_just_after_a_cut_settles_the_batch_and_frees_its_lease(
    grinder: WorkGrinder, manager: LeasedExecutorManager
) -> None:
    ran: list[int] = []
    futures = [await grinder.enqueue(ran.append, i) for i in range(4)]
    await batch_launched(grinder)
    assert grinder.stats()["in_flight"] == 4
    await grinder.stop(cancel_pending=True)  # runs in this task: before the batch's first step
    assert all(future.cancelled() for future in futures)
    assert ran == []
    stats = grinder.stats()
    assert (stats["in_flight"], stats["cancelled"], stats["running_batches"]) == (0, 4, 0)
    assert manager.stats()["leases"] == []  # the lease is back; its pool may still drain


async def test_cancel_pending_stop_during_a_draining_stop_cancels_the_rest(
    grinder: WorkGrinder,
    clock: FakeClock,
) -> None:
    with Gate() as gate:
        running = await start_gated(grinder, clock, gate, None)
        draining = asyncio.create_task(grinder.stop())
        await wait_until(lambda: has_begun(draining), what="the drain to begin")
        await asyncio.wait_for(grinder.stop(cancel_pending=True), 10)
        await asyncio.wait_for(draining, 10)
        assert running.cancelled()
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="worker finished")


async def test_stop_twice_and_concurrently_is_safe(grinder: WorkGrinder, clock: FakeClock) -> None:
    with Gate() as gate:
        future = await start_gated(grinder, clock, gate, 1)
        stops = [asyncio.create_task(grinder.stop()) for _ in range(3)]
        await wait_until(lambda: all(has_begun(stop) for stop in stops), what="three stops")
        await stays(lambda: not any(stop.done() for stop in stops), what="every stop waiting")
    await asyncio.wait_for(asyncio.gather(*stops), 10)
    await grinder.stop()
    await grinder.stop(cancel_pending=True)
    assert future.result() == 1
    assert grinder.stats()["state"] == "stopped"


async def test_stop_before_start_is_a_no_op(manager: LeasedExecutorManager) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    await grinder.stop()
    assert grinder.stats()["state"] == "created"


async def test_enqueue_and_submit_after_stop_raise_runtime_error(grinder: WorkGrinder) -> None:
    await grinder.stop()
    with pytest.raises(NotStartedError, match="not started"):
        await grinder.enqueue(abs, 1)
    with pytest.raises(RuntimeError):
        await grinder.submit(abs, 1)
    assert grinder.stats()["submitted"] == 0


async def test_enqueue_during_a_draining_stop_raises_runtime_error(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    with Gate() as gate:
        await start_gated(grinder, clock, gate, None)
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: has_begun(stopping), what="stop() to begin")
        with pytest.raises(NotStartedError, match="stopping"):
            await grinder.enqueue(abs, 1)
        with pytest.raises(RuntimeError, match="stopping"):
            await grinder.submit(abs, 1)
    await asyncio.wait_for(stopping, 10)


async def test_start_during_a_stop_raises_runtime_error(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    with Gate() as gate:
        await start_gated(grinder, clock, gate, None)
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: has_begun(stopping), what="stop() to begin")
        with pytest.raises(NotStartedError, match="stopping"):
            await grinder.start()
    await asyncio.wait_for(stopping, 10)


async def test_restart_after_stop_works(grinder: WorkGrinder, clock: FakeClock) -> None:
    first = [await grinder.enqueue(abs, -i) for i in range(4)]
    assert await asyncio.wait_for(asyncio.gather(*first), 10) == [0, 1, 2, 3]
    await grinder.stop()
    await grinder.start()
    assert grinder.stats()["state"] == "running"
    late = await grinder.enqueue(abs, -9)
    clock.advance(10.0)
    assert await asyncio.wait_for(late, 10) == 9
    assert grinder.stats()["submitted"] == 5


async def test_start_twice_on_the_owning_loop_is_idempotent(grinder: WorkGrinder) -> None:
    await grinder.start()
    futures = [await grinder.enqueue(abs, -i) for i in range(4)]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 2, 3]
    assert grinder.stats()["batches"] == 1
