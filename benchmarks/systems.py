"""The asynchronous systems under comparison, behind one small interface.

``gristmill`` and ``leasepool`` are driven through the same code: the module
is imported by name and only its public ``LeasedExecutorManager`` /
``WorkGrinder`` API is used. ``to_thread`` runs each item with
``asyncio.to_thread`` (default executor); ``run_in_executor`` submits each item
to a ``ProcessPoolExecutor`` with the scenario's worker count.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from benchmarks.scenarios import Scenario

Job = Callable[[int], int]
Enqueue = Callable[[Job, int], Awaitable[asyncio.Future[int]]]

LEASE_SECONDS = 60.0

request_id: ContextVar[str] = ContextVar("request_id")
"""Set in the enqueuing task when ``GRISTMILL_BENCH_CONTEXT=set``, so its context is not empty."""


def _no_extras() -> dict[str, float]:
    return {}


@dataclass
class Harness:
    """A started system: how to enqueue one item and how to read its stats.

    ``enqueue(job, arg)`` returns a future for the item's result.
    ``extras()`` returns numeric library statistics worth recording
    (``pools_created``, ``pending``). ``cancel_all`` stops the system and
    cancels everything still queued (grinders only).
    """

    enqueue: Enqueue
    extras: Callable[[], dict[str, float]] = field(default=_no_extras)
    cancel_all: Callable[[], Awaitable[None]] | None = None


def _grinder_extras(manager: Any, grinder: Any) -> dict[str, float]:
    """Collect the numeric stats the report cares about, when the library has them."""
    out: dict[str, float] = {}
    manager_stats = manager.stats()
    if "pools_created" in manager_stats:
        out["pools_created"] = float(manager_stats["pools_created"])
    grinder_stats = grinder.stats()
    if "pending" in grinder_stats:
        out["pending"] = float(grinder_stats["pending"])
    return out


def _tracing_options() -> dict[str, Any]:
    """The grinder's ``tracing`` option, from ``GRISTMILL_BENCH_TRACING``.

    ``sdk``: an OpenTelemetry SDK provider with no span processor, so the run
    measures making the spans (gristmill's share and the SDK's), not exporting
    them. ``api``: ``tracing=True`` with no provider set, OpenTelemetry's
    no-op default. Unset: tracing off.
    """
    mode = os.environ.get("GRISTMILL_BENCH_TRACING")
    if mode == "api":
        return {"tracing": True}
    if mode != "sdk":
        return {}
    from opentelemetry.sdk.trace import TracerProvider

    return {"tracing": TracerProvider()}


@asynccontextmanager
async def grinder_harness(module_name: str, scenario: Scenario) -> AsyncIterator[Harness]:
    """Start a manager and grinder from ``module_name`` configured for ``scenario``."""
    module = importlib.import_module(module_name)
    options = _tracing_options() if module_name != "leasepool" else {}
    manager = module.LeasedExecutorManager(
        backend=scenario.backend,
        max_pools=scenario.max_pools,
        min_pools=1,
        workers_per_pool=scenario.workers_per_pool,
    )
    await manager.start()
    try:
        grinder = module.WorkGrinder(
            executor_manager=manager,
            max_wait_seconds=scenario.max_wait_seconds,
            batch_size_threshold=scenario.batch_size_threshold,
            lease_seconds=LEASE_SECONDS,
            **options,
        )
        await grinder.start()
        if os.environ.get("GRISTMILL_BENCH_CONTEXT") == "set":
            request_id.set("request-1")  # every job then keeps a snapshot of its own
        try:
            yield Harness(
                enqueue=grinder.enqueue,
                extras=functools.partial(_grinder_extras, manager, grinder),
                cancel_all=functools.partial(grinder.stop, cancel_pending=True),
            )
        finally:
            await grinder.stop()
    finally:
        await manager.stop()


async def _to_thread_enqueue(job: Job, arg: int) -> asyncio.Future[int]:
    return asyncio.create_task(asyncio.to_thread(job, arg))


@asynccontextmanager
async def to_thread_harness() -> AsyncIterator[Harness]:
    """Run each item as a task wrapping ``asyncio.to_thread``."""
    yield Harness(enqueue=_to_thread_enqueue)


@asynccontextmanager
async def executor_harness(scenario: Scenario) -> AsyncIterator[Harness]:
    """Run each item with ``loop.run_in_executor`` on a ``ProcessPoolExecutor``."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=scenario.total_workers) as pool:

        async def enqueue(job: Job, arg: int) -> asyncio.Future[int]:
            return loop.run_in_executor(pool, job, arg)

        yield Harness(enqueue=enqueue)


def open_harness(
    system: str, scenario: Scenario, gristmill_module: str
) -> AbstractAsyncContextManager[Harness]:
    """Return the async context manager that starts ``system`` for ``scenario``."""
    if system == "gristmill":
        return grinder_harness(gristmill_module, scenario)
    if system == "leasepool":
        return grinder_harness("leasepool", scenario)
    if system == "to_thread":
        return to_thread_harness()
    if system == "run_in_executor":
        return executor_harness(scenario)
    raise ValueError(f"{system!r} is not an asynchronous system")
