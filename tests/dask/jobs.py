"""Top-level jobs the dask workers import by name (they must not import pytest)."""

from __future__ import annotations

import os
from contextvars import ContextVar

from distributed import Event, get_worker

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""Propagated to the workers by the context test."""


def worker_address() -> str:
    """Return the address of the dask worker this runs on."""
    return str(get_worker().address)


def scheduler_address() -> str:
    """Return the address of the scheduler of the worker this runs on."""
    return str(get_worker().scheduler.address)


def fail_with_key_error(key: str) -> None:
    """Raise ``KeyError(key)``."""
    raise KeyError(key)


def exit_worker() -> None:
    """End the worker process at once, as a crash would."""
    os._exit(1)


def block(started: str, release: str) -> str:
    """Set the cluster event ``started``, wait (up to 30 s) for ``release``; return the worker."""
    Event(started).set()
    Event(release).wait(timeout=30)
    return worker_address()


def request_and_span() -> tuple[str | None, tuple[int, int]]:
    """The worker's ``request_id`` and the trace and span ids of its current span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return request_id.get(), (context.trace_id, context.span_id)
