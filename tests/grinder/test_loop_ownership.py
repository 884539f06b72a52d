"""Lifecycle and loop-ownership errors: before start, from a foreign event loop, and the
``*_from_thread`` methods called on the owning loop's thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, NotStartedError, WorkGrinder, WrongLoopError
from gristmill.testing import FakeClock


def _run_on_foreign_loop(make: Callable[[], Awaitable[Any]]) -> BaseException | None:
    """Run ``make()`` on a new event loop in the calling (worker) thread; return its error."""

    async def main() -> None:
        await make()

    try:
        asyncio.run(main())
    except BaseException as exc:
        return exc
    return None


async def test_calls_before_start_raise_not_started(manager: LeasedExecutorManager) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    with pytest.raises(NotStartedError, match="start"):
        await grinder.enqueue(abs, 1)
    with pytest.raises(NotStartedError):
        await grinder.submit(abs, 1)
    with pytest.raises(NotStartedError):
        grinder.submit_from_thread(abs, 1)
    with pytest.raises(NotStartedError):
        await asyncio.to_thread(grinder.submit_from_thread, abs, 1)
    with pytest.raises(NotStartedError):
        await asyncio.to_thread(grinder.stats_from_thread)
    assert issubclass(NotStartedError, RuntimeError)


async def test_stats_and_astats_are_safe_before_start(manager: LeasedExecutorManager) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    assert (await grinder.astats())["started"] is False
    from_thread = await asyncio.to_thread(grinder.stats)
    assert from_thread == grinder.stats()
    assert await asyncio.to_thread(_run_on_foreign_loop, grinder.astats) is None


@pytest.mark.parametrize("method", ["enqueue", "submit"])
async def test_submitting_from_a_foreign_loop_raises_wrong_loop(
    grinder: WorkGrinder, method: str
) -> None:
    call = getattr(grinder, method)
    error = await asyncio.to_thread(_run_on_foreign_loop, lambda: call(abs, 1))
    assert isinstance(error, WrongLoopError)
    assert isinstance(error, RuntimeError)
    assert "submit_from_thread" in str(error)
    assert grinder.stats()["submitted"] == 0


async def test_astats_from_a_foreign_loop_raises_wrong_loop(grinder: WorkGrinder) -> None:
    error = await asyncio.to_thread(_run_on_foreign_loop, grinder.astats)
    assert isinstance(error, WrongLoopError)


async def test_stop_from_a_foreign_loop_raises_and_leaves_the_grinder_running(
    grinder: WorkGrinder,
) -> None:
    error = await asyncio.to_thread(_run_on_foreign_loop, grinder.stop)
    assert isinstance(error, WrongLoopError)
    futures = [await grinder.enqueue(abs, -i) for i in range(4)]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 2, 3]


async def test_start_on_a_second_loop_while_running_raises_wrong_loop(
    grinder: WorkGrinder,
) -> None:
    error = await asyncio.to_thread(_run_on_foreign_loop, grinder.start)
    assert isinstance(error, WrongLoopError)
    assert grinder.stats()["state"] == "running"


async def test_from_thread_methods_on_the_owning_thread_raise_wrong_loop(
    grinder: WorkGrinder,
) -> None:
    with pytest.raises(WrongLoopError, match="owning event-loop thread"):
        grinder.submit_from_thread(abs, 1)
    with pytest.raises(WrongLoopError, match="owning event-loop thread"):
        grinder.stats_from_thread()
    with pytest.raises(WrongLoopError):
        grinder.stats_from_thread(timeout=1.0)
    assert grinder.stats()["submitted"] == 0


async def test_stats_from_a_foreign_thread_while_running_raises_wrong_loop(
    grinder: WorkGrinder,
) -> None:
    with pytest.raises(WrongLoopError, match="stats_from_thread"):
        await asyncio.to_thread(grinder.stats)
    assert grinder.stats()["started"] is True


async def test_stats_from_any_thread_is_safe_after_stop(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    future = await grinder.enqueue(abs, -3)
    clock.advance(10.0)
    assert await asyncio.wait_for(future, 10) == 3
    await grinder.stop()
    stats = await asyncio.to_thread(grinder.stats)
    assert stats["state"] == "stopped"
    assert stats["completed"] == 1
    assert await asyncio.to_thread(_run_on_foreign_loop, grinder.astats) is None


async def test_stats_from_thread_after_stop_raises_not_started(grinder: WorkGrinder) -> None:
    await grinder.stop()
    with pytest.raises(NotStartedError):
        await asyncio.to_thread(grinder.stats_from_thread)
    with pytest.raises(NotStartedError):
        await asyncio.to_thread(grinder.submit_from_thread, abs, 1)
