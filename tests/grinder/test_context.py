"""Thread backend: every job runs in a copy of its caller's ``contextvars`` context.

As with ``asyncio.to_thread``: the job sees the values its caller had when it
queued the job, and what the job sets reaches neither its caller nor any other
job, even one that runs next on the same worker thread.
"""

from __future__ import annotations

import asyncio
import decimal
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextvars import Context, ContextVar, copy_context
from decimal import Decimal
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.helpers import assert_grinder_settled, assert_manager_empty, make_manager, wait_until

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def read_request_id() -> str | None:
    return request_id.get()


def overwrite_request_id(value: str) -> str | None:
    """Return what the job saw, then set the variable to ``value``."""
    seen = request_id.get()
    request_id.set(value)
    return seen


def one_third() -> Decimal:
    return Decimal(1) / Decimal(3)


@pytest.fixture
async def one_thread(clock: FakeClock) -> AsyncIterator[WorkGrinder]:
    """A grinder on one pool of one thread: a batch's jobs run one after another there."""
    manager = make_manager(clock, max_pools=1, workers_per_pool=1)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=3)
    await grinder.start()
    yield grinder
    await grinder.stop()
    await manager.stop()
    assert_grinder_settled(grinder)
    assert_manager_empty(manager)


async def test_each_job_sees_the_value_its_caller_had_when_it_queued_it(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=4)

    async def caller(number: int) -> str | None:
        request_id.set(f"request-{number}")
        future = await grinder.enqueue(read_request_id)
        request_id.set("changed after enqueue")  # too late: the job has its copy
        return await future

    seen = await asyncio.gather(*(caller(number) for number in range(4)))
    assert seen == ["request-0", "request-1", "request-2", "request-3"]


async def test_a_job_without_a_value_sees_the_default(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    assert await grinder.submit(read_request_id) is None


async def test_what_a_job_sets_does_not_reach_its_caller(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    request_id.set("caller's")
    assert await grinder.submit(overwrite_request_id, "job's") == "caller's"
    assert request_id.get() == "caller's"


async def test_what_a_job_sets_does_not_reach_the_next_job_on_its_thread(
    one_thread: WorkGrinder,
) -> None:
    async def caller(value: str | None, job: Callable[..., Any], *args: Any) -> Any:
        request_id.set(value)
        return await one_thread.submit(job, *args)

    # One batch of three, run in order on the only thread.
    seen = await asyncio.gather(
        caller("first", overwrite_request_id, "left by the first job"),
        caller(None, overwrite_request_id, "left by the second job"),
        caller("third", read_request_id),
    )
    assert list(seen) == ["first", None, "third"]


async def test_jobs_from_callers_with_empty_contexts_do_not_share_one(
    one_thread: WorkGrinder,
) -> None:
    """A caller whose context is empty leaves no snapshot; its job still runs in its own."""

    async def empty_caller(job: Callable[..., Any], *args: Any) -> Any:
        assert len(copy_context()) == 0
        return await one_thread.submit(job, *args)

    def in_an_empty_context(job: Callable[..., Any], *args: Any) -> asyncio.Task[Any]:
        return asyncio.create_task(empty_caller(job, *args), context=Context())

    seen = await asyncio.gather(
        in_an_empty_context(overwrite_request_id, "left by the first job"),
        in_an_empty_context(overwrite_request_id, "left by the second job"),
        in_an_empty_context(read_request_id),
    )
    assert list(seen) == [None, None, None]


async def test_submit_work_runs_in_the_callers_context(make_grinder: GrinderFactory) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    request_id.set("work")
    assert await grinder.submit_work(Work(read_request_id, owner="ctx")) == "work"


async def test_a_decimal_context_reaches_the_job_as_with_to_thread(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    with decimal.localcontext() as context:
        context.prec = 5
        assert await grinder.submit(one_third) == Decimal("0.33333")
    assert await grinder.submit(one_third) == Decimal(1) / Decimal(3)


def submit_in_a_thread(grinder: WorkGrinder, value: str) -> Future[str | None]:
    """From a new OS thread whose own context holds ``value``, submit a read of it."""
    submitted: list[Future[str | None]] = []

    def run() -> None:
        request_id.set(value)
        submitted.append(grinder.submit_from_thread(read_request_id))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return submitted[0]


async def test_submit_from_thread_runs_the_job_in_the_calling_threads_context(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=1)
    request_id.set("the loop's")
    future = submit_in_a_thread(grinder, "the thread's")
    assert await asyncio.wrap_future(future) == "the thread's"


async def test_submit_from_thread_keeps_the_threads_context_while_it_waits_for_room(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    grinder = WorkGrinder(
        executor_manager=manager, batch_size_threshold=2, max_wait_seconds=10.0, max_pending=1
    )
    await grinder.start()
    try:
        request_id.set("the loop's")
        first = await grinder.enqueue(read_request_id)  # fills the queue
        waiting = submit_in_a_thread(grinder, "the thread's")
        await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="a room waiter")
        clock.advance(10.0)  # the first batch is due; its room goes to the thread's job
        assert await first == "the loop's"
        await wait_until(lambda: grinder.stats()["pending"] == 1, what="the thread's job queued")
        clock.advance(10.0)
        assert await asyncio.wrap_future(waiting) == "the thread's"
    finally:
        await grinder.stop()
    assert_grinder_settled(grinder)
