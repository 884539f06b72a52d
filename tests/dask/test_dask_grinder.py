"""WorkGrinder on backend="dask": chunks carry lambdas, errors keep their type, crashes settle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import BrokenExecutor

import pytest
from distributed import Client

from gristmill import LeasedExecutorManager, WorkerCrashedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.dask import jobs
from tests.dask.conftest import WORKERS
from tests.helpers import assert_grinder_settled, assert_manager_empty, make_manager
from tests.spans import Spans, ids

BATCH = 6


@pytest.fixture
async def dask_manager(clock: FakeClock, address: str) -> AsyncIterator[LeasedExecutorManager]:
    """A manager of one dask pool of one worker."""
    manager = make_manager(clock, backend="dask", address=address, max_pools=1, workers_per_pool=1)
    await manager.start()
    yield manager
    await manager.stop()
    assert_manager_empty(manager)


@pytest.fixture
async def dask_grinder(dask_manager: LeasedExecutorManager) -> AsyncIterator[WorkGrinder]:
    """A grinder on ``dask_manager``; ``BATCH`` items enqueued at once form one batch."""
    manager = dask_manager
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=BATCH)
    await grinder.start()
    yield grinder
    await grinder.stop()
    assert_grinder_settled(grinder)


async def test_a_batch_of_lambdas_and_closures_returns_every_result(
    dask_grinder: WorkGrinder,
) -> None:
    offset = 100
    futures = [await dask_grinder.enqueue(lambda n=n: n * n + offset) for n in range(BATCH)]
    assert await asyncio.gather(*futures) == [n * n + offset for n in range(BATCH)]


async def test_an_item_error_keeps_its_type_and_spares_the_rest(dask_grinder: WorkGrinder) -> None:
    futures = [await dask_grinder.enqueue(abs, -n) for n in range(BATCH - 1)]
    futures.append(await dask_grinder.enqueue(jobs.fail_with_key_error, "missing"))
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[:-1] == list(range(BATCH - 1))
    assert isinstance(outcomes[-1], KeyError)
    assert outcomes[-1].args == ("missing",)


async def test_a_worker_killed_mid_batch_settles_every_item_and_the_pool_is_replaced(
    dask_grinder: WorkGrinder, dask_manager: LeasedExecutorManager, dask_client: Client
) -> None:
    futures = [await dask_grinder.enqueue(abs, -n) for n in range(BATCH - 1)]
    futures.insert(2, await dask_grinder.enqueue(jobs.exit_worker))
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 30)

    # The culprit is retried alone and fails for good (WorkerCrashedError), or its retry
    # finds no worker while the nanny restarts the killed one (BrokenExecutor); the
    # others ran, or met that same empty cluster: each settles either way, none hangs.
    assert isinstance(outcomes[2], WorkerCrashedError | BrokenExecutor)
    for outcome in outcomes:
        assert isinstance(outcome, int | BrokenExecutor | WorkerCrashedError), outcome
    assert dask_manager.stats()["pools_broken"] >= 1
    await asyncio.to_thread(dask_client.wait_for_workers, WORKERS, 30)
    after = [await dask_grinder.enqueue(str, n) for n in range(BATCH)]
    assert await asyncio.gather(*after) == [str(n) for n in range(BATCH)]


async def test_chosen_context_and_the_trace_context_reach_a_dask_worker(
    dask_manager: LeasedExecutorManager, spans: Spans
) -> None:
    grinder = WorkGrinder(
        executor_manager=dask_manager,
        batch_size_threshold=2,
        propagate_context=[jobs.request_id],
        tracing=spans.provider,
    )
    await grinder.start()

    async def call(name: str) -> tuple[str | None, tuple[int, int]]:
        jobs.request_id.set(name)
        with spans.tracer.start_as_current_span(name):
            return await grinder.submit(jobs.request_and_span)

    try:
        seen = dict(await asyncio.gather(call("first"), call("second")))
    finally:
        await grinder.stop()
    items = spans.items_by_caller()
    assert seen == {"first": ids(items["first"]), "second": ids(items["second"])}
    assert_grinder_settled(grinder)
