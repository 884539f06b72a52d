"""``WorkGrinder.enqueue_many``: one future per item, and the group admitted as a unit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from gristmill import (
    GrinderOverloadedError,
    LeasedExecutorManager,
    NotStartedError,
    WorkGrinder,
)
from tests.grinder.conftest import GrinderFactory
from tests.helpers import wait_until


def add(x: int, y: int) -> int:
    return x + y


def fail_on_odd(x: int) -> int:
    if x % 2:
        raise ValueError(x)
    return x


async def test_each_item_gets_its_own_future_in_order(grinder: WorkGrinder) -> None:
    futures = await grinder.enqueue_many(add, range(10), range(100, 200))
    assert len(futures) == 10  # zipped: the shortest ends it
    await grinder.stop()
    assert [f.result() for f in futures] == [x + 100 + x for x in range(10)]
    stats = grinder.stats()
    assert (stats["submitted"], stats["completed"]) == (10, 10)


async def test_an_item_exception_stays_with_its_future(grinder: WorkGrinder) -> None:
    futures = await grinder.enqueue_many(fail_on_odd, range(6))
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[::2] == [0, 2, 4]
    assert [str(r) for r in results[1::2]] == ["1", "3", "5"]


async def test_one_future_can_be_cancelled_without_touching_the_others(
    grinder: WorkGrinder,
) -> None:
    futures = await grinder.enqueue_many(abs, [-1, -2, -3])
    assert futures[1].cancel()
    await grinder.stop()
    assert [futures[0].result(), futures[2].result()] == [1, 3]
    assert grinder.stats()["cancelled"] == 1


async def test_async_iterables_are_accepted(grinder: WorkGrinder) -> None:
    async def numbers() -> AsyncIterator[int]:
        for value in range(5):
            yield value

    futures = await grinder.enqueue_many(add, numbers(), [10, 20, 30])
    await grinder.stop()  # below the threshold: stop() drains them
    assert [f.result() for f in futures] == [10, 21, 32]


async def test_an_empty_group_queues_nothing(grinder: WorkGrinder) -> None:
    assert await grinder.enqueue_many(abs, []) == []
    assert grinder.stats()["submitted"] == 0


async def test_an_iterable_that_raises_queues_nothing(grinder: WorkGrinder) -> None:
    def flaky() -> Iterator[int]:
        yield 1
        raise OSError("gone")

    with pytest.raises(OSError, match="gone"):
        await grinder.enqueue_many(abs, flaky())
    assert grinder.stats()["submitted"] == 0


async def test_the_group_waits_until_all_of_it_fits(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(max_pending=4, batch_size_threshold=100)
    queued = await grinder.enqueue_many(abs, [-1, -2])
    group = asyncio.create_task(grinder.enqueue_many(abs, [-3, -4, -5]))
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="the group to wait")
    assert not group.done()
    assert grinder.stats()["pending"] == 2  # nothing of the group joined yet
    single = asyncio.create_task(grinder.enqueue(abs, -6))
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 2, what="the single to wait")
    assert not single.done()  # first come, first served: it waits behind the group
    queued[0].cancel()
    futures = await asyncio.wait_for(group, 10)
    assert grinder.stats()["pending"] == 4
    assert not single.done()
    queued[1].cancel()
    late = await asyncio.wait_for(single, 10)
    await grinder.stop()
    assert [f.result() for f in futures] == [3, 4, 5]
    assert late.result() == 6


async def test_a_group_that_leaves_its_place_lets_the_waiters_behind_it_in(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=3, batch_size_threshold=100)
    queued = await grinder.enqueue_many(abs, [-1, -2])
    group = asyncio.create_task(grinder.enqueue_many(abs, [-3, -4]))
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="the group to wait")
    single = asyncio.create_task(grinder.enqueue(abs, -5))
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 2, what="the single to wait")
    assert not single.done()
    group.cancel()
    late = await asyncio.wait_for(single, 10)
    await grinder.stop()
    assert late.result() == 5
    assert [f.result() for f in queued] == [1, 2]


async def test_a_full_queue_that_rejects_refuses_the_whole_group(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending=4, overflow="reject", batch_size_threshold=100)
    await grinder.enqueue_many(abs, [-1, -2])
    with pytest.raises(GrinderOverloadedError, match="for 3 more"):
        await grinder.enqueue_many(abs, [-3, -4, -5])
    stats = grinder.stats()
    assert (stats["pending"], stats["rejected"], stats["submitted"]) == (2, 3, 2)


async def test_a_group_larger_than_the_queue_can_never_fit(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(max_pending=2)
    with pytest.raises(ValueError, match="3 items can never fit a queue of max_pending=2"):
        await grinder.enqueue_many(abs, [-1, -2, -3])
    assert grinder.stats()["submitted"] == 0


async def test_bad_arguments_raise_naming_the_problem(grinder: WorkGrinder) -> None:
    async def coro(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="async function"):
        await grinder.enqueue_many(coro, [1])
    with pytest.raises(TypeError, match="at least one iterable"):
        await grinder.enqueue_many(abs)
    with pytest.raises(TypeError, match="argument #1"):
        await grinder.enqueue_many(abs, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="owner"):
        await grinder.enqueue_many(abs, [1], owner=3)  # type: ignore[arg-type]


async def test_a_grinder_that_is_not_running_refuses(manager: LeasedExecutorManager) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    with pytest.raises(NotStartedError):
        await grinder.enqueue_many(abs, [1, 2])
    with pytest.raises(NotStartedError):
        await grinder.enqueue_many(abs, [])
