"""``map`` on real process pools: chunks travel pickled, yet every item keeps its own outcome.

An item that will not pickle, a result that will not make the trip back, and
an exception that will not unpickle each fail alone. What takes a whole chunk
down (its worker died past ``max_retries``, it ran past its run timeout)
fails that chunk's items only. Waits are bounded far above what a loaded
machine needs; no assertion is about a duration.
"""

from __future__ import annotations

import asyncio
import threading
from functools import partial

import pytest

from gristmill import (
    LeasedExecutorManager,
    RemoteTraceback,
    UnpicklableError,
    WorkerCrashedError,
    WorkGrinder,
)
from tests.helpers import assert_grinder_settled
from tests.process import map_jobs
from tests.process.support import STOP_BOUND


def contiguous(indexes: list[int]) -> bool:
    """Whether ``indexes`` is one run of consecutive numbers (the items of one chunk)."""
    return indexes == list(range(indexes[0], indexes[0] + len(indexes))) if indexes else True


async def test_results_come_back_in_order_and_each_failure_stays_with_its_item(
    process_grinder: WorkGrinder,
) -> None:
    got = [
        r async for r in process_grinder.map(map_jobs.hostile, range(200), return_exceptions=True)
    ]
    assert [got[i] for i in (0, 1, 2, 6, 199)] == [0, 1, 4, 36, 199 * 199]
    assert isinstance(got[3], ValueError)
    assert isinstance(got[3].__cause__, RemoteTraceback)  # the worker's traceback
    assert isinstance(got[4], UnpicklableError)
    assert "the result (a _thread.lock)" in str(got[4])
    assert isinstance(got[5], UnpicklableError)
    assert "TwoArgError" in str(got[5])
    assert [r async for r in process_grinder.map(map_jobs.add, range(5), range(10, 15))] == [
        10,
        12,
        14,
        16,
        18,
    ]
    stats = process_grinder.stats()
    assert (stats["completed"], stats["failed"]) == (197 + 5, 3)


async def test_an_item_that_will_not_pickle_fails_alone(process_grinder: WorkGrinder) -> None:
    items: list[object] = [1, 2, threading.Lock(), 4]
    got = [r async for r in process_grinder.map(repr, items, return_exceptions=True)]
    assert [got[0], got[1], got[3]] == ["1", "2", "4"]
    assert isinstance(got[2], UnpicklableError)
    assert "item #2 (a _thread.lock)" in str(got[2])


async def test_a_function_that_will_not_pickle_ends_the_map_at_once(
    process_grinder: WorkGrinder,
) -> None:
    with pytest.raises(UnpicklableError, match=r"the function .*lambda"):
        async for _ in process_grinder.map(lambda x: x, range(3)):
            pass
    assert process_grinder.stats()["submitted"] == 0


async def test_a_run_timeout_applies_to_each_item_not_to_the_chunk(
    process_manager: LeasedExecutorManager,
) -> None:
    # Items 100-111 take 0.12 s each: a chunk holding five of them runs longer
    # than the 0.5 s run timeout, yet no single item does.
    grinder = WorkGrinder(executor_manager=process_manager, run_timeout_seconds=0.5)
    await grinder.start()
    try:
        slow = partial(map_jobs.slow_from, first=100, last=112, seconds=0.12)
        got = [r async for r in grinder.map(slow, range(400), return_exceptions=True)]
    finally:
        await asyncio.wait_for(grinder.stop(), STOP_BOUND)
    assert got == list(range(400))
    assert grinder.stats()["timed_out"] == 0
    assert_grinder_settled(grinder)


async def test_a_hung_item_times_out_and_the_rest_complete(
    process_manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=process_manager, run_timeout_seconds=0.5)
    await grinder.start()
    try:
        hang = partial(map_jobs.hang_on, target=50)
        got = [r async for r in grinder.map(hang, range(300), return_exceptions=True)]
    finally:
        await asyncio.wait_for(grinder.stop(), STOP_BOUND)
    assert isinstance(got[50], TimeoutError)
    failed = [i for i, r in enumerate(got) if isinstance(r, BaseException)]
    assert all(isinstance(got[i], TimeoutError) for i in failed)
    assert [r for r in got if not isinstance(r, BaseException)] == [
        i for i in range(300) if i not in failed
    ]
    assert grinder.stats()["timed_out"] == len(failed)
    assert_grinder_settled(grinder)


async def test_a_chunk_whose_worker_keeps_dying_fails_its_items_only(
    process_manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=process_manager, max_retries=0)
    await grinder.start()
    try:
        crash = partial(map_jobs.crash_on, target=40)
        got = [r async for r in grinder.map(crash, range(200), return_exceptions=True)]
    finally:
        await asyncio.wait_for(grinder.stop(), STOP_BOUND)
    failed = [i for i, r in enumerate(got) if isinstance(r, BaseException)]
    assert 40 in failed
    assert contiguous(failed)  # the crashing item's chunk, nothing else
    assert all(isinstance(got[i], WorkerCrashedError) for i in failed)
    assert [got[i] for i in range(200) if i not in failed] == [
        i for i in range(200) if i not in failed
    ]
    stats = grinder.stats()
    assert (stats["completed"], stats["failed"]) == (200 - len(failed), len(failed))
    assert_grinder_settled(grinder)
