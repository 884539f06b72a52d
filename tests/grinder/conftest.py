"""Fixtures for the grinder tests: factories of fake lease sources and of grinders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from tests.grinder.fakes import ThreadLeaseSource
from tests.helpers import assert_grinder_settled

SourceFactory = Callable[..., ThreadLeaseSource]
GrinderFactory = Callable[..., Awaitable[WorkGrinder]]


@pytest.fixture
def make_source() -> Iterator[SourceFactory]:
    """Build :class:`ThreadLeaseSource` objects; their pools are joined at teardown."""
    sources: list[ThreadLeaseSource] = []

    def factory(**options: Any) -> ThreadLeaseSource:
        source = ThreadLeaseSource(**options)
        sources.append(source)
        return source

    yield factory
    for source in sources:
        source.close()


@pytest.fixture
async def make_grinder(manager: LeasedExecutorManager) -> AsyncIterator[GrinderFactory]:
    """Build and start grinders on ``manager`` (threshold 4, max wait 10 s unless overridden).

    At teardown each is stopped (draining) and checked: nothing pending or in
    flight, every submitted item accounted for.
    """
    grinders: list[WorkGrinder] = []

    async def factory(**options: Any) -> WorkGrinder:
        settings: dict[str, Any] = {"max_wait_seconds": 10.0, "batch_size_threshold": 4}
        settings.update(options)
        grinder = WorkGrinder(executor_manager=manager, **settings)
        await grinder.start()
        grinders.append(grinder)
        return grinder

    yield factory
    for grinder in grinders:
        await asyncio.wait_for(grinder.stop(), 10)
        assert_grinder_settled(grinder)
