"""Results and exceptions through process pools: leases, grinder batches and chunks."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, RemoteTraceback, WorkGrinder
from tests.process import jobs


async def test_lease_runs_calls_in_worker_processes(
    process_manager: LeasedExecutorManager,
) -> None:
    async with await process_manager.acquire() as lease:
        assert await lease.run(pow, 2, 10) == 1024
        assert await lease.run(jobs.describe, 1.5, label="x:") == "x:float"
        assert await lease.run(jobs.worker_pid) != os.getpid()
        with pytest.raises(KeyError, match="missing-key") as caught:
            await lease.run(jobs.raise_key_error, "missing-key")
        # Unchunked calls behave exactly as on a bare ProcessPoolExecutor.
        assert "raise_key_error" in str(caught.value.__cause__)
        assert await lease.run(jobs.square, 12) == 144


async def test_grinder_errors_reach_only_their_caller_with_the_worker_traceback(
    process_grinder: WorkGrinder,
) -> None:
    futures: list[asyncio.Future[Any]] = [
        await process_grinder.enqueue(jobs.square, 3),
        await process_grinder.enqueue(jobs.raise_key_error, "lost"),
        await process_grinder.enqueue(jobs.describe, [], label="list is "),
        await process_grinder.enqueue(jobs.raise_key_error, "gone"),
    ]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)

    assert outcomes[0] == 9
    assert outcomes[2] == "list is list"
    for outcome, key in ((outcomes[1], "lost"), (outcomes[3], "gone")):
        assert isinstance(outcome, KeyError)
        assert outcome.args == (key,)
        cause = outcome.__cause__
        assert isinstance(cause, RemoteTraceback)
        assert "raise_key_error" in cause.text
        assert f"KeyError: '{key}'" in str(cause)
    assert (await process_grinder.astats())["failed"] == 2


async def test_chunked_batch_keeps_every_item_outcome_in_order(
    process_grinder: WorkGrinder,
) -> None:
    inputs = range(1, 301)
    futures = [await process_grinder.enqueue(jobs.square_or_raise, x) for x in inputs]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)

    for x, outcome in zip(inputs, outcomes, strict=True):
        if x % 7 == 0:
            assert isinstance(outcome, ValueError)
            assert str(outcome) == f"rejected {x}"
            assert isinstance(outcome.__cause__, RemoteTraceback)
            assert "square_or_raise" in outcome.__cause__.text
        else:
            assert outcome == x * x
    stats = await process_grinder.astats()
    assert stats["batches"] == 1, stats
    assert (stats["completed"], stats["failed"]) == (258, 42)


async def test_job_raising_system_exit_or_keyboard_interrupt_fails_only_that_item(
    process_grinder: WorkGrinder,
) -> None:
    futures: list[asyncio.Future[Any]] = [
        await process_grinder.enqueue(jobs.raise_system_exit, 3),
        await process_grinder.enqueue(jobs.square, 4),
        await process_grinder.enqueue(jobs.raise_keyboard_interrupt),
        await process_grinder.enqueue(jobs.square, 5),
    ]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)

    assert isinstance(outcomes[0], SystemExit)
    assert outcomes[0].code == 3
    assert isinstance(outcomes[2], KeyboardInterrupt)
    assert outcomes[1:4:2] == [16, 25]
    # The workers survived: a later batch runs on the same pool.
    assert await process_grinder.submit(jobs.square, 6) == 36
