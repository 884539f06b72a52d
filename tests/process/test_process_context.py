"""Process workers: chosen context variables and the trace context travel with each item.

A context cannot cross a process, so ``propagate_context`` ships the values of
the variables it names with each item, and the worker sets them around the
call, in a copy of its own context. With tracing on, the item's W3C trace
context travels the same way, so the job's spans are children of its item span.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider, sampling

from gristmill import LeasedExecutorManager, UnpicklableError, WorkGrinder
from tests.helpers import assert_grinder_settled
from tests.process import jobs
from tests.process.support import STOP_BOUND
from tests.spans import Spans, ids


@asynccontextmanager
async def grinding(manager: LeasedExecutorManager, **options: Any) -> AsyncIterator[WorkGrinder]:
    grinder = WorkGrinder(executor_manager=manager, **options)
    await grinder.start()
    try:
        yield grinder
    finally:
        await asyncio.wait_for(grinder.stop(), STOP_BOUND)
    assert_grinder_settled(grinder)


async def call_as(
    grinder: WorkGrinder, values: dict[str, Any], fn: Callable[..., Any], *args: Any
) -> Any:
    """Set ``values`` (``request_id``, ``tenant``) in this task's context, then submit."""
    for name, value in values.items():
        getattr(jobs, name).set(value)
    return await grinder.submit(fn, *args)


async def test_each_item_carries_its_callers_values_and_a_bad_value_fails_it_alone(
    process_manager: LeasedExecutorManager,
) -> None:
    async with grinding(
        process_manager, batch_size_threshold=5, propagate_context=[jobs.request_id]
    ) as grinder:
        outcomes = await asyncio.gather(
            call_as(grinder, {"request_id": "req-a", "tenant": "acme"}, jobs.read_context),
            call_as(grinder, {"request_id": "req-b"}, jobs.read_context),
            call_as(grinder, {}, jobs.read_context),
            call_as(grinder, {"request_id": threading.Lock()}, jobs.read_context),
            call_as(grinder, {"request_id": jobs.LoadsNowhere()}, jobs.read_context),
            return_exceptions=True,
        )
        stats = grinder.stats()
    # tenant is not propagated: the worker keeps its default.
    assert list(outcomes[:3]) == [
        ("req-a", "no tenant"),
        ("req-b", "no tenant"),
        (None, "no tenant"),
    ]
    unpicklable, unloadable = outcomes[3:]
    assert isinstance(unpicklable, UnpicklableError)
    assert "context variable tests.process.jobs.request_id (a _thread.lock)" in str(unpicklable)
    assert isinstance(unloadable, UnpicklableError)
    assert "tests.process.jobs.request_id cannot be unpickled in the worker" in str(unloadable)
    assert (stats["batches"], stats["completed"], stats["failed"]) == (1, 3, 2)


async def test_values_a_job_sets_in_a_worker_do_not_reach_the_next_job_there(
    single_worker_manager: LeasedExecutorManager,
) -> None:
    async with grinding(
        single_worker_manager, batch_size_threshold=4, propagate_context=[jobs.request_id]
    ) as grinder:
        # One batch, run in order by the only worker.
        seen = await asyncio.gather(
            call_as(grinder, {"request_id": "a"}, jobs.overwrite_request_id, "left by a"),
            call_as(grinder, {}, jobs.read_context),  # nothing set: a plain call
            call_as(grinder, {"request_id": None}, jobs.overwrite_request_id, "left by c"),
            call_as(grinder, {"request_id": "d"}, jobs.read_context),
        )
    assert list(seen) == ["a", (None, "no tenant"), None, ("d", "no tenant")]
    assert jobs.request_id.get() is None  # nor does anything come back to the caller


async def test_a_job_in_a_worker_runs_inside_its_item_span(
    process_manager: LeasedExecutorManager, spans: Spans
) -> None:
    async def traced_call(name: str, fn: Callable[..., Any]) -> tuple[Any, int]:
        with spans.tracer.start_as_current_span(name) as caller:
            jobs.request_id.set(name)
            return await grinder.submit(fn), caller.get_span_context().span_id

    async with grinding(
        process_manager,
        batch_size_threshold=3,
        propagate_context=[jobs.request_id],
        tracing=spans.provider,
    ) as grinder:
        (seen, first), (opened, second), (values, _) = await asyncio.gather(
            traced_call("first request", jobs.current_span_ids),
            traced_call("second request", jobs.open_a_span),
            traced_call("third request", jobs.read_context),
        )
    items = {span.parent.span_id: span for span in spans.named("gristmill.item") if span.parent}
    assert seen == ids(items[first])  # the worker's current span is the item's
    assert opened == ids(items[second])  # a span opened there is its child
    assert values == ("third request", "no tenant")  # trace and values travel together
    attributes = dict(spans.one("gristmill.batch").attributes or {})
    assert 1 <= attributes.pop("gristmill.batch.chunks") <= 3  # type: ignore[operator]
    assert attributes == {
        "gristmill.batch.id": "work-grinder-1",
        "gristmill.lease.owner": "work-grinder-1",
        "gristmill.batch.size": 3,
        "gristmill.pool": "gristmill-process-1",
        "gristmill.batch.requeued": 0,
    }


async def test_a_sampled_out_item_still_carries_its_callers_trace_to_the_worker(
    process_manager: LeasedExecutorManager, spans: Spans
) -> None:
    dropping = TracerProvider(sampler=sampling.ALWAYS_OFF)
    async with grinding(process_manager, batch_size_threshold=1, tracing=dropping) as grinder:
        with spans.tracer.start_as_current_span("request") as request:
            seen = await grinder.submit(jobs.current_span_ids)
    context = request.get_span_context()
    assert seen == (context.trace_id, context.span_id)


@pytest.mark.parametrize("tracing", [False, True])
async def test_without_anything_to_carry_items_travel_as_plain_calls(
    process_manager: LeasedExecutorManager, tracing: bool
) -> None:
    """No propagation and no trace to ship: the values stay home, the jobs still run."""
    async with grinding(process_manager, batch_size_threshold=1, tracing=tracing) as grinder:
        assert await call_as(grinder, {"request_id": "stays home"}, jobs.read_context) == (
            None,
            "no tenant",
        )
