"""OpenTelemetry spans for a grinder: one per item, one per batch, and the trip into workers.

Optional twice over: ``import gristmill`` never imports OpenTelemetry, and a
grinder built without ``tracing`` has no :class:`Tracing` at all, so nothing
here runs per item. With ``tracing`` on::

    caller's span (a request)
    └── gristmill.item ─ queued in put() ─ dispatched in batch B ─ settled (outcome)
            └── spans the job opens: on threads it runs in the job's context, where the
                item span is current; in a worker process the item's W3C trace context,
                shipped with it (``Carried``), is made current around the call

    gristmill.batch B  (a root span) ── links ──► the caller span of each of its items

Tracing never fails a job or the grinder: whatever OpenTelemetry (or a hostile
exception's ``__str__``) raises here is logged at DEBUG and dropped. Owning
loop only, except :func:`attach_carrier`, which runs in workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextvars import Context

    from opentelemetry.trace import Span, SpanContext, TracerProvider

    from ._job import Job
    from .hooks import ItemOutcome

__all__ = [
    "BATCH_SPAN",
    "ITEM_SPAN",
    "ItemTrace",
    "Tracing",
    "attach_carrier",
    "tracing_for",
]

ITEM_SPAN = "gristmill.item"
BATCH_SPAN = "gristmill.batch"

FUNCTION = "code.function.name"
ITEM_OWNER = "gristmill.item.owner"
QUEUE_WAIT = "gristmill.item.queue_wait_seconds"
OUTCOME = "gristmill.item.outcome"
BATCH_ID = "gristmill.batch.id"
BATCH_SIZE = "gristmill.batch.size"
LEASE_OWNER = "gristmill.lease.owner"
POOL = "gristmill.pool"
CHUNKS = "gristmill.batch.chunks"
REQUEUED = "gristmill.batch.requeued"

_FAILURES = frozenset({"failed", "timed_out"})

logger = logging.getLogger(__name__)


def tracing_for(option: object, grinder_logger: logging.Logger) -> Tracing | None:
    """Turn the grinder's ``tracing`` argument into a :class:`Tracing`, or None for off.

    ``True`` traces through OpenTelemetry's global tracer provider (a provider
    set later is used from then on); a ``TracerProvider`` traces through that
    one. ``True`` without OpenTelemetry installed logs a warning and traces
    nothing, so code written for tracing still runs where it is absent.

    Raises:
        TypeError: ``option`` is neither a bool nor a ``TracerProvider``.
    """
    if option is False:
        return None
    try:
        from opentelemetry.trace import TracerProvider
    except ImportError:
        if option is True:
            grinder_logger.warning(
                "tracing=True, but OpenTelemetry is not installed (pip install "
                "'gristmill[otel]'); this grinder records no spans"
            )
            return None
    else:
        if option is True:
            return Tracing(None)
        if isinstance(option, TracerProvider):
            return Tracing(option)
    raise TypeError(
        "tracing must be a bool or an opentelemetry.trace.TracerProvider, got "
        f"{type(option).__name__}"
    )


class ItemTrace:
    """What tracing keeps on a job: its item span, its caller's span, the batch that took it.

    The batch id is written to the span with the other attributes when the
    span ends, in one call.
    """

    __slots__ = ("batch", "caller", "span")

    def __init__(self, span: Span, caller: SpanContext | None) -> None:
        self.span = span
        self.caller = caller
        self.batch: str | None = None


class Tracing:
    """Opens and ends a grinder's item and batch spans. Owning loop only; never raises.

    Args:
        provider: Where spans go; ``None`` for OpenTelemetry's global provider.
    """

    def __init__(self, provider: TracerProvider | None) -> None:
        from opentelemetry import context, propagate, trace

        from . import __version__

        self._api = trace
        self._context = context
        self._inject: Callable[[dict[str, str]], None] = propagate.inject
        self._tracer = trace.get_tracer("gristmill", __version__, tracer_provider=provider)
        self._batches: dict[str, Span] = {}

    def item_queued(self, job: Job, context: Context) -> None:
        """Open ``job``'s item span, a child of its caller's span, and make it current there.

        ``context`` is the copy of the caller's context the job keeps. The span
        opens inside it, so its parent is whatever span the caller had open,
        and spans the job opens on a thread become children of the item span.
        """
        job.context = context
        job.trace = None
        try:
            context.run(self._open_item, job)
        except Exception:
            _dropped("open an item span")

    def _open_item(self, job: Job) -> None:
        caller = self._api.get_current_span().get_span_context()
        attributes: dict[str, str] = {FUNCTION: _function_name(job.fn)}
        if job.owner is not None:
            attributes[ITEM_OWNER] = job.owner
        span = self._tracer.start_span(ITEM_SPAN, attributes=attributes)
        if not span.is_recording():  # no SDK, or sampled out: the job keeps its caller's span
            return
        self._context.attach(self._api.set_span_in_context(span))
        job.trace = ItemTrace(span, caller if caller.is_valid else None)

    def batch_started(self, batch_id: str, pool: str | None, jobs: Sequence[Job]) -> None:
        """Open the batch's span, linked to its items' callers, and tag each item with it."""
        try:
            from opentelemetry.trace import Link

            callers = {  # many items may share a caller; a SpanContext is not hashable
                (caller.trace_id, caller.span_id): caller
                for job in jobs
                if (item := job.trace) is not None and (caller := item.caller) is not None
            }
            attributes: dict[str, str | int] = {
                BATCH_ID: batch_id,
                BATCH_SIZE: len(jobs),
                LEASE_OWNER: batch_id,
            }
            if pool is not None:
                attributes[POOL] = pool
            self._batches[batch_id] = self._tracer.start_span(
                BATCH_SPAN,
                context=self._context.Context(),  # a root: it serves many traces
                links=[Link(caller) for caller in callers.values()],
                attributes=attributes,
            )
            for job in jobs:
                if job.trace is not None:
                    job.trace.batch = batch_id
        except Exception:
            _dropped("open a batch span")

    def batch_ended(self, batch_id: str, *, chunks: int, requeued: int) -> None:
        """End the batch's span: it ran as ``chunks`` chunks and handed ``requeued`` items back."""
        span = self._batches.pop(batch_id, None)
        if span is None:
            return
        try:
            span.set_attribute(CHUNKS, chunks)
            span.set_attribute(REQUEUED, requeued)
        except Exception:
            _dropped("finish a batch span")
        _end(span)

    def item_done(
        self, job: Job, outcome: ItemOutcome, waited: float, error: BaseException | None
    ) -> None:
        """End ``job``'s item span with its outcome, queue wait and, if it failed, its error."""
        item = job.trace
        if item is None:
            return
        job.trace = None
        span = item.span
        try:
            attributes: dict[str, str | float] = {QUEUE_WAIT: waited, OUTCOME: outcome}
            if item.batch is not None:
                attributes[BATCH_ID] = item.batch
            span.set_attributes(attributes)
            if outcome in _FAILURES:
                from opentelemetry.trace import Status, StatusCode

                reason = outcome if error is None else type(error).__name__
                span.set_status(Status(StatusCode.ERROR, reason))
                if error is not None:
                    span.record_exception(error)
        except Exception:
            _dropped("finish an item span")
        _end(span)

    def carrier(self, job: Job) -> dict[str, str] | None:
        """The W3C trace context that makes ``job``'s item span the parent in a worker.

        For an item whose span is not recorded, it carries the caller's span,
        so that a sampling decision made upstream holds in the worker too.
        """
        context = job.context
        if context is None:
            return None
        carrier: dict[str, str] = {}
        try:
            context.run(self._inject, carrier)  # the item span, and the caller's baggage
        except Exception:
            _dropped("inject the trace context")
            return None
        return carrier or None


def attach_carrier(carrier: dict[str, str]) -> None:
    """Worker side: make the shipped trace context current in the running job's context.

    A worker without OpenTelemetry skips it: its job can open no spans either.
    """
    try:
        from opentelemetry import context, propagate

        context.attach(propagate.extract(carrier))
    except Exception:
        _dropped("attach the trace context in a worker")


def _function_name(fn: Any) -> str:
    """``module.qualname`` of the job's callable, never raising for a hostile object."""
    try:
        name = getattr(fn, "__qualname__", None)
        module = getattr(fn, "__module__", None)
    except Exception:
        name = module = None
    if not isinstance(name, str):
        return type(fn).__qualname__
    return f"{module}.{name}" if isinstance(module, str) else name


def _end(span: Span) -> None:
    try:
        span.end()
    except Exception:
        _dropped("end a span")


def _dropped(what: str) -> None:
    logger.debug("tracing could not %s; the work is unaffected", what, exc_info=True)
