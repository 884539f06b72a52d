"""A worker process that dies mid-batch: retry the culprit, keep or requeue the rest.

Workers die by ``os._exit``, a segfault, a SIGKILL they send themselves, and a
SIGKILL sent from outside. Each job counts its runs in a file, so the tests
see how many times every item ran: the culprit ``max_retries + 1`` times
before it fails with :class:`WorkerCrashedError`; good items once, or twice
when they had finished inside the chunk that died.
"""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from gristmill import LeasedExecutorManager, WorkerCrashedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until
from tests.process import jobs
from tests.process.jobs import runs_of
from tests.process.support import (
    FAULT_BOUND,
    STOP_BOUND,
    check_good_items,
    stop_settled,
    surround,
)


def _check_crash_error(error: object, *, max_retries: int) -> None:
    assert isinstance(error, WorkerCrashedError)
    assert isinstance(error.__cause__, BrokenProcessPool)
    runs = max_retries + 1
    assert f"({runs} time{'s' if runs > 1 else ''}, max_retries={max_retries})" in str(error)
    assert "BrokenProcessPool" in str(error)


async def test_item_that_kills_its_worker_fails_after_one_retry_and_its_batch_completes(
    single_worker_manager: LeasedExecutorManager,
    single_worker_grinder: WorkGrinder,
    tmp_path: Path,
) -> None:
    outcome = await surround(
        single_worker_grinder, tmp_path, jobs.counted_crash, str(tmp_path), "exit", before=6
    )

    _check_crash_error(outcome.fault, max_retries=1)
    assert runs_of(tmp_path, "crash") == 2
    ran_twice = check_good_items(outcome, tmp_path)
    await stop_settled(single_worker_grinder)
    stats = single_worker_grinder.stats()
    assert (stats["completed"], stats["failed"], stats["timed_out"]) == (9, 1, 0), stats
    # Requeued: the culprit once, the items that died with it, those that never ran.
    assert stats["retried"] == 1 + ran_twice + len(outcome.after), stats
    pools = single_worker_manager.stats()
    assert (pools["pools_broken"], pools["pools_created"], pools["total"]) == (2, 3, 1), pools


async def test_max_retries_sets_how_many_times_an_item_that_kills_its_worker_runs(
    single_worker_manager: LeasedExecutorManager, tmp_path: Path
) -> None:
    crashes = 0
    for max_retries, how in ((0, "segfault"), (2, "sigkill")):
        runs = tmp_path / how
        runs.mkdir()
        grinder = WorkGrinder(
            executor_manager=single_worker_manager, batch_size_threshold=1, max_retries=max_retries
        )
        await grinder.start()
        try:
            outcome = await surround(
                grinder, runs, jobs.counted_crash, str(runs), how, before=2, after=1
            )
        finally:
            await stop_settled(grinder)

        _check_crash_error(outcome.fault, max_retries=max_retries)
        assert runs_of(runs, "crash") == max_retries + 1
        ran_twice = check_good_items(outcome, runs)
        assert grinder.stats()["retried"] == max_retries + ran_twice + len(outcome.after)
        crashes += max_retries + 1
        assert single_worker_manager.stats()["pools_broken"] == crashes


async def test_item_whose_worker_dies_on_its_first_run_succeeds_on_its_retry(
    single_worker_manager: LeasedExecutorManager,
    single_worker_grinder: WorkGrinder,
    tmp_path: Path,
) -> None:
    outcome = await surround(
        single_worker_grinder,
        tmp_path,
        jobs.crash_on_first_run,
        str(tmp_path),
        "exit",
        before=3,
        after=1,
    )
    assert outcome.fault == "recovered"
    assert runs_of(tmp_path, "flaky") == 2
    check_good_items(outcome, tmp_path)

    # The worker is killed from outside while the item runs.
    pid_file = tmp_path / "pid"
    victim = await single_worker_grinder.enqueue(
        jobs.wait_to_be_killed_on_first_run, str(tmp_path), str(pid_file)
    )
    await wait_until(
        lambda: pid_file.exists() and pid_file.read_text() != "", what="the victim to start"
    )
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert await asyncio.wait_for(victim, FAULT_BOUND) == "recovered"
    assert runs_of(tmp_path, "victim") == 2

    await stop_settled(single_worker_grinder)
    stats = single_worker_grinder.stats()
    assert (stats["completed"], stats["failed"]) == (6, 0), stats
    assert single_worker_manager.stats()["pools_broken"] == 2


async def test_worker_crash_leaves_a_batch_on_another_pool_untouched(
    clock: FakeClock, tmp_path: Path
) -> None:
    manager = make_manager(clock, backend="process", max_pools=2, min_pools=2, workers_per_pool=1)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1, max_retries=0)
    await grinder.start()
    gate = tmp_path / "gate"
    try:
        sibling = await grinder.enqueue(jobs.wait_for_file, str(tmp_path), "sibling", str(gate))
        await wait_until(lambda: runs_of(tmp_path, "sibling") == 1, what="the sibling to start")
        crash = await grinder.enqueue(jobs.counted_crash, str(tmp_path), "exit")
        with pytest.raises(WorkerCrashedError):
            await asyncio.wait_for(crash, FAULT_BOUND)
        assert not sibling.done()

        gate.touch()
        assert await asyncio.wait_for(sibling, FAULT_BOUND) == "sibling"
        assert runs_of(tmp_path, "sibling") == 1  # never disturbed, never run again
        await stop_settled(grinder)
        assert grinder.stats()["retried"] == 0
        pools = manager.stats()
        assert (pools["pools_broken"], pools["pools_created"], pools["total"]) == (1, 3, 2), pools
    finally:
        gate.touch()
        await asyncio.wait_for(grinder.stop(cancel_pending=True), STOP_BOUND)
        await asyncio.wait_for(manager.stop(), STOP_BOUND)


async def test_item_running_on_a_sibling_worker_is_not_blamed_for_the_crash(
    process_manager: LeasedExecutorManager, tmp_path: Path
) -> None:
    grinder = WorkGrinder(executor_manager=process_manager, batch_size_threshold=1, max_retries=0)
    await grinder.start()
    gate = tmp_path / "gate"
    try:
        # One batch, one chunk per worker: the culprit dies while the innocent item runs.
        innocent = await grinder.enqueue(jobs.wait_for_file, str(tmp_path), "innocent", str(gate))
        crash = await grinder.enqueue(
            jobs.crash_once_file_exists, str(tmp_path), str(tmp_path / "innocent")
        )
        with pytest.raises(WorkerCrashedError):
            await asyncio.wait_for(crash, FAULT_BOUND)
        gate.touch()
        assert await asyncio.wait_for(innocent, FAULT_BOUND) == "innocent"
    finally:
        gate.touch()
        await stop_settled(grinder)
