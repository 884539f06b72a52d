"""Diagnostics: stats(), astats() and stats_from_thread() return one GrinderStats shape
whose counters add up."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import get_type_hints

import pytest

from gristmill import GrinderStats, LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import Gate
from tests.helpers import wait_until

SPEC_KEYS = {
    "started",
    "stopping",
    "pending",
    "batch_size_threshold",
    "max_wait_seconds",
    "lease_seconds",
    "oldest_wait_seconds",
    "submitted",
    "completed",
    "failed",
    "cancelled",
    "batches",
    "in_flight",
}
EXTRA_KEYS = {
    "state",
    "running_batches",
    "max_concurrent_batches",
    "timed_out",
    "rejected",
    "retried",
    "max_pending",
    "waiting_for_room",
    "batch_calls",
    "split_calls",
    "scheduler",
    "dispatch",
    "priority_aging_seconds",
    "max_pending_per_owner",
    "owners",
    "other_owners",
}


def test_grinder_stats_is_a_typed_dict_with_every_key() -> None:
    assert set(GrinderStats.__required_keys__) == SPEC_KEYS | EXTRA_KEYS
    hints = get_type_hints(GrinderStats)
    assert hints["pending"] is int
    assert hints["oldest_wait_seconds"] is float
    assert hints["started"] is bool
    assert hints["state"] is str


async def test_stats_before_start_has_every_key_and_is_json(
    manager: LeasedExecutorManager,
) -> None:
    stats = WorkGrinder(executor_manager=manager, batch_size_threshold=3).stats()
    assert isinstance(stats, dict)
    assert set(stats) == SPEC_KEYS | EXTRA_KEYS
    assert json.loads(json.dumps(stats)) == stats
    assert stats["state"] == "created"
    assert (stats["started"], stats["stopping"]) == (False, False)
    assert stats["batch_size_threshold"] == 3
    assert all(
        stats[key] == 0
        for key in (
            "pending",
            "submitted",
            "completed",
            "failed",
            "cancelled",
            "batches",
            "in_flight",
            "running_batches",
            "timed_out",
            "rejected",
            "retried",
            "waiting_for_room",
        )
    )
    assert stats["max_pending"] is None


async def test_counters_add_up_after_mixed_outcomes(grinder: WorkGrinder, clock: FakeClock) -> None:
    def job(i: int) -> int:
        if i % 3 == 0:
            raise ValueError(i)
        return i

    futures = [await grinder.enqueue(job, i) for i in range(10)]
    futures[-1].cancel()
    clock.advance(10.0)
    await asyncio.wait_for(asyncio.gather(*futures[:-1], return_exceptions=True), 10)
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="idle")
    stats = grinder.stats()
    assert stats["submitted"] == 10
    assert stats["failed"] == 3
    assert stats["completed"] == 6
    assert stats["cancelled"] == 1
    assert stats["submitted"] == stats["completed"] + stats["failed"] + stats["cancelled"]
    assert stats["pending"] == 0


async def test_in_flight_pending_and_running_batches_while_a_batch_runs(
    grinder: WorkGrinder,
) -> None:
    with Gate() as gate:
        futures = [await grinder.enqueue(gate.hold, i) for i in range(4)]
        await wait_until(lambda: gate.arrived == 2, what="batch running")
        futures.append(await grinder.enqueue(gate.hold, 4))
        stats = await grinder.astats()
        assert stats["in_flight"] == 4
        assert stats["pending"] == 1
        assert stats["running_batches"] == 1
        assert stats["batches"] == 1
        assert stats["submitted"] == 5
        assert stats["completed"] == 0
    await asyncio.wait_for(asyncio.gather(*futures[:4]), 10)


async def test_astats_and_stats_from_thread_return_the_same_snapshot(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    await grinder.enqueue(abs, 1)
    clock.advance(2.5)
    direct = grinder.stats()
    assert direct["oldest_wait_seconds"] == 2.5
    assert await grinder.astats() == direct
    assert await asyncio.to_thread(grinder.stats_from_thread) == direct
    assert await asyncio.to_thread(grinder.stats_from_thread, 5.0) == direct
    assert direct["state"] == "running"
    assert direct["started"] is True


async def test_stats_from_thread_rejects_a_bad_timeout(grinder: WorkGrinder) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await asyncio.to_thread(grinder.stats_from_thread, -1.0)


async def test_stats_from_thread_answers_while_stopping(grinder: WorkGrinder) -> None:
    with Gate() as gate:
        futures = [await grinder.enqueue(gate.hold, i) for i in range(4)]
        await wait_until(lambda: gate.arrived == 2, what="batch running")
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: grinder.stats()["stopping"], what="stopping")
        stats = await asyncio.to_thread(grinder.stats_from_thread, 5.0)
        assert stats["stopping"] is True
        assert stats["state"] == "stopping"
        assert stats["in_flight"] == 4
    await asyncio.wait_for(stopping, 10)
    assert [future.result() for future in futures] == [0, 1, 2, 3]


async def test_stats_from_thread_times_out_while_the_loop_is_blocked(grinder: WorkGrinder) -> None:
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            grinder.stats_from_thread(timeout=0.05)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=ask)
    worker.start()
    worker.join(10)  # blocks the loop on purpose: nobody can answer the worker
    assert not worker.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], TimeoutError)
    assert (await grinder.astats())["started"] is True
