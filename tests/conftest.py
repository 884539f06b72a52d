"""Shared fixtures: a fake clock, started managers and grinders, and wait_until.

Every async test runs twice, on the default asyncio loop and on uvloop. The
manager and grinder fixtures stop what they started and then assert that no
lease, pending item or live pool is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

import pytest
import uvloop

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import assert_grinder_settled, assert_manager_empty, make_manager
from tests.spans import Spans

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    """Run every async test on both event loop implementations."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test advances it."""
    return FakeClock()


@pytest.fixture
def spans() -> Iterator[Spans]:
    """An OpenTelemetry SDK tracer provider that keeps finished spans in memory."""
    recorder = Spans()
    yield recorder
    recorder.close()


@pytest.fixture
async def manager(clock: FakeClock) -> AsyncIterator[LeasedExecutorManager]:
    """A started thread manager (2 pools × 2 threads) on the fake clock."""
    mgr = make_manager(clock)
    await mgr.start()
    yield mgr
    await mgr.stop()
    assert_manager_empty(mgr)


@pytest.fixture
async def grinder(manager: LeasedExecutorManager) -> AsyncIterator[WorkGrinder]:
    """A started grinder on ``manager``: threshold 4, max wait 10 s of fake time."""
    grd = WorkGrinder(executor_manager=manager, max_wait_seconds=10.0, batch_size_threshold=4)
    await grd.start()
    yield grd
    await grd.stop()
    assert_grinder_settled(grd)
