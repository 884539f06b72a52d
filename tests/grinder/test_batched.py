"""Batch functions on a grinder: one call ``fn(items)`` over many callers' items."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import Any, assert_type

import pytest

from gristmill import (
    BatchCall,
    BatchFunction,
    GrinderOverloadedError,
    Hooks,
    LeasedExecutorManager,
    Work,
    WorkGrinder,
    batched,
)
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.helpers import wait_until

CALLS: list[list[Any]] = []


@batched
def doubled(items: list[int]) -> list[int]:
    CALLS.append(list(items))
    return [item * 2 for item in items]


@batched(max_batch_size=3)
def capped(items: list[int]) -> list[int]:
    CALLS.append(list(items))
    return list(items)


@batched(on_error="split")
def picky(items: list[int]) -> list[int]:
    CALLS.append(list(items))
    if 13 in items:
        raise ValueError("13 is unlucky")
    return list(items)


@batched(key=lambda item: item[0])
def by_model(items: list[tuple[str, int]]) -> list[str]:
    CALLS.append(list(items))
    return [f"{model}:{value}" for model, value in items]


@pytest.fixture(autouse=True)
def fresh_calls() -> None:
    CALLS.clear()


async def test_every_caller_gets_its_own_element_from_one_call(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=5)
    results = await asyncio.gather(*(grinder.submit(doubled, i) for i in range(5)))
    assert results == [0, 2, 4, 6, 8]
    assert CALLS == [[0, 1, 2, 3, 4]]
    stats = grinder.stats()
    assert (stats["batches"], stats["batch_calls"], stats["split_calls"]) == (1, 1, 0)


async def test_submit_is_typed_as_the_element_type(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    value = await grinder.submit(doubled, 21)
    assert_type(value, int)
    future = await grinder.enqueue(doubled, 1)
    assert_type(future, asyncio.Future[int])
    assert (value, await future) == (42, 2)


async def test_plain_jobs_and_batch_functions_share_one_batch_and_one_lease(
    make_grinder: GrinderFactory, manager: LeasedExecutorManager
) -> None:
    grinder = await make_grinder(batch_size_threshold=6)
    futures: list[asyncio.Future[Any]] = [
        await grinder.enqueue(doubled, 1),
        await grinder.enqueue(pow, 2, 3),
        await grinder.enqueue(capped, 7),
        await grinder.enqueue(doubled, 2),
        await grinder.enqueue(divmod, 7, 2),
        await grinder.enqueue(capped, 8),
    ]
    assert await asyncio.gather(*futures) == [2, 8, 7, 4, (3, 1), 8]
    assert sorted(CALLS) == [[1, 2], [7, 8]]
    assert grinder.stats()["batches"] == 1
    assert manager.stats()["leases_granted"] == 1


async def test_max_batch_size_caps_each_call_and_shares_items_evenly(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=7)
    assert await asyncio.gather(*(grinder.submit(capped, i) for i in range(7))) == list(range(7))
    assert sorted(len(call) for call in CALLS) == [2, 2, 3]
    assert grinder.stats()["batch_calls"] == 3


async def test_items_with_different_keys_never_share_a_call(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=4)
    items = [("small", 1), ("large", 2), ("small", 3), ("large", 4)]
    results = await asyncio.gather(*(grinder.submit(by_model, item) for item in items))
    assert results == ["small:1", "large:2", "small:3", "large:4"]
    assert sorted(CALLS) == [[("large", 2), ("large", 4)], [("small", 1), ("small", 3)]]
    assert grinder.stats()["batches"] == 1


async def test_a_key_that_fails_fails_its_item_alone(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=3)
    futures = [await grinder.enqueue(by_model, item) for item in [("a", 1), (), ("a", 2)]]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[0] == "a:1"
    assert isinstance(outcomes[1], TypeError)
    assert "key" in str(outcomes[1])
    assert outcomes[2] == "a:2"
    assert grinder.stats()["state"] == "running"


@pytest.mark.parametrize(
    ("args", "kwargs"), [((), {}), ((1, 2), {}), ((1,), {"scale": 2})], ids=str
)
async def test_anything_but_one_positional_item_is_a_type_error_at_enqueue(
    grinder: WorkGrinder, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    fn: Any = doubled
    with pytest.raises(TypeError, match="exactly one positional argument, the item"):
        await grinder.enqueue(fn, *args, **kwargs)
    with pytest.raises(TypeError, match="exactly one positional argument, the item"):
        await grinder.enqueue_work(Work(fn, args=args, kwargs=kwargs))
    with pytest.raises(TypeError, match="exactly one positional argument, the item"):
        await asyncio.to_thread(grinder.submit_from_thread, fn, *args, **kwargs)
    assert grinder.stats()["submitted"] == 0


async def test_a_raising_call_fails_each_item_with_the_same_type_and_message(
    make_grinder: GrinderFactory,
) -> None:
    @batched
    def broken(items: list[int]) -> list[int]:
        raise LookupError("index offline")

    grinder = await make_grinder(batch_size_threshold=3)
    futures = [await grinder.enqueue(broken, i) for i in range(3)]
    errors = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(error, LookupError) for error in errors)
    assert {str(error) for error in errors} == {"index offline"}
    assert len({id(error) for error in errors}) == 3
    assert grinder.stats()["failed"] == 3


async def test_split_fails_only_the_poison_item_and_counts_the_extra_calls(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=8)
    futures = [await grinder.enqueue(picky, i) for i in [1, 2, 13, 4, 5, 6, 7, 8]]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert isinstance(outcomes[2], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 2] == [1, 2, 4, 5, 6, 7, 8]
    stats = grinder.stats()
    assert stats["split_calls"] == len(CALLS) - 1
    assert stats["batch_calls"] == len(CALLS)
    assert 1 < len(CALLS) <= 1 + 2 * 3  # 1 + 2·log2(8) for one bad item


async def test_a_cancelled_item_never_reaches_the_call(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(batch_size_threshold=10)
    futures = [await grinder.enqueue(doubled, i) for i in range(3)]
    futures[1].cancel()
    clock.advance(10.0)
    assert await futures[0] == 0
    assert await futures[2] == 4
    assert CALLS == [[0, 2]]


async def test_deadlines_apply_to_batch_items(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(batch_size_threshold=10, max_wait_seconds=5.0)
    late = await grinder.enqueue_work(Work(doubled, args=(1,), deadline_seconds=1.0))
    on_time = await grinder.enqueue(doubled, 2)
    clock.advance(1.0)
    with pytest.raises(TimeoutError):
        await late
    clock.advance(4.0)
    assert await on_time == 4
    assert CALLS == [[2]]


async def test_a_full_queue_refuses_batch_items_like_any_other(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=10, max_pending=2, overflow="reject")
    await grinder.enqueue(doubled, 1)
    await grinder.enqueue(doubled, 2)
    with pytest.raises(GrinderOverloadedError):
        await grinder.enqueue(doubled, 3)
    await grinder.stop()
    assert sorted(CALLS) == [[1, 2]]


async def test_stop_drains_batch_items_into_calls(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=100)
    futures = [await grinder.enqueue(doubled, i) for i in range(4)]
    await grinder.stop()
    assert [future.result() for future in futures] == [0, 2, 4, 6]
    assert CALLS == [[0, 1, 2, 3]]


async def test_submit_from_thread_and_submit_work_join_the_same_calls(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(batch_size_threshold=10)

    def from_another_thread() -> concurrent.futures.Future[int]:
        return grinder.submit_from_thread(doubled, 5)

    from_thread = await asyncio.to_thread(from_another_thread)
    # A Work is typed by the callable's own return type (a sequence here).
    work: asyncio.Future[Any] = await grinder.enqueue_work(Work(doubled, args=(6,)))
    await wait_until(lambda: grinder.stats()["pending"] == 2, what="the thread's item")
    await grinder.stop()
    assert (from_thread.result(timeout=5), work.result()) == (10, 12)
    assert sorted(CALLS[0]) == [5, 6]


async def test_hooks_hear_about_each_call(manager: LeasedExecutorManager, clock: FakeClock) -> None:
    heard: list[BatchCall] = []

    class Listen(Hooks):
        def on_batch_call(self, event: BatchCall) -> None:
            heard.append(event)

    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4, hooks=Listen())
    await grinder.start()
    with contextlib.suppress(ValueError):
        await asyncio.gather(*(grinder.submit(picky, i) for i in [1, 13, 3, 4]))
    await grinder.stop()
    assert len(heard) == 1
    assert heard[0].function.endswith("picky")
    assert (heard[0].items, heard[0].calls) == (4, len(CALLS))


def test_a_batch_function_called_directly_is_the_plain_function() -> None:
    assert doubled([1, 2, 3]) == [2, 4, 6]
    assert isinstance(doubled, BatchFunction)
    assert threading.current_thread() is threading.main_thread()


async def test_map_calls_a_batch_function_once_per_chunk_not_per_item(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    results: list[Any] = [value async for value in grinder.map(doubled, range(50))]
    assert results == [i * 2 for i in range(50)]
    assert sum(len(call) for call in CALLS) == 50
    assert any(len(call) > 1 for call in CALLS)  # items of a chunk shared calls
    with pytest.raises(TypeError, match="exactly one positional argument"):
        grinder.map(doubled, range(3), range(3))


async def test_enqueue_many_joins_batch_items_into_calls(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=6)
    futures = await grinder.enqueue_many(capped, range(6))
    results: list[Any] = list(await asyncio.gather(*futures))
    assert results == list(range(6))
    assert sorted(len(call) for call in CALLS) == [3, 3]
    with pytest.raises(TypeError, match="exactly one positional argument"):
        await grinder.enqueue_many(capped, range(2), range(2))
