"""Work: one call with its per-item options; its validation, and submit_work, enqueue_work and
submit_work_from_thread."""

from __future__ import annotations

import asyncio
import dataclasses
import types
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, NotStartedError, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import GATE_TIMEOUT
from tests.helpers import stays, wait_until


def describe(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return what the callable was called with."""
    return args, kwargs


async def test_submit_work_calls_fn_with_its_args_and_kwargs(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    work = Work(describe, args=(1, "two"), kwargs={"three": 3, "owner": "kw"}, owner="label")
    assert await asyncio.wait_for(grinder.submit_work(work), 10) == (
        (1, "two"),
        {"three": 3, "owner": "kw"},
    )


async def test_a_work_can_be_submitted_more_than_once(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=2)
    work = Work(abs, args=(-4,))
    futures = [await grinder.enqueue_work(work), await grinder.enqueue_work(work)]
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [4, 4]
    assert grinder.stats()["submitted"] == 2


async def test_kwargs_are_copied_when_the_work_is_queued(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    source = {"a": 1}
    future = await grinder.enqueue_work(Work(describe, kwargs=types.MappingProxyType(source)))
    source["b"] = 2
    clock.advance(10.0)
    assert await asyncio.wait_for(future, 10) == ((), {"a": 1})


async def test_cancelling_an_enqueue_work_future_takes_the_item_out_of_the_queue(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder()
    ran: list[int] = []
    future = await grinder.enqueue_work(Work(ran.append, args=(1,)))
    assert future.cancel()
    stats = grinder.stats()
    assert (stats["pending"], stats["cancelled"]) == (0, 1)
    await grinder.stop()
    assert ran == []


async def test_submit_work_from_thread_returns_a_thread_safe_future(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    future = await asyncio.to_thread(grinder.submit_work_from_thread, Work(abs, args=(-6,)))
    assert await asyncio.to_thread(future.result, GATE_TIMEOUT) == 6


async def test_submit_work_from_thread_applies_the_items_deadline(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    ran: list[int] = []
    work = Work(ran.append, args=(1,), deadline_seconds=2.0)
    future = await asyncio.to_thread(grinder.submit_work_from_thread, work)
    await wait_until(lambda: grinder.stats()["pending"] == 1, what="item queued")
    clock.advance(2.0)
    error = await asyncio.to_thread(future.exception, GATE_TIMEOUT)
    assert isinstance(error, TimeoutError)
    assert ran == []


async def test_submit_work_from_thread_on_the_loop_thread_raises_wrong_loop_error(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder()
    with pytest.raises(RuntimeError, match="owning event-loop thread"):
        grinder.submit_work_from_thread(Work(abs, args=(1,)))


async def test_work_methods_refuse_a_grinder_that_is_not_running(
    manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    with pytest.raises(NotStartedError):
        await grinder.enqueue_work(Work(abs, args=(1,)))
    with pytest.raises(NotStartedError):
        await grinder.submit_work(Work(abs, args=(1,)))
    with pytest.raises(NotStartedError):
        await asyncio.to_thread(grinder.submit_work_from_thread, Work(abs, args=(1,)))


@pytest.mark.parametrize("not_work", [abs, (abs, (1,)), None])
async def test_anything_but_a_work_raises_type_error(
    make_grinder: GrinderFactory, not_work: Any
) -> None:
    grinder = await make_grinder()
    with pytest.raises(TypeError, match=r"expected a gristmill\.Work"):
        await grinder.enqueue_work(not_work)
    with pytest.raises(TypeError, match=r"expected a gristmill\.Work"):
        await grinder.submit_work(not_work)
    with pytest.raises(TypeError, match=r"expected a gristmill\.Work"):
        await asyncio.to_thread(grinder.submit_work_from_thread, not_work)
    assert grinder.stats()["submitted"] == 0


async def test_a_run_timeout_on_a_thread_backend_raises_value_error(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder()
    work = Work(abs, args=(1,), run_timeout_seconds=1.0)  # valid on its own
    with pytest.raises(ValueError, match="run_timeout_seconds needs a backend"):
        await grinder.enqueue_work(work)
    with pytest.raises(ValueError, match="deadline_seconds"):  # the hint names the alternative
        await grinder.submit_work(work)
    with pytest.raises(ValueError, match="run_timeout_seconds"):
        await asyncio.to_thread(grinder.submit_work_from_thread, work)
    await stays(lambda: grinder.stats()["submitted"] == 0, what="nothing queued")


def test_a_grinder_run_timeout_on_a_thread_backend_raises_value_error(
    manager: LeasedExecutorManager,
) -> None:
    with pytest.raises(ValueError, match="run_timeout_seconds"):
        WorkGrinder(executor_manager=manager, run_timeout_seconds=5.0)


def test_work_is_immutable() -> None:
    work = Work(abs, args=(1,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        work.deadline_seconds = 1.0  # type: ignore[misc]


def test_work_defaults() -> None:
    work = Work(abs)
    assert (work.args, dict(work.kwargs), work.owner) == ((), {}, None)
    assert (work.deadline_seconds, work.run_timeout_seconds) == (None, None)


@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        ({"args": [1]}, TypeError, "Work.args must be a tuple, got list"),
        ({"args": 1}, TypeError, "Work.args"),
        ({"kwargs": [("a", 1)]}, TypeError, "Work.kwargs must be a mapping"),
        ({"kwargs": {1: "a"}}, TypeError, "with str keys"),
        ({"owner": 3}, TypeError, "Work.owner must be a str or None, got int"),
        ({"deadline_seconds": 0}, ValueError, "Work.deadline_seconds"),
        ({"deadline_seconds": -1.0}, ValueError, "Work.deadline_seconds"),
        ({"deadline_seconds": float("nan")}, ValueError, "Work.deadline_seconds"),
        ({"deadline_seconds": float("inf")}, ValueError, "Work.deadline_seconds"),
        ({"deadline_seconds": True}, ValueError, "Work.deadline_seconds"),
        ({"deadline_seconds": "one"}, TypeError, "Work.deadline_seconds"),
        ({"run_timeout_seconds": 0}, ValueError, "Work.run_timeout_seconds"),
        ({"run_timeout_seconds": float("inf")}, ValueError, "Work.run_timeout_seconds"),
        ({"run_timeout_seconds": "five"}, TypeError, "Work.run_timeout_seconds"),
    ],
)
def test_a_bad_work_field_raises_naming_the_field(
    options: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        Work(abs, **options)


def test_a_work_with_a_bad_fn_raises_type_error() -> None:
    with pytest.raises(TypeError, match="fn must be callable"):
        Work(42)  # type: ignore[arg-type]

    async def coroutine_function() -> None: ...

    with pytest.raises(TypeError, match="async function"):
        Work(coroutine_function)
