"""A cancellation cuts stop() short: pending jobs are cancelled and held leases retired.

This is what Ctrl-C does under ``asyncio.run``: it cancels the main task, whose
``finally:`` then stops the grinder, or cancels a ``stop()`` already draining.
The end-to-end timing (a real SIGINT, real process pools) is in
``tests/process/test_ctrl_c.py``.
"""

from __future__ import annotations

import asyncio

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import SourceFactory
from tests.grinder.fakes import Gate
from tests.helpers import assert_grinder_settled, has_begun, stays, wait_until


async def run_gated(
    grinder: WorkGrinder, clock: FakeClock, gate: Gate, count: int
) -> list[asyncio.Future[int]]:
    """Enqueue ``count`` gated jobs, let the max wait pass, and wait until they all run."""
    futures = [await grinder.enqueue(gate.hold, i) for i in range(count)]
    clock.advance(10.0)
    await wait_until(lambda: gate.arrived == count, what="gated jobs running")
    return futures


async def settle_after(grinder: WorkGrinder, gate: Gate) -> None:
    """Open the gate and wait until the abandoned jobs' chunks came back."""
    gate.open()
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="chunks back")
    assert_grinder_settled(grinder)


async def test_a_cancelled_draining_stop_cancels_everything_retires_leases_and_reraises(
    grinder: WorkGrinder, manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    with Gate() as gate:
        running = await run_gated(grinder, clock, gate, 2)
        pending = [await grinder.enqueue(gate.hold, 9)]
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: has_begun(stopping), what="stop() to begin")
        # Draining: it waits for the gated jobs.
        await stays(lambda: not stopping.done(), what="the drain")
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(stopping, 10)
        assert grinder.stats()["state"] == "stopped"
        assert all(future.cancelled() for future in running + pending)
        assert manager.stats()["leases_revoked"] >= 1  # retired, not released
        assert manager.stats()["leased"] == 0
        await settle_after(grinder, gate)


async def test_stop_in_a_task_being_cancelled_cuts_short_and_returns(
    grinder: WorkGrinder, manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    stopped = asyncio.Event()

    async def main_task() -> None:
        try:
            await asyncio.Event().wait()  # the program's work, until Ctrl-C
        finally:
            await grinder.stop()  # the README's pattern: drains unless cancelled
            stopped.set()

    with Gate() as gate:
        futures = await run_gated(grinder, clock, gate, 2)
        task = asyncio.create_task(main_task())
        await wait_until(lambda: has_begun(task), what="the main task to run")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert stopped.is_set()  # stop() returned, so the finally block went on
        assert all(future.cancelled() for future in futures)
        assert manager.stats()["leases_revoked"] >= 1
        await settle_after(grinder, gate)


async def test_stop_cancel_pending_without_a_cancellation_releases_leases_normally(
    grinder: WorkGrinder, manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    with Gate() as gate:
        futures = await run_gated(grinder, clock, gate, 2)
        await asyncio.wait_for(grinder.stop(cancel_pending=True), 10)
        assert all(future.cancelled() for future in futures)
        assert manager.stats()["leases_revoked"] == 0
        assert manager.stats()["draining"] == 1  # the running jobs finish on their own
        await settle_after(grinder, gate)


async def test_a_cut_short_stop_retires_the_leases_of_a_duck_typed_source(
    make_source: SourceFactory, clock: FakeClock
) -> None:
    source = make_source()
    grinder = WorkGrinder(
        executor_manager=source, clock=clock, batch_size_threshold=2, max_wait_seconds=10.0
    )
    await grinder.start()
    with Gate() as gate:
        futures = [await grinder.enqueue(gate.hold, i) for i in range(2)]
        await wait_until(lambda: gate.arrived == 2, what="gated jobs running")
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: has_begun(stopping), what="stop() to begin")
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(stopping, 10)
        assert [lease.retired for lease in source.leases] == [True]
        assert all(future.cancelled() for future in futures)
        await settle_after(grinder, gate)


async def test_a_second_stop_after_a_cut_short_one_is_a_no_op(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    with Gate() as gate:
        await run_gated(grinder, clock, gate, 1)
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: has_begun(stopping), what="stop() to begin")
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(stopping, 10)
        await asyncio.wait_for(grinder.stop(), 10)
        assert grinder.stats()["state"] == "stopped"
        await settle_after(grinder, gate)
