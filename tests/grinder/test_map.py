"""``WorkGrinder.map``: results in order or as completed, per-item exceptions, bounded reading,
and leaving early cancels what it queued.

The grinder runs on the fake clock; a map's chunks are due at once, so no test
advances it. Workers are held with :class:`~tests.grinder.fakes.Gate` where a
test needs chunks to stay queued or running.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill import (
    GrinderOverloadedError,
    Hooks,
    ItemDone,
    LeasedExecutorManager,
    NotStartedError,
    WorkGrinder,
    WrongTypeError,
)
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import Gate
from tests.helpers import assert_grinder_settled, make_manager, wait_until


def double(x: int) -> int:
    return 2 * x


def add(x: int, y: int) -> int:
    return x + y


def fail_on_sevens(x: int) -> int:
    if x % 7 == 3:
        raise ValueError(f"no {x}")
    return x


class Pulled:
    """An iterable of ``range(n)`` that counts how many items were taken from it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.taken = 0

    def __iter__(self) -> Iterator[int]:
        for value in range(self.n):
            self.taken += 1
            yield value


async def collect(results: AsyncIterator[Any], into: list[Any]) -> None:
    """Append every result to ``into``, so a test can see them after the map raised."""
    async for result in results:
        into.append(result)


async def settled(grinder: WorkGrinder) -> None:
    """Wait until every item of ``grinder`` has an outcome (running chunks finished)."""
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="chunks to settle")


class Running:
    """A started thread manager and grinder for one property-test example."""

    def __init__(self, **options: Any) -> None:
        self.manager = make_manager(FakeClock())
        self.grinder = WorkGrinder(executor_manager=self.manager, batch_size_threshold=4, **options)

    async def __aenter__(self) -> WorkGrinder:
        await self.manager.start()
        await self.grinder.start()
        return self.grinder

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.wait_for(self.grinder.stop(), 10)
        await self.manager.stop()
        assert_grinder_settled(self.grinder)


ARGS = st.lists(st.integers(-1000, 1000), max_size=300)
BOUND = st.one_of(st.none(), st.integers(1, 50))


# -- properties --------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(xs=ARGS, ys=ARGS, max_in_flight=BOUND)
async def test_ordered_map_equals_the_builtin_map(
    xs: list[int], ys: list[int], max_in_flight: int | None
) -> None:
    async with Running() as grinder:
        one = [r async for r in grinder.map(double, xs, max_in_flight=max_in_flight)]
        two = [r async for r in grinder.map(add, xs, ys, max_in_flight=max_in_flight)]
        stats = grinder.stats()
    assert one == list(map(double, xs))
    assert two == list(map(add, xs, ys))
    assert stats["submitted"] == stats["completed"] == len(xs) + min(len(xs), len(ys))


@settings(max_examples=25, deadline=None)
@given(xs=ARGS, max_in_flight=BOUND)
async def test_unordered_map_gives_the_same_multiset(
    xs: list[int], max_in_flight: int | None
) -> None:
    async with Running() as grinder:
        results = grinder.map(
            fail_on_sevens, xs, ordered=False, max_in_flight=max_in_flight, return_exceptions=True
        )
        got = [r if not isinstance(r, ValueError) else str(r) async for r in results]
    expected = [x if x % 7 != 3 else f"no {x}" for x in xs]
    assert Counter(got) == Counter(expected)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 400), max_in_flight=st.integers(1, 60), ordered=st.booleans())
