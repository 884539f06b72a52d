"""A broken process pool is retired and replaced; a revoked lease's workers are killed."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import psutil
import pytest

from gristmill import LeasedExecutorManager, LeaseExpiredError, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until
from tests.process import jobs


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie awaiting its parent's wait() counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def test_broken_pool_is_retired_and_replaced_by_a_working_one(
    process_manager: LeasedExecutorManager, process_grinder: WorkGrinder
) -> None:
    lease = await process_manager.acquire()
    try:
        with pytest.raises(BrokenProcessPool):
            await lease.run(jobs.exit_abruptly)
        await wait_until(
            lambda: process_manager.stats()["pools_broken"] == 1, what="the pool to be retired"
        )
        with pytest.raises(LeaseExpiredError):
            lease.executor.submit(jobs.square, 2)
    finally:
        await lease.release()

    stats = process_manager.stats()
    assert stats["pools_retired"] >= 1, stats
    assert stats["pools_created"] == 2, stats
    assert stats["total"] == 1, stats
    # The grinder's next batch runs on the replacement pool.
    assert await process_grinder.submit(jobs.square, 11) == 121


async def test_revoked_lease_kills_its_worker_processes(clock: FakeClock, tmp_path: Path) -> None:
    manager = make_manager(
        clock,
        backend="process",
        max_pools=1,
        workers_per_pool=1,
        default_lease_seconds=300.0,
        lease_grace_seconds=15.0,
    )
    await manager.start()
    try:
        lease = await manager.acquire()
        pid_file = tmp_path / "pid"
        running = lease.executor.submit(jobs.sleep_after_writing_pid, str(pid_file), 30.0)
        await wait_until(pid_file.exists, what="the job to start")
        await wait_until(lambda: pid_file.read_text() != "", what="the job to write its pid")
        pid = int(pid_file.read_text())

        clock.advance(314.0)
        assert not _gone(pid)
        clock.advance(1.0)

        await wait_until(lambda: _gone(pid), what=f"worker {pid} to be killed")
        await wait_until(running.done, what="the revoked job's future to settle")
        assert isinstance(running.exception(), BrokenProcessPool)
        with pytest.raises(LeaseExpiredError):
            lease.executor.submit(jobs.square, 2)
        stats = manager.stats()
        assert (stats["leases_revoked"], stats["pools_broken"]) == (1, 0), stats
    finally:
        await manager.stop()
