"""Run timeouts on real process pools: an item that runs too long is stopped, not waited for.

The hung jobs sleep for 30 s; the run timeouts are 0.3–0.5 s, and every wait is
bounded far below 30 s, so a test that passes never waits for a hung job. The
bounds are generous on purpose: a loaded machine may be slow to notice the
overrun, but never 30 s slow.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import wait_until
from tests.process import jobs
from tests.process.jobs import runs_of
from tests.process.support import (
    FAULT_BOUND,
    STOP_BOUND,
    check_good_items,
    stop_settled,
    surround,
)


async def test_item_past_its_run_timeout_fails_and_the_items_around_it_complete(
    single_worker_manager: LeasedExecutorManager, tmp_path: Path
) -> None:
    grinder = WorkGrinder(
        executor_manager=single_worker_manager, batch_size_threshold=1, run_timeout_seconds=0.3
    )
    await grinder.start()
    try:
        outcome = await surround(grinder, tmp_path, jobs.counted_hang, str(tmp_path), "hang")
    finally:
        await stop_settled(grinder)

    assert isinstance(outcome.fault, TimeoutError)
    assert "ran longer than its run timeout of 0.3 s" in str(outcome.fault)
    assert runs_of(tmp_path, "hang") == 1  # a timeout is final, never retried
    # Only the items running when the pool was killed fail: the rest ran again or
    # for the first time on the fresh pool, and items done before were kept.
    ran_twice = check_good_items(outcome, tmp_path)
    stats = grinder.stats()
    assert (stats["completed"], stats["failed"], stats["timed_out"]) == (8, 0, 1), stats
    assert stats["retried"] == ran_twice + len(outcome.after), stats
    # The killed pool was retired and a fresh one took its place.
    pools = single_worker_manager.stats()
    assert (pools["pools_retired"], pools["pools_created"], pools["total"]) == (1, 2, 1), pools


async def test_items_running_beside_an_overrun_fail_too_and_queued_ones_complete(
    process_manager: LeasedExecutorManager, tmp_path: Path
) -> None:
    """Per-item run timeouts (``Work``) on a grinder that has none by default.

    The overrunning item waits until the other is running before it hangs, so
    both are running when the first overruns; the third item is queued behind
    them (two workers) and has not started.
    """
    grinder = WorkGrinder(executor_manager=process_manager, batch_size_threshold=1)
    await grinder.start()
    started = str(tmp_path / "started")
    runs = str(tmp_path)
    try:
        overrun = await grinder.enqueue_work(
            Work(jobs.hang_once_started, args=(runs, "overrun", started), run_timeout_seconds=0.5)
        )
        beside = await grinder.enqueue_work(
            Work(jobs.counted_hang, args=(runs, "beside", started), run_timeout_seconds=15.0)
        )
        queued = await grinder.enqueue(jobs.counted_square, runs, 3)
        outcomes = await asyncio.wait_for(
            asyncio.gather(overrun, beside, queued, return_exceptions=True), FAULT_BOUND
        )
    finally:
        await stop_settled(grinder)

    overrun_error, beside_error, square = outcomes
    assert isinstance(overrun_error, TimeoutError)
    assert "run timeout of 0.5 s" in str(overrun_error)
    assert isinstance(beside_error, TimeoutError)
    assert "another item of its batch overran its run timeout" in str(beside_error)
    assert square == 9
    assert [runs_of(tmp_path, name) for name in ("overrun", "beside", "sq3")] == [1, 1, 1]
    stats = grinder.stats()
    assert (stats["completed"], stats["timed_out"], stats["retried"]) == (1, 2, 1), stats
    assert process_manager.stats()["pools_created"] == 2


async def test_stop_drains_a_hung_item_once_its_run_timeout_stops_it(
    process_manager: LeasedExecutorManager, tmp_path: Path
) -> None:
    grinder = WorkGrinder(
        executor_manager=process_manager, batch_size_threshold=1, run_timeout_seconds=0.3
    )
    await grinder.start()
    hung = await grinder.enqueue(jobs.counted_hang, str(tmp_path), "hang")

    await stop_settled(grinder)  # bounded: the hung item is killed, not waited for

    assert isinstance(hung.exception(), TimeoutError)
    assert grinder.stats()["timed_out"] == 1


async def test_stop_with_cancel_pending_still_stops_an_item_past_its_run_timeout(
    process_manager: LeasedExecutorManager, tmp_path: Path
) -> None:
    grinder = WorkGrinder(
        executor_manager=process_manager, batch_size_threshold=1, run_timeout_seconds=0.3
    )
    await grinder.start()
    pid_file = tmp_path / "pid"
    hung = await grinder.enqueue(jobs.sleep_after_writing_pid, str(pid_file), 30.0)
    await wait_until(
        lambda: pid_file.exists() and pid_file.read_text() != "", what="the hung item to start"
    )

    await asyncio.wait_for(grinder.stop(cancel_pending=True), STOP_BOUND)

    assert hung.cancelled()
    await wait_until(
        lambda: process_manager.stats()["pools_retired"] == 1,
        timeout=2.0,
        what="the pool of the item past its run timeout to be retired",
    )


async def test_run_timeout_is_refused_on_a_backend_that_cannot_stop_a_job(
    clock: FakeClock, manager: LeasedExecutorManager, grinder: WorkGrinder
) -> None:
    with pytest.raises(ValueError, match=r"run_timeout_seconds needs .* process backend"):
        WorkGrinder(executor_manager=manager, run_timeout_seconds=1.0)
    work = Work(jobs.square, args=(2,), run_timeout_seconds=1.0)
    with pytest.raises(ValueError, match="threads cannot be interrupted"):
        await grinder.enqueue_work(work)
    with pytest.raises(ValueError, match="threads cannot be interrupted"):
        await grinder.submit_work(work)
    with pytest.raises(ValueError, match="threads cannot be interrupted"):
        await asyncio.to_thread(grinder.submit_work_from_thread, work)
    assert grinder.stats()["submitted"] == 0
    # Without a run timeout the same work runs (in a batch due after max_wait).
    future = await grinder.enqueue_work(Work(jobs.square, args=(2,)))
    clock.advance(10.0)
    assert await asyncio.wait_for(future, FAULT_BOUND) == 4
