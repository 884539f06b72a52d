"""Fixtures for the process backend: one started process manager and grinder per test.

Process pools are slow to start, so each test that uses these checks several
things on one manager. Teardown stops what was started and asserts that no
lease, pending item or live pool is left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import assert_grinder_settled, assert_manager_empty, make_manager


@pytest.fixture
async def process_manager(clock: FakeClock) -> AsyncIterator[LeasedExecutorManager]:
    """A started process manager (1 pool × 2 worker processes) on the fake clock."""
    mgr = make_manager(clock, backend="process", max_pools=1)
    await mgr.start()
    yield mgr
    await mgr.stop()
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
    await grd.stop()
    assert_grinder_settled(grd)