async def test_never_more_than_max_in_flight_items_are_read_and_not_yet_yielded(
    n: int, max_in_flight: int, ordered: bool
) -> None:
    source = Pulled(n)
    seen = 0
    async with Running() as grinder:
        async for _ in grinder.map(double, source, max_in_flight=max_in_flight, ordered=ordered):
            seen += 1
            assert source.taken - seen < max_in_flight
    assert seen == n


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 400), stop_after=st.integers(0, 400), max_in_flight=st.integers(1, 60))
async def test_leaving_early_cancels_the_rest(n: int, stop_after: int, max_in_flight: int) -> None:
    stop_after = min(stop_after, n - 1)
    source = Pulled(n)
    runs: list[int] = []

    def record(x: int) -> int:
        runs.append(x)  # list.append is atomic: safe from worker threads
        return x

    async with Running() as grinder:
        results = grinder.map(record, source, max_in_flight=max_in_flight)
        async with contextlib.aclosing(results):
            got = [x async for x, _ in zip_count(results, stop_after)]
        stats = grinder.stats()
        assert stats["pending"] == 0  # nothing it queued is left queued
        await settled(grinder)
        stats = grinder.stats()
    assert got == list(range(stop_after))
    # Only what was read could run, and at most max_in_flight items past the last yielded.
    assert len(runs) <= source.taken < stop_after + max_in_flight + 1
    assert stats["submitted"] == stats["completed"] + stats["cancelled"]


async def zip_count(results: AsyncIterator[int], count: int) -> AsyncIterator[tuple[int, int]]:
    """Yield ``(result, i)`` for the first ``count`` results, then stop."""
    if count == 0:
        return
    i = 0
    async for result in results:
        yield result, i
        i += 1
        if i == count:
            return


# -- outcomes ----------------------------------------------------------------------------


async def test_an_item_exception_is_raised_at_its_place_after_the_results_before_it(
    grinder: WorkGrinder,
) -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="no 3"):
        await collect(grinder.map(fail_on_sevens, range(20)), got)
    assert got == [0, 1, 2]
    await settled(grinder)


async def test_return_exceptions_yields_each_exception_in_its_place(grinder: WorkGrinder) -> None:
    got = [r async for r in grinder.map(fail_on_sevens, range(20), return_exceptions=True)]
    assert [type(r).__name__ for r in got if not isinstance(r, int)] == ["ValueError"] * 3
    assert [str(got[i]) for i in (3, 10, 17)] == ["no 3", "no 10", "no 17"]
    assert [r for i, r in enumerate(got) if i not in (3, 10, 17)] == [
        x for x in range(20) if x not in (3, 10, 17)
    ]
    stats = grinder.stats()
    assert (stats["submitted"], stats["completed"], stats["failed"]) == (20, 17, 3)


async def test_an_unordered_map_raises_an_item_exception_when_it_reaches_it(
    grinder: WorkGrinder,
) -> None:
    with pytest.raises(ValueError, match="no "):
        async for _ in grinder.map(fail_on_sevens, range(50), ordered=False):
            pass
    await settled(grinder)


async def test_base_exceptions_and_stop_iteration_stay_with_their_item(
    grinder: WorkGrinder,
) -> None:
    def hostile(x: int) -> int:
        if x == 1:
            raise KeyboardInterrupt("item 1")
        if x == 2:
            raise SystemExit(2)
        if x == 3:
            raise StopIteration
        return x

    got = [r async for r in grinder.map(hostile, range(6), return_exceptions=True)]
    assert [got[0], got[4], got[5]] == [0, 4, 5]
    assert isinstance(got[1], KeyboardInterrupt)
    assert isinstance(got[2], SystemExit)
    assert isinstance(got[3], RuntimeError)
    assert isinstance(got[3].__cause__, StopIteration)
    # The grinder is unharmed.
    assert [r async for r in grinder.map(double, range(3))] == [0, 2, 4]


async def test_a_function_that_returns_a_coroutine_fails_that_item(grinder: WorkGrinder) -> None:
    async def later() -> int:
        return 1

    def sneaky(x: int) -> Any:
        return later() if x == 1 else x

    got = [r async for r in grinder.map(sneaky, range(3), return_exceptions=True)]
    assert got[0] == 0
    assert got[2] == 2
    assert isinstance(got[1], TypeError)
    assert "returned a coroutine" in str(got[1])


