"""stop(timeout=...): a bounded drain on the grinder's clock. When it runs out the rest is
cancelled and stop returns; concurrent and repeated stops; the timeout's validation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import Gate
from tests.helpers import has_begun, stays, wait_until


async def gated_batch(grinder: WorkGrinder, gate: Gate, count: int) -> list[asyncio.Future[int]]:
    """Queue ``count`` gated jobs (a full batch) and wait until both workers hold one."""
    futures = [await grinder.enqueue(gate.hold, i) for i in range(count)]
    await wait_until(lambda: gate.arrived == 2, what="both workers busy")
    return futures


async def stop_begun(*stops: asyncio.Task[None]) -> None:
    """Wait until each ``stop()`` task has begun: a stop arms its timeout before it first yields."""
    await wait_until(lambda: all(has_begun(stop) for stop in stops), what="stop() to begin")


async def test_a_drain_that_outlives_its_timeout_cancels_the_rest_and_returns(
    make_grinder: GrinderFactory, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    grinder = await make_grinder()
    with Gate() as gate:
        batch = await gated_batch(grinder, gate, 4)  # two running, two queued in the pool
        queued = await grinder.enqueue(gate.hold, 9)  # not yet due: flushed by stop
        stopping = asyncio.create_task(grinder.stop(timeout=30.0))
        await stop_begun(stopping)
        clock.advance(29.9)
        await stays(lambda: not stopping.done(), what="the drain")
        clock.advance(0.1)
        await asyncio.wait_for(stopping, 10)  # returns with the gate still shut
        assert all(future.cancelled() for future in [*batch, queued])
        assert grinder.stats()["state"] == "stopped"
        assert manager.stats()["leases"] == []  # the lease is back; its pool may still drain
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="workers finished")
    stats = grinder.stats()
    assert (stats["submitted"], stats["cancelled"], stats["completed"]) == (5, 5, 0)


async def test_a_drain_that_finishes_in_time_keeps_every_result(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    futures = [await grinder.enqueue(abs, -i) for i in range(3)]
    await asyncio.wait_for(grinder.stop(timeout=30.0), 10)
    assert [future.result() for future in futures] == [0, 1, 2]
    assert clock.time() == 0.0


async def test_the_timeout_of_a_finished_stop_does_not_reach_the_next_run(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    await grinder.enqueue(abs, -1)
    await asyncio.wait_for(grinder.stop(timeout=5.0), 10)
    await grinder.start()
    later = await grinder.enqueue(abs, -2)
    clock.advance(5.0)  # when the old stop's timer would have fired
    await stays(lambda: not later.cancelled(), what="the new run's job")
    clock.advance(5.0)
    assert await asyncio.wait_for(later, 10) == 2


async def test_the_timeout_also_frees_a_runner_waiting_for_a_lease(
    make_grinder: GrinderFactory, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    grinder = await make_grinder()
    held = [await manager.acquire(owner="test"), await manager.acquire(owner="test")]
    ran: list[int] = []
    try:
        futures = [await grinder.enqueue(ran.append, i) for i in range(4)]
        await wait_until(lambda: manager.stats()["waiters"] == 1, what="runner waits for a lease")
        stopping = asyncio.create_task(grinder.stop(timeout=5.0))
        await stop_begun(stopping)
        await stays(lambda: not stopping.done(), what="the stop waiting for the runner")
        clock.advance(5.0)
        await asyncio.wait_for(stopping, 10)
        assert all(future.cancelled() for future in futures)
        assert manager.stats()["waiters"] == 0
    finally:
        for lease in held:
            await lease.release()
    assert ran == []


async def test_a_zero_timeout_cancels_at_the_next_clock_tick(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    with Gate() as gate:
        batch = await gated_batch(grinder, gate, 4)
        stopping = asyncio.create_task(grinder.stop(timeout=0))
        await stop_begun(stopping)
        clock.advance(0)
        await asyncio.wait_for(stopping, 10)
        assert all(future.cancelled() for future in batch)
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="workers finished")


async def test_concurrent_stops_with_and_without_a_timeout_all_return_when_it_runs_out(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    with Gate() as gate:
        batch = await gated_batch(grinder, gate, 4)
        stops = [
            asyncio.create_task(grinder.stop()),
            asyncio.create_task(grinder.stop(timeout=20.0)),
            asyncio.create_task(grinder.stop(timeout=10.0)),
        ]
        await stop_begun(*stops)
        clock.advance(10.0)  # the shortest timeout decides for everyone
        await asyncio.wait_for(asyncio.gather(*stops), 10)
        assert all(future.cancelled() for future in batch)
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="workers finished")
    assert grinder.stats()["state"] == "stopped"


async def test_a_cancel_pending_stop_during_a_timed_drain_returns_both_at_once(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder()
    with Gate() as gate:
        batch = await gated_batch(grinder, gate, 4)
        draining = asyncio.create_task(grinder.stop(timeout=60.0))
        await stop_begun(draining)
        await asyncio.wait_for(grinder.stop(cancel_pending=True), 10)
        await asyncio.wait_for(draining, 10)  # without the clock moving
        assert all(future.cancelled() for future in batch)
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="workers finished")


async def test_stop_with_a_timeout_twice_is_safe(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    future = await grinder.enqueue(abs, -4)
    await asyncio.wait_for(grinder.stop(timeout=1.0), 10)
    await asyncio.wait_for(grinder.stop(timeout=1.0), 10)
    clock.advance(1.0)
    assert future.result() == 4
    assert grinder.stats()["state"] == "stopped"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1.0, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (True, ValueError),
        ("five", TypeError),
    ],
)
async def test_a_bad_timeout_raises_naming_it_and_leaves_the_grinder_running(
    make_grinder: GrinderFactory, value: Any, error: type[Exception]
) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    with pytest.raises(error, match="timeout"):
        await grinder.stop(timeout=value)
    assert grinder.stats()["state"] == "running"
    assert await asyncio.wait_for(grinder.submit(abs, -1), 10) == 1


async def test_a_bad_timeout_is_refused_even_before_start(manager: LeasedExecutorManager) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    with pytest.raises(ValueError, match="timeout"):
        await grinder.stop(timeout=-1.0)
