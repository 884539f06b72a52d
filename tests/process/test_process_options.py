"""Executor options reach the process pools: start method, initializer, worker recycling."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from gristmill.testing import FakeClock
from tests.helpers import make_manager
from tests.process import jobs


async def test_workers_are_not_forked_when_no_mp_context_is_given(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "PARENT_MARK", "changed in the parent")
    manager = make_manager(clock, backend="process", max_pools=1, workers_per_pool=1)
    await manager.start()
    try:
        async with await manager.acquire() as lease:
            method = await lease.run(jobs.start_method)
            mark = await lease.run(jobs.read_parent_mark)
    finally:
        await manager.stop()

    assert method in ("forkserver", "spawn")
    assert mark == "as imported"  # a forked worker would share the parent's change


async def test_mp_context_chooses_the_start_method(clock: FakeClock) -> None:
    manager = make_manager(
        clock,
        backend="process",
        max_pools=1,
        workers_per_pool=1,
        mp_context=multiprocessing.get_context("spawn"),
    )
    await manager.start()
    try:
        async with await manager.acquire() as lease:
            method = await lease.run(jobs.start_method)
            parent = await lease.run(jobs.parent_pid)
    finally:
        await manager.stop()

    assert method == "spawn"
    assert parent == os.getpid()  # spawned by us, not by a fork server


async def test_initializer_runs_in_every_worker_that_max_tasks_per_child_recycles(
    clock: FakeClock,
) -> None:
    manager = make_manager(
        clock,
        backend="process",
        max_pools=1,
        workers_per_pool=1,
        initializer=jobs.remember,
        initargs=("initialized",),
        max_tasks_per_child=1,
    )
    await manager.start()
    try:
        async with await manager.acquire() as lease:
            runs = [await lease.run(jobs.initialized_value_and_pid) for _ in range(2)]
    finally:
        await manager.stop()

    # Each call ran in a fresh worker, and the initializer had run in each one.
    assert [value for value, _ in runs] == ["initialized", "initialized"]
    assert len({pid for _, pid in runs}) == 2
