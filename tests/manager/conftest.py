"""Fixtures for the manager tests: worker gates and a factory for custom managers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gristmill import LeasedExecutorManager
from gristmill.testing import FakeClock
from tests.helpers import make_manager
from tests.manager.support import StartManager


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """An event that holds gated workers; always opened at teardown."""
    event = threading.Event()
    try:
        yield event
    finally:
        event.set()


@pytest.fixture
async def start_manager(clock: FakeClock) -> AsyncIterator[StartManager]:
    """Start thread managers on the fake clock with custom options; stop them at teardown."""
    started: list[LeasedExecutorManager] = []

    async def factory(**overrides: Any) -> LeasedExecutorManager:
        mgr = make_manager(clock, **overrides)
        await mgr.start()
        started.append(mgr)
        return mgr

    yield factory
    for mgr in started:
        await mgr.stop()
        stats = mgr.stats()
        assert stats["total"] == 0, stats
        assert stats["leases"] == [], stats
