"""OpenTelemetry spans on the thread backend, with the real SDK and an in-memory exporter.

Each item gets a span, a child of its caller's span, that lasts from enqueue to
settlement; the job runs inside it, so the job's own spans are its children.
Each batch gets a root span linked to its items' callers. With tracing off, or
without OpenTelemetry, nothing is recorded; a broken tracer never breaks work.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from concurrent.futures import Future
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider, sampling
from opentelemetry.trace import StatusCode

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.spans import Spans, ids

ITEM, BATCH = "gristmill.item", "gristmill.batch"


def double(x: int) -> int:
    return 2 * x


def reject(x: int) -> int:
    raise ValueError(f"rejected {x}")


def open_a_span(tracer: trace.Tracer) -> int:
    """Open a span inside the job and return its parent's span id."""
    with tracer.start_as_current_span("inside the job") as span:
        return span.parent.span_id  # type: ignore[attr-defined, no-any-return]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def raise_unprintable() -> None:
    raise Unprintable()


class Faceless:
    """A callable whose name cannot be read: looking up ``__qualname__`` raises."""

    def __call__(self) -> str:
        return "still ran"

    def __getattr__(self, name: str) -> Any:
        if name == "__qualname__":
            raise RuntimeError("no name here")
        raise AttributeError(name)


