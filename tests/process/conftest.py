"""Fixtures for the process backend: one started process manager and grinder per test.

Process pools are slow to start, so each test that uses these checks several
things on one manager. Teardown stops what was started and asserts that no
lease, pending item or live pool is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import assert_grinder_settled, assert_manager_empty, make_manager
from tests.process.support import STOP_BOUND


@pytest.fixture
async def process_manager(clock: FakeClock) -> AsyncIterator[LeasedExecutorManager]:
    """A started process manager (1 pool × 2 worker processes) on the fake clock."""
    mgr = make_manager(clock, backend="process", max_pools=1)
    await mgr.start()
    yield mgr
    await asyncio.wait_for(mgr.stop(), STOP_BOUND)
    assert_manager_empty(mgr)


@pytest.fixture
async def single_worker_manager(clock: FakeClock) -> AsyncIterator[LeasedExecutorManager]:
    """A started process manager with one pool of one worker process, on the fake clock.

    One worker runs one chunk at a time, in order, so a fault test knows that
    the chunks before the faulty one have finished and those after it have
    not started.
    """
    mgr = make_manager(clock, backend="process", max_pools=1, workers_per_pool=1)
    await mgr.start()
    yield mgr
    await asyncio.wait_for(mgr.stop(), STOP_BOUND)
    assert_manager_empty(mgr)


@pytest.fixture
async def process_grinder(process_manager: LeasedExecutorManager) -> AsyncIterator[WorkGrinder]:
    """A started grinder on ``process_manager`` whose threshold is one job.

    Jobs enqueued without yielding to the loop in between form one batch; a
    lone ``submit`` runs at once.
    """
    grd = WorkGrinder(executor_manager=process_manager, batch_size_threshold=1)
    await grd.start()
    yield grd
    await asyncio.wait_for(grd.stop(), STOP_BOUND)
    assert_grinder_settled(grd)


@pytest.fixture
async def single_worker_grinder(
    single_worker_manager: LeasedExecutorManager,
) -> AsyncIterator[WorkGrinder]:
    """A started grinder on ``single_worker_manager`` whose threshold is one job."""
    grd = WorkGrinder(executor_manager=single_worker_manager, batch_size_threshold=1)
    await grd.start()
    yield grd
    await asyncio.wait_for(grd.stop(), STOP_BOUND)
    assert_grinder_settled(grd)