async def test_an_iterable_that_raises_ends_the_map_after_the_items_it_gave(
    grinder: WorkGrinder,
) -> None:
    def flaky() -> Iterator[int]:
        yield from range(5)
        raise OSError("disk gone")

    got: list[int] = []
    with pytest.raises(OSError, match="disk gone"):
        await collect(grinder.map(double, flaky(), ordered=False), got)
    assert sorted(got) == [0, 2, 4, 6, 8]


async def test_async_iterables_are_read_lazily_and_zipped_with_sync_ones(
    grinder: WorkGrinder,
) -> None:
    pulled = 0

    async def numbers() -> AsyncIterator[int]:
        nonlocal pulled
        for value in range(100):
            pulled += 1
            await asyncio.sleep(0)
            yield value

    got = []
    async for result in grinder.map(add, numbers(), range(1000, 1010), max_in_flight=4):
        got.append(result)
        assert pulled - len(got) <= 5  # zip reads one more from the first before the second ends
    assert got == [x + 1000 + x for x in range(10)]


async def test_an_async_iterable_that_raises_ends_the_map_after_the_items_it_gave(
    grinder: WorkGrinder,
) -> None:
    async def flaky() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise LookupError("gone")

    got: list[int] = []
    with pytest.raises(LookupError, match="gone"):
        await collect(grinder.map(double, flaky()), got)
    assert got == [2, 4]


async def test_an_empty_input_yields_nothing(grinder: WorkGrinder) -> None:
    assert [r async for r in grinder.map(double, [])] == []
    assert [r async for r in grinder.map(add, range(5), [])] == []


# -- counting and observing --------------------------------------------------------------


async def test_stats_and_hooks_count_items_not_chunks(manager: LeasedExecutorManager) -> None:
    outcomes: Counter[str] = Counter()

    class Count(Hooks):
        def on_item_done(self, event: ItemDone) -> None:
            outcomes[event.outcome] += 1

    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4, hooks=Count())
    await grinder.start()
    try:
        got = [r async for r in grinder.map(fail_on_sevens, range(700), return_exceptions=True)]
    finally:
        await grinder.stop()
    failures = sum(isinstance(r, ValueError) for r in got)
    assert failures == 100
    stats = grinder.stats()
    assert (stats["submitted"], stats["completed"], stats["failed"]) == (700, 600, 100)
    assert stats["batches"] < 700  # the items travelled in chunks
    assert outcomes == Counter({"completed": 600, "failed": 100})


# -- leaving early -----------------------------------------------------------------------


async def test_break_and_aclose_cancel_what_has_not_started_and_running_chunks_finish(
    grinder: WorkGrinder,
) -> None:
    runs: list[int] = []
    blocked: list[int] = []
    with Gate() as gate:

        def held(x: int) -> int:
            runs.append(x)  # list.append is atomic: safe from worker threads
            if x > 0:
                blocked.append(x)
                gate.block()
            return x

        results = grinder.map(held, range(10_000))
        assert await anext(results) == 0  # item 0 alone: it measures the item cost
        await wait_until(lambda: gate.arrived == 4, what="every worker to be busy")
        await results.aclose()
        assert grinder.stats()["pending"] == 0
        first_items = set(blocked)  # each running chunk is stuck on its first item
        gate.open()
        await settled(grinder)
    # The running chunks ran to their ends (chunks are runs of consecutive items);
    # no other chunk started, whether it was in the grinder's queue or the pool's.
    ran = sorted(runs)
    assert ran[0] == 0
    assert len(first_items) == 4
    assert all(x in first_items or x - 1 in ran for x in ran[1:])
    stats = grinder.stats()
    assert len(ran) < stats["submitted"]
    assert (stats["completed"], stats["cancelled"]) == (1, stats["submitted"] - 1)


async def test_cancelling_the_consumer_cancels_what_the_map_queued(grinder: WorkGrinder) -> None:
    runs: list[int] = []
    with Gate() as gate:

        def held(x: int) -> int:
            runs.append(x)
            if x > 0:
                gate.block()
            return x

        async def consume() -> list[int]:
            return [x async for x in grinder.map(held, range(10_000))]

        consumer = asyncio.create_task(consume())
        await wait_until(lambda: gate.arrived == 4, what="every worker to be busy")
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        assert grinder.stats()["pending"] == 0
        gate.open()
        await settled(grinder)
    stats = grinder.stats()
    assert len(runs) < stats["submitted"]
    assert stats["completed"] + stats["cancelled"] == stats["submitted"]


