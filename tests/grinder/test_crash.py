"""A crash of the background task, or a manager stopped under the grinder, never strands
callers: pending work fails with GrinderCrashedError chained from the cause."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gristmill import (
    GrinderCrashedError,
    GristmillError,
    LeasedExecutorManager,
    NotStartedError,
    WorkGrinder,
)
from gristmill.testing import FakeClock
from tests.grinder.conftest import SourceFactory
from tests.grinder.fakes import Gate
from tests.helpers import wait_until


async def test_failing_acquire_fails_all_pending_with_grinder_crashed_error(
    make_source: SourceFactory,
) -> None:
    cause = ZeroDivisionError("lease source exploded")
    grinder = WorkGrinder(executor_manager=make_source(acquire_error=cause), batch_size_threshold=3)
    await grinder.start()
    futures = [await grinder.enqueue(abs, -i) for i in range(3)]
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
    for outcome in outcomes:
        assert isinstance(outcome, GrinderCrashedError)
        assert isinstance(outcome, RuntimeError)
        assert isinstance(outcome, GristmillError)
        assert outcome.__cause__ is cause
    stats = grinder.stats()
    assert stats["state"] == "broken"
    assert stats["failed"] == 3
    assert stats["pending"] == 0
    await grinder.stop()
    assert grinder.stats()["state"] == "broken"


async def test_calls_after_a_crash_raise_grinder_crashed_error(
    make_source: SourceFactory,
) -> None:
    cause = ZeroDivisionError("boom")
    grinder = WorkGrinder(executor_manager=make_source(acquire_error=cause), batch_size_threshold=1)
    await grinder.start()
    first = await grinder.enqueue(abs, 1)
    with pytest.raises(GrinderCrashedError):
        await asyncio.wait_for(first, 10)
    with pytest.raises(GrinderCrashedError, match="crashed") as raised:
        await grinder.enqueue(abs, 1)
    assert raised.value.__cause__ is cause
    with pytest.raises(GrinderCrashedError):
        await grinder.submit(abs, 1)
    with pytest.raises(GrinderCrashedError):
        await asyncio.to_thread(grinder.submit_from_thread, abs, 1)
    with pytest.raises(GrinderCrashedError):
        await grinder.start()
    assert (await grinder.astats())["state"] == "broken"
    assert (await asyncio.to_thread(grinder.stats))["state"] == "broken"
    await grinder.stop()


async def test_the_crash_is_logged_on_the_given_logger(
    make_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.grinder.crash")
    grinder = WorkGrinder(
        executor_manager=make_source(acquire_error=ZeroDivisionError("x")),
        batch_size_threshold=1,
        logger=logger,
    )
    await grinder.start()
    with caplog.at_level(logging.ERROR, logger=logger.name):
        future = await grinder.enqueue(abs, 1)
        with pytest.raises(GrinderCrashedError):
            await asyncio.wait_for(future, 10)
    records = [r for r in caplog.records if r.name == logger.name]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], ZeroDivisionError)
    await grinder.stop()


async def test_stopping_the_manager_fails_a_grinder_waiting_for_a_lease(
    manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=2)
    await grinder.start()
    held = [await manager.acquire(), await manager.acquire()]
    futures = [await grinder.enqueue(abs, -i) for i in range(2)]
    await wait_until(lambda: manager.stats()["waiters"] == 1, what="grinder waiting for lease")
    await manager.stop()
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
    for outcome in outcomes:
        assert isinstance(outcome, GrinderCrashedError)
        assert isinstance(outcome.__cause__, NotStartedError)
    assert grinder.stats()["state"] == "broken"
    await grinder.stop()
    for lease in held:
        await lease.release()


async def test_stopping_the_manager_under_a_running_batch_settles_every_caller(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4)
    await grinder.start()
    try:
        with Gate() as gate:
            batch = [await grinder.enqueue(gate.hold, i) for i in range(4)]
            await wait_until(lambda: gate.arrived == 2, what="both workers busy")
            later = await grinder.enqueue(abs, -7)
            await manager.stop()
            clock.advance(10.0)
            await wait_until(lambda: later.done(), what="late job failed")
            assert isinstance(later.exception(), GrinderCrashedError)
            assert isinstance(later.exception().__cause__, NotStartedError)  # type: ignore[union-attr]
            await wait_until(lambda: batch[2].done() and batch[3].done(), what="queued chunks")
            # chunks that never started went back to the queue, then failed with the runner
            errors = [f.exception() for f in batch[2:]]
            assert all(isinstance(e, GrinderCrashedError) for e in errors)
            assert all(isinstance(e.__cause__, NotStartedError) for e in errors)  # type: ignore[union-attr]
        assert await asyncio.wait_for(asyncio.gather(*batch[:2]), 10) == [0, 1]
        await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="settled")
        stats = grinder.stats()
        assert stats["submitted"] == stats["completed"] + stats["failed"] + stats["cancelled"]
    finally:
        await grinder.stop()


async def test_stopping_the_manager_fails_callers_waiting_for_room_in_a_full_queue(
    manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=2, max_pending=2)
    await grinder.start()
    held = [await manager.acquire(), await manager.acquire()]
    try:
        queued = [await grinder.enqueue(abs, -i) for i in range(2)]
        waiting = asyncio.create_task(grinder.enqueue(abs, -2))
        await wait_until(lambda: manager.stats()["waiters"] == 1, what="grinder waiting for lease")
        await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="caller waits")
        await manager.stop()
        with pytest.raises(GrinderCrashedError) as raised:
            await asyncio.wait_for(waiting, 10)
        assert isinstance(raised.value.__cause__, NotStartedError)
        outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), 10)
        assert all(isinstance(outcome, GrinderCrashedError) for outcome in outcomes)
        stats = grinder.stats()
        assert (stats["submitted"], stats["failed"], stats["waiting_for_room"]) == (2, 2, 0)
    finally:
        await grinder.stop()
        for lease in held:
            await lease.release()