class BrokenProvider(TracerProvider):
    """A provider whose tracer fails to start any span."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        tracer = super().get_tracer(*args, **kwargs)

        def start_span(*args: Any, **kwargs: Any) -> trace.Span:
            raise RuntimeError("tracer broke")

        tracer.start_span = start_span  # type: ignore[method-assign]
        return tracer


def span_id(span: ReadableSpan) -> int:
    return ids(span)[1]


async def test_an_item_span_is_the_child_of_its_callers_span_and_the_parent_of_the_jobs(
    make_grinder: GrinderFactory, spans: Spans
) -> None:
    grinder = await make_grinder(batch_size_threshold=1, tracing=spans.provider)
    with spans.tracer.start_as_current_span("request") as request:
        parent_seen_by_the_job = await grinder.submit(open_a_span, spans.tracer)
    item = spans.one(ITEM)
    assert item.parent is not None
    assert item.parent.span_id == request.get_span_context().span_id
    assert item.context.trace_id == request.get_span_context().trace_id
    assert parent_seen_by_the_job == span_id(item)
    assert spans.one("inside the job").parent.span_id == span_id(item)  # type: ignore[union-attr]


async def test_submit_from_thread_makes_the_threads_span_the_items_parent(
    make_grinder: GrinderFactory, spans: Spans
) -> None:
    grinder = await make_grinder(batch_size_threshold=1, tracing=spans.provider)
    submitted: list[Future[int]] = []

    def in_a_thread() -> None:
        with spans.tracer.start_as_current_span("thread work"):
            submitted.append(grinder.submit_from_thread(double, 5))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(10)
    assert await asyncio.wrap_future(submitted[0]) == 10
    item = spans.one(ITEM)
    assert item.parent is not None
    assert item.parent.span_id == span_id(spans.one("thread work"))


async def test_an_item_span_tells_its_function_owner_batch_wait_and_outcome(
    make_grinder: GrinderFactory, spans: Spans, clock: FakeClock
) -> None:
    grinder = await make_grinder(tracing=spans.provider)  # threshold 4, max wait 10 s
    future = await grinder.enqueue_work(Work(double, args=(21,), owner="checkout"))
    clock.advance(10.0)  # the lone item waits its max wait, then its batch runs
    assert await future == 42
    item = spans.one(ITEM)
    assert item.attributes == {
        "code.function.name": f"{__name__}.double",
        "gristmill.item.owner": "checkout",
        "gristmill.batch.id": "work-grinder-1",
        "gristmill.item.queue_wait_seconds": 10.0,
        "gristmill.item.outcome": "completed",
    }
    assert item.status.status_code is StatusCode.UNSET


async def test_a_failed_item_span_records_the_error(
    make_grinder: GrinderFactory, spans: Spans
) -> None:
    grinder = await make_grinder(batch_size_threshold=1, tracing=spans.provider)
    with pytest.raises(ValueError, match="rejected 3"):
        await grinder.submit(reject, 3)
    item = spans.one(ITEM)
    assert item.attributes is not None
    assert item.attributes["gristmill.item.outcome"] == "failed"
    assert (item.status.status_code, item.status.description) == (StatusCode.ERROR, "ValueError")
    (event,) = item.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "rejected 3"


async def test_items_that_leave_the_queue_end_their_spans_with_their_outcome(
    make_grinder: GrinderFactory, spans: Spans, clock: FakeClock
) -> None:
    grinder = await make_grinder(tracing=spans.provider)  # threshold 4, max wait 10 s
    cancelled = await grinder.enqueue(double, 1)
    expiring = await grinder.enqueue_work(Work(double, args=(2,), deadline_seconds=3.0))
    clock.advance(1.0)
    cancelled.cancel()
    clock.advance(2.0)
    with pytest.raises(TimeoutError):
        await expiring
    outcomes = {
        span.attributes["gristmill.item.outcome"]: span
        for span in spans.named(ITEM)
        if span.attributes is not None
    }
    assert set(outcomes) == {"cancelled", "timed_out"}
    assert outcomes["cancelled"].attributes == {
        "code.function.name": f"{__name__}.double",
        "gristmill.item.queue_wait_seconds": 1.0,
        "gristmill.item.outcome": "cancelled",
    }
    assert outcomes["cancelled"].status.status_code is StatusCode.UNSET
    timed_out = outcomes["timed_out"]
    assert timed_out.attributes is not None
    assert timed_out.attributes["gristmill.item.queue_wait_seconds"] == 3.0
    assert (timed_out.status.status_code, timed_out.status.description) == (
        StatusCode.ERROR,
        "timed_out",
    )
    assert spans.named(BATCH) == []  # no batch ever ran


async def test_a_batch_span_is_a_root_linked_once_to_each_caller(
    make_grinder: GrinderFactory, spans: Spans
) -> None:
    grinder = await make_grinder(batch_size_threshold=4, tracing=spans.provider)

    async def caller(name: str, count: int) -> list[int]:
        with spans.tracer.start_as_current_span(name):
            futures = [await grinder.enqueue(double, n) for n in range(count)]
        return list(await asyncio.gather(*futures))

    async def anonymous() -> int:
        return await grinder.submit(double, 5)  # no span of its caller: nothing to link

    results = await asyncio.gather(caller("one", 2), caller("two", 1), anonymous())
    assert list(results) == [[0, 2], [0], 10]
    await grinder.stop()  # the batch span ends once its task has given the lease back
    batch = spans.one(BATCH)
    assert batch.parent is None
    callers = {span_id(spans.one("one")), span_id(spans.one("two"))}
    assert {link.context.span_id for link in batch.links} == callers
    assert len(batch.links) == 2
    assert batch.attributes is not None
    assert batch.attributes["gristmill.batch.id"] == "work-grinder-1"
    assert batch.attributes["gristmill.lease.owner"] == "work-grinder-1"
    assert batch.attributes["gristmill.batch.size"] == 4
    assert str(batch.attributes["gristmill.pool"]).startswith("gristmill-thread-")
    assert batch.attributes["gristmill.batch.chunks"] >= 1  # type: ignore[operator]
    assert batch.attributes["gristmill.batch.requeued"] == 0
    items = spans.named(ITEM)
    assert len(items) == 4
    assert {item.attributes["gristmill.batch.id"] for item in items if item.attributes} == {
        "work-grinder-1"
    }


async def test_without_a_caller_span_the_item_span_is_a_root(
    make_grinder: GrinderFactory, spans: Spans
) -> None:
    grinder = await make_grinder(batch_size_threshold=1, tracing=spans.provider)
    assert await grinder.submit(double, 4) == 8
    await grinder.stop()
    assert spans.one(ITEM).parent is None
    assert spans.one(BATCH).links == ()


async def test_an_item_span_that_is_sampled_out_leaves_the_job_in_its_callers_span(
    make_grinder: GrinderFactory, spans: Spans
) -> None:
    grinder = await make_grinder(
        batch_size_threshold=1, tracing=TracerProvider(sampler=sampling.ALWAYS_OFF)
    )
    with spans.tracer.start_as_current_span("request") as request:
        parent_seen_by_the_job = await grinder.submit(open_a_span, spans.tracer)
    assert parent_seen_by_the_job == request.get_span_context().span_id
    assert [span.name for span in spans.finished()] == ["inside the job", "request"]


async def test_hostile_errors_and_callables_are_traced_without_breaking_anything(
    make_grinder: GrinderFactory, spans: Spans
) -> None:
    grinder = await make_grinder(batch_size_threshold=2, tracing=spans.provider)
    failed, faceless = await asyncio.gather(
        grinder.submit(raise_unprintable), grinder.submit(Faceless()), return_exceptions=True
    )
    assert isinstance(failed, Unprintable)
    assert faceless == "still ran"
    names = {
        str(item.attributes["code.function.name"]) for item in spans.named(ITEM) if item.attributes
    }
    assert names == {f"{__name__}.raise_unprintable", "Faceless"}
    assert list(await asyncio.gather(grinder.submit(double, 1), grinder.submit(double, 2))) == [
        2,
        4,
    ]
    await grinder.stop()
    assert len(spans.named(BATCH)) == 2  # and it kept tracing


async def test_a_broken_tracer_never_fails_a_job(
    make_grinder: GrinderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gristmill._tracing")
    grinder = await make_grinder(batch_size_threshold=2, tracing=BrokenProvider())
    doubled = await asyncio.gather(grinder.submit(double, 1), grinder.submit(double, 2))
    assert list(doubled) == [2, 4]
    assert "tracing could not open an item span" in caplog.text


@pytest.mark.parametrize("tracing", [1, "yes", object()])
def test_tracing_must_be_a_bool_or_a_tracer_provider(
    manager: LeasedExecutorManager, tracing: object
) -> None:
    with pytest.raises(TypeError, match="tracing must be a bool or an opentelemetry"):
        WorkGrinder(executor_manager=manager, tracing=tracing)  # type: ignore[arg-type]


# -- the global provider, tracing off, OpenTelemetry missing ---------------------------------


@pytest.fixture(scope="module")
def global_spans() -> Spans:
    """The process-wide tracer provider, set once: what ``tracing=True`` records into."""
    recorder = Spans()
    trace.set_tracer_provider(recorder.provider)
    assert trace.get_tracer_provider() is recorder.provider, "another test set the provider"
    return recorder


async def test_tracing_true_uses_the_global_tracer_provider(
    make_grinder: GrinderFactory, global_spans: Spans
) -> None:
    global_spans.exporter.clear()
    grinder = await make_grinder(batch_size_threshold=1, tracing=True)
    with global_spans.tracer.start_as_current_span("request") as request:
        assert await grinder.submit(double, 2) == 4
    item = global_spans.one(ITEM)
    assert item.parent is not None
    assert item.parent.span_id == request.get_span_context().span_id


async def test_with_tracing_off_no_span_is_recorded(
    make_grinder: GrinderFactory, global_spans: Spans
) -> None:
    global_spans.exporter.clear()
    grinder = await make_grinder(batch_size_threshold=1)
    with global_spans.tracer.start_as_current_span("request"):
        assert await grinder.submit(double, 2) == 4
    assert [span.name for span in global_spans.finished()] == ["request"]


async def test_tracing_without_opentelemetry_installed_warns_and_records_nothing(
    manager: LeasedExecutorManager,
    global_spans: Spans,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    global_spans.exporter.clear()
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)  # import now fails
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1, tracing=True)
    assert "OpenTelemetry is not installed" in caplog.text
    monkeypatch.undo()
    await grinder.start()
    try:
        assert await grinder.submit(double, 3) == 6
    finally:
        await grinder.stop()
    assert global_spans.finished() == ()