async def test_a_dropped_map_is_closed_by_the_loop(grinder: WorkGrinder) -> None:
    with Gate() as gate:

        def held(x: int) -> int:
            if x > 0:
                gate.block()
            return x

        async for _ in grinder.map(held, range(10_000)):
            break  # no aclose(): the generator is dropped here
        await wait_until(lambda: grinder.stats()["pending"] == 0, what="the loop to close it")
    await settled(grinder)


async def test_a_stop_that_cancels_pending_work_cancels_the_map_items(
    grinder: WorkGrinder,
) -> None:
    with Gate() as gate:
        short = grinder.map(gate.hold, range(3), return_exceptions=True)
        first = asyncio.ensure_future(anext(short))
        long = grinder.map(gate.hold, range(10_000))
        await wait_until(lambda: gate.arrived == 2, what="a lease's two workers to be busy")
        await grinder.stop(cancel_pending=True)
        got = [await first, *[r async for r in short]]
        assert [type(r) for r in got] == [asyncio.CancelledError] * 3
        with pytest.raises(NotStartedError, match=r"stopping|not started"):
            await anext(long)  # it cannot queue its chunks any more
    await settled(grinder)


# -- admission ---------------------------------------------------------------------------


async def test_each_chunk_waits_for_room_in_a_bounded_queue(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(max_pending=2, batch_size_threshold=100)
    queued = [await grinder.enqueue(abs, -i) for i in range(2)]
    results = grinder.map(double, range(5))
    first = asyncio.ensure_future(anext(results))
    await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="the map to wait")
    assert not first.done()
    queued[0].cancel()
    assert await asyncio.wait_for(first, 10) == 0
    assert [r async for r in results] == [2, 4, 6, 8]


async def test_a_full_queue_that_rejects_ends_the_map(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(max_pending=1, overflow="reject", batch_size_threshold=100)
    queued = await grinder.enqueue(abs, -1)
    with pytest.raises(GrinderOverloadedError):
        async for _ in grinder.map(double, range(5)):
            pass
    assert grinder.stats()["rejected"] == 1
    queued.cancel()


# -- misuse ------------------------------------------------------------------------------


async def test_bad_arguments_are_refused_at_the_call_naming_the_field(
    grinder: WorkGrinder,
) -> None:
    async def coro(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="callable"):
        grinder.map(42, range(3))  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="async function"):
        grinder.map(coro, range(3))
    with pytest.raises(TypeError, match="at least one iterable"):
        grinder.map(double)
    with pytest.raises(TypeError, match="argument #2"):
        grinder.map(add, range(3), 5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="ordered"):
        grinder.map(double, range(3), ordered="yes")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="return_exceptions"):
        grinder.map(double, range(3), return_exceptions=1)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="owner"):
        grinder.map(double, range(3), owner=7)  # type: ignore[call-overload]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_in_flight"):
            grinder.map(double, range(3), max_in_flight=bad)  # type: ignore[arg-type]
    with pytest.raises(WrongTypeError, match="max_in_flight"):
        grinder.map(double, range(3), max_in_flight="8")  # type: ignore[call-overload]


async def test_iterating_a_map_of_a_grinder_that_is_not_running_raises(
    manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    results = grinder.map(double, range(3))  # building it is fine
    with pytest.raises(NotStartedError):
        await anext(results)


async def test_iterating_on_another_thread_is_refused(grinder: WorkGrinder) -> None:
    results = grinder.map(double, range(3))
    errors: list[BaseException] = []

    def elsewhere() -> None:
        try:
            asyncio.run(anext(results))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(10)
    assert [type(e).__name__ for e in errors] == ["WrongLoopError"]
