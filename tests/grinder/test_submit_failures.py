"""A batch whose executor fails part-way: submitted items keep their real outcomes, the
rest get the submit error; a revoked lease fails only the items that had not started."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor

from gristmill import LeasedExecutorManager, UnpicklableError, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import SourceFactory
from tests.grinder.fakes import FailingSubmitExecutor, Gate
from tests.helpers import stays, wait_until


class SubmitRefused(RuntimeError):
    pass


def fails_on_second_submit(inner: Executor) -> Executor:
    return FailingSubmitExecutor(inner, fail_on=2, error=SubmitRefused("executor said no"))


def job(i: int) -> int:
    if i == 1:
        raise ValueError(f"own failure {i}")
    return i * 100


async def test_items_submitted_before_a_failing_submit_keep_their_real_outcomes(
    make_source: SourceFactory,
) -> None:
    # One worker per pool: the batch of 4 goes out as two chunks of two.
    source = make_source(workers_per_pool=1, wrap=fails_on_second_submit)
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=4)
    await grinder.start()
    try:
        futures = [await grinder.enqueue(job, i) for i in range(4)]
        outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
        await wait_until(lambda: source.active == 0, what="lease released")
        stats = grinder.stats()
    finally:
        await grinder.stop()
    assert outcomes[0] == 0
    assert isinstance(outcomes[1], ValueError)
    assert str(outcomes[1]) == "own failure 1"
    assert all(isinstance(outcome, SubmitRefused) for outcome in outcomes[2:])
    assert (stats["completed"], stats["failed"], stats["in_flight"]) == (1, 3, 0)
    assert stats["state"] == "running"


async def test_a_failing_first_submit_fails_the_whole_batch_and_the_grinder_goes_on(
    make_source: SourceFactory,
) -> None:
    source = make_source(
        wrap=lambda inner: FailingSubmitExecutor(inner, fail_on=1, error=SubmitRefused("no"))
    )
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=2)
    await grinder.start()
    try:
        first = [await grinder.enqueue(job, i) for i in (0, 2)]
        outcomes = await asyncio.wait_for(asyncio.gather(*first, return_exceptions=True), 10)
        assert all(isinstance(outcome, SubmitRefused) for outcome in outcomes)
        assert grinder.stats()["state"] == "running"
        assert source.active == 0
        more = [await grinder.enqueue(job, i) for i in (3, 4)]
        outcomes = await asyncio.wait_for(asyncio.gather(*more, return_exceptions=True), 10)
        assert all(isinstance(outcome, SubmitRefused) for outcome in outcomes)
        assert len(source.leases) == 2
    finally:
        await grinder.stop()


async def test_unpicklable_item_in_a_chunk_whose_submit_fails_is_settled_once(
    make_source: SourceFactory,
) -> None:
    # Cross-process payloads on a plain thread pool: chunks are pickled. The
    # second chunk holds an unpicklable argument AND its submit fails.
    source = make_source(workers_per_pool=1, cross_process=True, wrap=fails_on_second_submit)
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=4)
    await grinder.start()
    try:
        futures: list[asyncio.Future[object]] = [
            await grinder.enqueue(job, 0),
            await grinder.enqueue(job, 2),
            await grinder.enqueue(str, threading.Lock()),
            await grinder.enqueue(job, 3),
        ]
        outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
        await wait_until(lambda: source.active == 0, what="lease released")
        stats = grinder.stats()
    finally:
        await grinder.stop()
    assert outcomes[:2] == [0, 200]
    assert isinstance(outcomes[2], UnpicklableError)
    assert isinstance(outcomes[3], SubmitRefused)
    assert (stats["completed"], stats["failed"], stats["cancelled"]) == (2, 2, 0)
    assert stats["in_flight"] == 0


async def test_revoked_lease_requeues_queued_items_and_running_items_still_finish(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    # 60 s lease + the manager's 15 s grace: the pool is revoked at 75 s.
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4, lease_seconds=60.0)
    await grinder.start()
    try:
        with Gate() as gate:
            futures = [await grinder.enqueue(gate.hold, i) for i in range(4)]
            await wait_until(lambda: gate.arrived == 2, what="both workers busy")
            clock.advance(74.99)
            await stays(lambda: grinder.stats()["retried"] == 0, what="the lease alive")
            clock.advance(0.01)
            # the two items that had not started go back to the queue and run on a new lease
            await wait_until(lambda: gate.arrived == 4, what="requeued items running")
            assert manager.stats()["leases_revoked"] == 1
            assert grinder.stats()["retried"] == 2
            assert grinder.stats()["batches"] == 2
            assert not any(future.done() for future in futures)
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 2, 3]
        await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="settled")
        stats = grinder.stats()
        assert (stats["completed"], stats["failed"]) == (4, 0)
    finally:
        await grinder.stop()
