"""Bounded admission: ``max_pending`` bounds the queue, and ``overflow`` decides what a caller
does when it is full: wait for room first come, first served, or be rejected at once."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import pytest

from gristmill import (
    GrinderOverloadedError,
    LeasedExecutorManager,
    NotStartedError,
    WorkGrinder,
)
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import GATE_TIMEOUT, Gate
from tests.helpers import wait_until


async def fill(grinder: WorkGrinder, count: int) -> list[asyncio.Future[int]]:
    """Queue ``count`` jobs ``abs(-i)``; below the threshold they stay queued."""
    return [await grinder.enqueue(abs, -i) for i in range(count)]


def waiting_enqueue(grinder: WorkGrinder, value: int) -> asyncio.Task[asyncio.Future[int]]:
    """Start an ``enqueue(abs, value)`` in its own task; it may have to wait for room."""
    return asyncio.create_task(grinder.enqueue(abs, value))


async def test_enqueue_waits_for_room_and_joins_once_a_queued_job_leaves(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2)
    queued = await fill(grinder, 2)
    waiter = waiting_enqueue(grinder, -7)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="1 waiting")
    assert not waiter.done()
    stats = grinder.stats()
    assert (stats["pending"], stats["waiting_for_room"]) == (2, 1)
    assert queued[0].cancel()
    late = await asyncio.wait_for(waiter, 10)
    stats = grinder.stats()
    assert (stats["pending"], stats["waiting_for_room"], stats["submitted"]) == (2, 0, 3)
    await grinder.stop()
    assert late.result() == 7


async def test_waiters_get_room_in_arrival_order(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(max_pending=3)
    queued = await fill(grinder, 3)
    waiters = [waiting_enqueue(grinder, i) for i in range(3)]
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 3, what="3 waiting")
    for freed in range(3):
        assert queued[freed].cancel()
        await wait_until(waiters[freed].done, what=f"waiter {freed} admitted")
        assert [waiter.done() for waiter in waiters] == [i <= freed for i in range(3)]
        assert grinder.stats()["pending"] == 3
    await grinder.stop()
    assert [waiter.result().result() for waiter in waiters] == [0, 1, 2]


async def test_room_handed_to_a_waiter_is_kept_for_it_against_a_newcomer(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2)
    queued = await fill(grinder, 2)
    waiter = waiting_enqueue(grinder, -1)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="1 waiting")
    # The newcomer's first step runs before the woken waiter resumes: it must
    # not take the room that was handed to the waiter.
    newcomer = waiting_enqueue(grinder, -2)
    assert queued[0].cancel()
    await wait_until(waiter.done, what="the waiter admitted")
    assert not newcomer.done()
    stats = grinder.stats()
    assert (stats["pending"], stats["waiting_for_room"]) == (2, 1)
    assert queued[1].cancel()
    await asyncio.wait_for(newcomer, 10)
    assert grinder.stats()["pending"] == 2


async def test_a_waiter_cancelled_after_being_handed_room_passes_it_on(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2)
    queued = await fill(grinder, 2)
    first, second = waiting_enqueue(grinder, -1), waiting_enqueue(grinder, -2)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 2, what="2 waiting")
    assert queued[0].cancel()  # hands the room to ``first``...
    first.cancel()  # ...which leaves before it resumes
    await wait_until(second.done, what="the room passed on")
    assert first.cancelled()
    stats = grinder.stats()
    assert (stats["pending"], stats["waiting_for_room"], stats["submitted"]) == (2, 0, 3)
    await grinder.stop()
    assert second.result().result() == 2


async def test_a_waiter_cancelled_while_waiting_leaves_the_line(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=1)
    queued = await fill(grinder, 1)
    first, second = waiting_enqueue(grinder, -1), waiting_enqueue(grinder, -2)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 2, what="2 waiting")
    first.cancel()
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="1 waiting")
    assert queued[0].cancel()
    await asyncio.wait_for(second, 10)
    assert first.cancelled()
    assert grinder.stats()["submitted"] == 2


async def test_submit_waits_for_room_too(make_grinder: GrinderFactory, clock: FakeClock) -> None:
    grinder = await make_grinder(max_pending=2)
    queued = await fill(grinder, 2)
    submitted = asyncio.create_task(grinder.submit(abs, -5))
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="1 waiting")
    clock.advance(10.0)  # the queued jobs are cut into a batch: room frees up
    assert await asyncio.wait_for(asyncio.gather(*queued), 10) == [0, 1]
    clock.advance(10.0)
    assert await asyncio.wait_for(submitted, 10) == 5


async def test_max_pending_bounds_the_queue_not_the_work_in_flight(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2, batch_size_threshold=2)
    with Gate() as gate:
        running = [await grinder.enqueue(gate.hold, i) for i in range(2)]
        await wait_until(lambda: gate.arrived == 2, what="first batch running")
        queued = [await grinder.enqueue(gate.hold, i) for i in range(2, 4)]  # no waiting
        stats = grinder.stats()
        assert (stats["in_flight"], stats["pending"], stats["waiting_for_room"]) == (2, 2, 0)
    results = await asyncio.wait_for(asyncio.gather(*running, *queued), 10)
    assert results == [0, 1, 2, 3]


async def test_waiters_fail_with_not_started_error_when_the_grinder_stops(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2)
    queued = await fill(grinder, 2)
    waiters = [waiting_enqueue(grinder, i) for i in range(2)]
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 2, what="2 waiting")
    await asyncio.wait_for(grinder.stop(), 10)
    for waiter in waiters:
        with pytest.raises(NotStartedError, match="waited for room"):
            await waiter
    assert [future.result() for future in queued] == [0, 1]
    stats = grinder.stats()
    assert (stats["submitted"], stats["completed"], stats["waiting_for_room"]) == (2, 2, 0)


async def test_reject_raises_grinder_overloaded_error_at_once_and_counts_it(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2, overflow="reject")
    queued = await fill(grinder, 2)
    with pytest.raises(GrinderOverloadedError, match="max_pending=2") as raised:
        await grinder.enqueue(abs, -1)
    assert "overflow='wait'" in str(raised.value)
    with pytest.raises(GrinderOverloadedError):
        await grinder.submit(abs, -1)
    stats = grinder.stats()
    assert (stats["rejected"], stats["submitted"], stats["pending"]) == (2, 2, 2)
    assert stats["waiting_for_room"] == 0
    assert queued[0].cancel()
    accepted = await grinder.enqueue(abs, -3)  # room again: accepted
    await grinder.stop()
    assert accepted.result() == 3
    assert grinder.stats()["rejected"] == 2


async def test_submit_from_thread_with_wait_returns_at_once_and_runs_once_room_frees(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2)
    queued = await fill(grinder, 2)
    future = await asyncio.to_thread(grinder.submit_from_thread, abs, -9)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="thread job waits")
    assert not future.done()
    assert queued[0].cancel()
    await wait_until(lambda: grinder.stats()["pending"] == 2, what="thread job queued")
    await grinder.stop()
    assert await asyncio.to_thread(future.result, GATE_TIMEOUT) == 9


async def test_cancelling_a_thread_future_waiting_for_room_withdraws_it(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=1)
    await fill(grinder, 1)
    future = await asyncio.to_thread(grinder.submit_from_thread, abs, -9)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="thread job waits")
    assert await asyncio.to_thread(future.cancel)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 0, what="waiter gone")
    await grinder.stop()
    assert future.cancelled()
    assert grinder.stats()["submitted"] == 1


async def test_a_thread_future_waiting_for_room_fails_when_the_grinder_stops(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=1)
    queued = await fill(grinder, 1)
    future = await asyncio.to_thread(grinder.submit_from_thread, abs, -9)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="thread job waits")
    await asyncio.wait_for(grinder.stop(), 10)
    error = await asyncio.to_thread(future.exception, GATE_TIMEOUT)
    assert isinstance(error, NotStartedError)
    assert queued[0].result() == 0


async def test_submit_from_thread_with_reject_fails_the_future_with_overloaded_error(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=2, overflow="reject")
    await fill(grinder, 2)
    future: concurrent.futures.Future[int] = await asyncio.to_thread(
        grinder.submit_from_thread, abs, -9
    )
    error = await asyncio.to_thread(future.exception, GATE_TIMEOUT)
    assert isinstance(error, GrinderOverloadedError)
    stats = grinder.stats()
    assert (stats["rejected"], stats["submitted"]) == (1, 2)


async def test_the_queue_is_unbounded_by_default(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=1000, max_batch_size=1000)
    queued = await fill(grinder, 500)
    stats = grinder.stats()
    assert stats["max_pending"] is None
    assert (stats["pending"], stats["waiting_for_room"], stats["rejected"]) == (500, 0, 0)
    await grinder.stop()
    assert queued[-1].result() == 499


def test_max_pending_and_overflow_show_in_stats(manager: LeasedExecutorManager) -> None:
    stats = WorkGrinder(executor_manager=manager, max_pending=7, overflow="reject").stats()
    assert (stats["max_pending"], stats["waiting_for_room"], stats["rejected"]) == (7, 0, 0)


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_bad_max_pending_raises_value_error_naming_it(
    manager: LeasedExecutorManager, value: object
) -> None:
    with pytest.raises(ValueError, match="max_pending"):
        WorkGrinder(executor_manager=manager, max_pending=value)  # type: ignore[arg-type]


def test_max_pending_of_the_wrong_type_raises_type_error(manager: LeasedExecutorManager) -> None:
    with pytest.raises(TypeError, match="max_pending"):
        WorkGrinder(executor_manager=manager, max_pending="10")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error"), [("drop", ValueError), ("WAIT", ValueError), (1, TypeError)]
)
def test_bad_overflow_raises_naming_it(
    manager: LeasedExecutorManager, value: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="overflow"):
        WorkGrinder(executor_manager=manager, overflow=value)


async def test_cancelling_a_thread_future_after_it_got_room_withdraws_its_queued_job(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=1)
    queued = await fill(grinder, 1)
    future = await asyncio.to_thread(grinder.submit_from_thread, abs, -9)
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="thread job waits")
    assert queued[0].cancel()
    await wait_until(lambda: grinder.stats()["pending"] == 1, what="thread job queued")
    assert await asyncio.to_thread(future.cancel)
    await wait_until(lambda: grinder.stats()["pending"] == 0, what="queued job withdrawn")
    await grinder.stop()
    assert future.cancelled()
    stats = grinder.stats()
    assert (stats["submitted"], stats["cancelled"], stats["completed"]) == (2, 2, 0)
