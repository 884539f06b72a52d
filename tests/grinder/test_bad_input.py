"""Bad input fails fast and poisons nothing: what a grinder cannot run raises TypeError, with a
hint, at enqueue, submit and submit_from_thread; a sync call that returns a coroutine fails its
own item, and the coroutine is closed rather than left to warn."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest

from gristmill import WorkGrinder
from tests.grinder.conftest import GrinderFactory


async def coroutine_function(x: int = 0) -> int:
    return x


async def async_generator_function() -> AsyncIterator[int]:
    yield 1


class AsyncCallable:
    async def __call__(self, x: int = 0) -> int:
        return x


class AsyncMethods:
    async def method(self) -> None: ...


def plain_generator() -> Iterator[int]:
    yield 1


class AsyncGeneratorCallable:
    async def __call__(self) -> AsyncIterator[int]:
        yield 1


ASYNC_CALLABLES: dict[str, Callable[[], object]] = {
    "async def": lambda: coroutine_function,
    "async partial": lambda: functools.partial(coroutine_function, 1),
    "nested async partial": lambda: functools.partial(functools.partial(coroutine_function), 1),
    "async __call__": AsyncCallable,
    "partial of an async __call__": lambda: functools.partial(AsyncCallable(), 1),
    "async generator __call__": AsyncGeneratorCallable,
    "async generator function": lambda: async_generator_function,
    "bound async method": lambda: AsyncMethods().method,
    "nested async def": lambda: _nested_async(),
}


def _nested_async() -> Callable[[], Coroutine[Any, Any, None]]:
    async def nested() -> None: ...

    return nested


async def enqueue_three_ways(grinder: WorkGrinder, fn: Any) -> list[TypeError]:
    """Hand ``fn`` to enqueue, submit and submit_from_thread; return the three TypeErrors.

    Should ``fn`` get through, its job is cancelled at once, so the failure
    report is not followed by a job nobody awaits.
    """
    errors: list[TypeError] = []
    with pytest.raises(TypeError) as raised:
        (await grinder.enqueue(fn)).cancel()
    errors.append(raised.value)
    with pytest.raises(TypeError) as raised:
        await asyncio.wait_for(grinder.submit(fn), 10)
    errors.append(raised.value)
    with pytest.raises(TypeError) as raised:
        (await asyncio.to_thread(grinder.submit_from_thread, fn)).cancel()
    errors.append(raised.value)
    return errors


async def assert_still_works(grinder: WorkGrinder) -> None:
    await assert_still_works_after(grinder, submitted=0)


async def assert_still_works_after(grinder: WorkGrinder, *, submitted: int) -> None:
    """Four more items run; every item so far, ``submitted`` before these, completed."""
    futures = [await grinder.enqueue(abs, -i) for i in range(4)]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 2, 3]
    stats = grinder.stats()
    total = submitted + 4
    assert (stats["submitted"], stats["completed"], stats["failed"]) == (total, total, 0)


@pytest.mark.parametrize("kind", sorted(ASYNC_CALLABLES))
async def test_an_async_callable_raises_type_error_at_enqueue(
    make_grinder: GrinderFactory, kind: str
) -> None:
    grinder = await make_grinder()
    for error in await enqueue_three_ways(grinder, ASYNC_CALLABLES[kind]()):
        assert "is an async function" in str(error)
        assert not str(error).startswith("partial ")  # names what the partial wraps
        assert "submit a plain (def) function" in str(error)
    await assert_still_works(grinder)


@pytest.mark.parametrize("value", [42, "abs", None, [abs]])
async def test_a_non_callable_raises_type_error_naming_its_type(
    make_grinder: GrinderFactory, value: object
) -> None:
    grinder = await make_grinder()
    for error in await enqueue_three_ways(grinder, value):
        assert str(error) == f"fn must be callable, got {type(value).__name__}"
    await assert_still_works(grinder)


async def test_a_coroutine_object_gets_a_hint_to_pass_the_function_itself(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder()
    coroutine = coroutine_function(1)
    try:
        for error in await enqueue_three_ways(grinder, coroutine):
            assert "fn must be callable, got coroutine" in str(error)
            assert "pass the function itself, not a call to it" in str(error)
    finally:
        coroutine.close()
    await assert_still_works(grinder)


async def test_a_generator_object_gets_the_same_hint(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder()
    for error in await enqueue_three_ways(grinder, plain_generator()):
        assert "not a call to it" in str(error)
    await assert_still_works(grinder)


async def test_a_sync_callable_object_and_a_sync_partial_are_accepted(
    make_grinder: GrinderFactory,
) -> None:
    class Doubler:
        def __call__(self, x: int) -> int:
            return 2 * x

    grinder = await make_grinder(batch_size_threshold=2)
    futures = [
        await grinder.enqueue(Doubler(), 3),
        await grinder.enqueue(functools.partial(pow, 2), 5),
    ]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [6, 32]


async def test_a_sync_function_that_returns_a_coroutine_fails_its_own_item_and_closes_it(
    make_grinder: GrinderFactory,
) -> None:
    made: list[Coroutine[Any, Any, int]] = []

    def returns_a_coroutine() -> Coroutine[Any, Any, int]:
        coroutine = coroutine_function(5)
        made.append(coroutine)
        return coroutine

    grinder = await make_grinder(batch_size_threshold=3)
    futures = [
        await grinder.enqueue(abs, -1),
        await grinder.enqueue(returns_a_coroutine),
        await grinder.enqueue(abs, -3),
    ]
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
    assert outcomes[0] == 1
    assert outcomes[2] == 3
    error = outcomes[1]
    assert isinstance(error, TypeError)
    assert "returned a coroutine" in str(error)
    assert "Await async code on the event loop instead" in str(error)
    # Closed in the worker: it can never warn "coroutine ... was never awaited".
    assert inspect.getcoroutinestate(made[0]) == inspect.CORO_CLOSED
    stats = grinder.stats()
    assert (stats["completed"], stats["failed"]) == (2, 1)


@dataclasses.dataclass
class Adder:
    """A callable ``@dataclass``: ``eq=True`` leaves it unhashable."""

    n: int

    def __call__(self, x: int) -> int:
        return x + self.n


async def test_an_unhashable_callable_runs_beside_other_items_and_the_grinder_keeps_running(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=4)
    futures = [
        await grinder.enqueue(Adder(1), 1),
        await grinder.enqueue(abs, -2),
        await grinder.enqueue(Adder(10), 3),
        await grinder.enqueue(abs, -4),
    ]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [2, 2, 13, 4]
    assert grinder.stats()["state"] == "running"
    # The next batch is sized from what the first taught, still without hashing the callable.
    futures = [await grinder.enqueue(Adder(i), i) for i in range(4)]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 2, 4, 6]
    await assert_still_works_after(grinder, submitted=8)


class Introverted:
    """A callable whose every missing attribute (``__code__``, ``__qualname__``, ...) raises."""

    def __init__(self, n: int, error: type[BaseException]) -> None:
        self.n = n
        self.error = error

    def __getattr__(self, name: str) -> Any:
        raise self.error(name)

    def __call__(self, x: int) -> int:
        return x + self.n


async def test_a_callable_whose_introspection_raises_is_queued_and_runs(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=3)
    futures = [
        await grinder.enqueue(Introverted(1, RuntimeError), 1),
        await grinder.enqueue(functools.partial(Introverted(2, KeyboardInterrupt), 2)),
    ]
    from_thread = await asyncio.to_thread(grinder.submit_from_thread, Introverted(3, SystemExit), 3)
    futures.append(asyncio.wrap_future(from_thread))
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [2, 4, 6]
    assert grinder.stats()["state"] == "running"
