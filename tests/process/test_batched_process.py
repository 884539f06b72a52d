"""Batch functions on real process pools: by-reference pickling, crashes and run timeouts."""

from __future__ import annotations

import asyncio

from gristmill import LeasedExecutorManager, WorkerCrashedError, WorkGrinder
from tests.process import jobs
from tests.process.support import FAULT_BOUND, stop_settled


async def test_calls_run_in_workers_and_each_caller_gets_its_element(
    process_manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=process_manager, batch_size_threshold=8)
    await grinder.start()
    try:
        futures = [await grinder.enqueue(jobs.batch_pids, i) for i in range(8)]
        results = await asyncio.wait_for(asyncio.gather(*futures), FAULT_BOUND)
        parity = [await grinder.enqueue(jobs.batch_parity, i) for i in range(8)]
        shared = await asyncio.wait_for(asyncio.gather(*parity), FAULT_BOUND)
    finally:
        await stop_settled(grinder)
    assert [square for square, _ in results] == [i * i for i in range(8)]
    assert len({pid for _, pid in results}) >= 1
    assert all(pid != 0 for _, pid in results)
    assert shared[0] == [0, 2, 4, 6]  # the key kept odd and even items apart
    assert shared[1] == [1, 3, 5, 7]
    assert grinder.stats()["batch_calls"] == 4  # two capped calls of 4, one per parity


async def test_a_call_that_kills_its_worker_blames_only_the_poison(
    single_worker_manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(
        executor_manager=single_worker_manager, batch_size_threshold=4, max_retries=1
    )
    await grinder.start()
    try:
        futures = [await grinder.enqueue(jobs.batch_exit_on_poison, i) for i in [1, -1, 3, 4]]
        outcomes = await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), FAULT_BOUND
        )
    finally:
        await stop_settled(grinder)
    assert outcomes[0] == 2
    assert isinstance(outcomes[1], WorkerCrashedError)
    assert outcomes[2:] == [4, 5]


async def test_a_run_timeout_applies_to_the_call_as_a_whole(
    process_manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(
        executor_manager=process_manager, batch_size_threshold=3, run_timeout_seconds=0.3
    )
    await grinder.start()
    try:
        futures = [await grinder.enqueue(jobs.batch_hang_on_poison, x) for x in [1.0, -1.0, 2.0]]
        outcomes = await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), FAULT_BOUND
        )
        later = [await grinder.enqueue(jobs.batch_hang_on_poison, x) for x in [5.0, 6.0, 7.0]]
        after = await asyncio.wait_for(asyncio.gather(*later), FAULT_BOUND)
    finally:
        await stop_settled(grinder)
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    assert after == [5.0, 6.0, 7.0]  # the pool was replaced; the next call runs
    assert grinder.stats()["timed_out"] == 3


async def test_an_item_that_will_not_unpickle_fails_alone_and_the_call_goes_on(
    process_manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=process_manager, batch_size_threshold=3)
    await grinder.start()
    try:
        futures = [
            await grinder.enqueue(jobs.batch_unloadable_safe, item)
            for item in [1, jobs.Unloadable(), "x"]
        ]
        outcomes = await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), FAULT_BOUND
        )
    finally:
        await stop_settled(grinder)
    assert outcomes[0] == "int"
    assert isinstance(outcomes[1], Exception)
    assert "unpickle" in str(outcomes[1])
    assert outcomes[2] == "str"
