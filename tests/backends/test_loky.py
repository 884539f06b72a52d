"""The loky backend: results, exceptions, lambdas and closures, options, and killed workers.

Skipped only when loky is not installed (``pip install 'gristmill[loky]'``).
Every call crosses a process boundary, so the callables here are lambdas,
closures and builtins: cloudpickle sends them by value.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import assert_grinder_settled, assert_manager_empty, wait_until
from tests.process import jobs
from tests.spans import Spans, ids

pytest.importorskip("loky")


def _alive(pid: int) -> bool:
    """Whether the process exists (a killed worker counts once its parent reaped it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _adder(n: int) -> Callable[[int], int]:
    def add(x: int) -> int:
        return x + n

    return add


async def test_lease_run_returns_results_and_raises_worker_exceptions(clock: FakeClock) -> None:
    manager = LeasedExecutorManager(
        backend="LOKY", max_pools=1, workers_per_pool=1, clock=clock, env={"GRISTMILL_T": "on"}
    )
    assert manager.backend == "loky"
    assert manager.payloads_cross_process
    await manager.start()
    try:
        async with await manager.acquire() as lease:
            assert await lease.run(pow, 2, 10) == 1024
            assert await lease.run(os.getpid) != os.getpid()
            # env= is a loky option (os.environ.get would ship the parent's environ by value)
            assert await lease.run(lambda: os.environ.get("GRISTMILL_T")) == "on"
            base = 40
            assert await lease.run(lambda: base + 2) == 42
            assert await lease.run(_adder(5), 1) == 6
            with pytest.raises(ValueError, match="invalid literal"):
                await lease.run(int, "not a number")
    finally:
        await manager.stop()
    assert_manager_empty(manager)


async def test_the_grinder_runs_lambdas_and_closures_and_keeps_exception_types() -> None:
    manager = LeasedExecutorManager(backend="loky", max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=8, max_wait_seconds=0.05)
    await manager.start()
    await grinder.start()
    try:
        factor = 3
        triples = [await grinder.enqueue(lambda x: x * factor, i) for i in range(20)]
        added = [await grinder.enqueue(_adder(100), i) for i in range(5)]
        powers = await grinder.enqueue(pow, 3, 4)
        table: dict[str, int] = {}
        missing = await grinder.enqueue(lambda: table["absent"])
        assert [await job for job in triples] == [i * 3 for i in range(20)]
        assert [await job for job in added] == [100, 101, 102, 103, 104]
        assert await powers == 81
        with pytest.raises(KeyError, match="absent"):
            await missing
    finally:
        await grinder.stop()
        await manager.stop()
    assert_grinder_settled(grinder)
    assert_manager_empty(manager)


async def test_chosen_context_and_the_trace_context_reach_a_loky_worker(spans: Spans) -> None:
    manager = LeasedExecutorManager(backend="loky", max_pools=1, workers_per_pool=1)
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=2,
        max_wait_seconds=0.05,
        propagate_context=[jobs.request_id],
        tracing=spans.provider,
    )
    await manager.start()
    await grinder.start()

    async def call(name: str) -> tuple[str | None, tuple[int, int]]:
        jobs.request_id.set(name)
        with spans.tracer.start_as_current_span(name):
            # A lambda travels by value (cloudpickle); the variable it reads, by name.
            return await grinder.submit(lambda: (jobs.request_id.get(), jobs.current_span_ids()))

    try:
        seen = dict(await asyncio.gather(call("first"), call("second")))
    finally:
        await grinder.stop()
        await manager.stop()
    items = spans.items_by_caller()
    assert seen == {"first": ids(items["first"]), "second": ids(items["second"])}
    assert_grinder_settled(grinder)
    assert_manager_empty(manager)


async def test_revocation_kills_the_running_worker_and_stop_leaves_none_alive(
    clock: FakeClock, tmp_path: Path
) -> None:
    manager = LeasedExecutorManager(
        backend="loky", max_pools=1, workers_per_pool=1, clock=clock, lease_grace_seconds=15.0
    )
    await manager.start()
    try:
        lease = await manager.acquire(lease_seconds=300.0)
        stuck_pid = await lease.run(os.getpid)
        started = tmp_path / "started"

        def stick() -> None:
            started.touch()
            time.sleep(60)

        stuck = lease.executor.submit(stick)
        await wait_until(started.exists, what="the stuck job to start")
        clock.advance(300.0 + 15.0)
        await wait_until(stuck.done, what="the stuck job to be abandoned")
        assert not stuck.cancelled()
        assert isinstance(stuck.exception(), Exception)
        await wait_until(lambda: not _alive(stuck_pid), what="the stuck worker to die")
        assert manager.stats()["leases_revoked"] == 1

        async with await manager.acquire() as fresh:
            fresh_pid = await fresh.run(os.getpid)
        assert fresh_pid != stuck_pid
        assert _alive(fresh_pid)
    finally:
        await manager.stop()
    assert not _alive(fresh_pid)  # stop() joined the idle pool's workers


def test_a_loky_pool_cancels_only_calls_no_worker_took_on_shutdown(tmp_path: Path) -> None:
    from gristmill._backends.loky import LokyBackend

    started, release = tmp_path / "started", tmp_path / "release"

    def block() -> None:
        started.touch()
        deadline = time.monotonic() + 10
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.005)

    executor = LokyBackend().create(workers=1, name="unit", options={})
    try:
        blocker = executor.submit(block)
        queued = [executor.submit(abs, -i) for i in range(12)]
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        executor.shutdown(wait=False, cancel_futures=True)
    finally:
        release.touch()
    assert blocker.result(timeout=10) is None
    for i, future in enumerate(queued):
        assert future.cancelled() or future.result(timeout=10) == i
    assert queued[-1].cancelled()  # loky feeds a single busy worker only a few calls ahead
    executor.shutdown(wait=True)
