"""``async with`` on the grinder, and the start order it needs from its manager."""

from __future__ import annotations

import asyncio

import pytest

from gristmill import LeasedExecutorManager, NotStartedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import SourceFactory
from tests.grinder.fakes import Gate
from tests.helpers import assert_grinder_settled, make_manager, wait_until


async def test_async_with_starts_the_grinder_and_drains_on_a_clean_exit(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4)
    async with grinder as entered:
        assert entered is grinder
        futures = [await grinder.enqueue(abs, -i) for i in range(3)]
    assert [future.result() for future in futures] == [0, 1, 2]
    assert clock.time() == 0.0  # drained at once, not after max_wait_seconds
    assert grinder.stats()["state"] == "stopped"
    assert_grinder_settled(grinder)


async def test_async_with_cancels_pending_work_when_the_block_raises(
    manager: LeasedExecutorManager,
) -> None:
    ran: list[int] = []
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4)
    futures: list[asyncio.Future[None]] = []

    async def enqueue_then_fail() -> None:
        async with grinder:
            futures.extend([await grinder.enqueue(ran.append, i) for i in range(3)])
            raise LookupError("the block failed")

    with pytest.raises(LookupError):
        await enqueue_then_fail()
    assert all(future.cancelled() for future in futures)
    assert ran == []
    assert grinder.stats()["state"] == "stopped"
    assert_grinder_settled(grinder)


async def test_a_cancelled_async_with_block_retires_the_leases_of_running_batches(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=2)
    futures: list[asyncio.Future[int]] = []
    with Gate() as gate:

        async def main_task() -> None:
            async with grinder:
                futures.extend([await grinder.enqueue(gate.hold, i) for i in range(2)])
                await asyncio.Event().wait()

        task = asyncio.create_task(main_task())
        await wait_until(lambda: gate.arrived == 2, what="gated jobs running")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert all(future.cancelled() for future in futures)
        assert manager.stats()["leases_revoked"] == 1
        gate.open()
        await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="chunks back")
    assert_grinder_settled(grinder)


async def test_nested_async_with_runs_manager_and_grinder_in_order(clock: FakeClock) -> None:
    async with (
        make_manager(clock) as manager,
        WorkGrinder(executor_manager=manager, batch_size_threshold=1) as grinder,
    ):
        assert await grinder.submit(pow, 2, 10) == 1024
    assert manager.stats()["state"] == "stopped"
    assert grinder.stats()["state"] == "stopped"


async def test_start_on_a_manager_that_was_never_started_raises_not_started(
    clock: FakeClock,
) -> None:
    manager = make_manager(clock)
    grinder = WorkGrinder(executor_manager=manager)
    with pytest.raises(NotStartedError, match=r"await manager\.start\(\) before grinder\.start"):
        await grinder.start()
    assert grinder.stats()["state"] == "created"
    await manager.start()  # the right order then works
    try:
        await grinder.start()
        assert grinder.stats()["state"] == "running"
        await grinder.stop()
    finally:
        await manager.stop()


async def test_start_on_a_stopped_manager_raises_not_started(clock: FakeClock) -> None:
    manager = make_manager(clock)
    await manager.start()
    await manager.stop()
    with pytest.raises(NotStartedError, match="needs a running manager"):
        await WorkGrinder(executor_manager=manager).start()


async def test_a_lease_source_without_a_running_attribute_is_taken_as_ready(
    make_source: SourceFactory,
) -> None:
    source = make_source()
    assert not hasattr(source, "running")
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=1)
    await grinder.start()
    try:
        assert await grinder.submit(min, 3, 1) == 1
    finally:
        await grinder.stop()
    assert [lease.released for lease in source.leases] == [True]
