"""While start() waits for the backend's open(): the manager is ``starting`` and lends nothing.

A gate holds ``open()`` in its worker thread, so each test acts at that point
deterministically and then lets it go.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from gristmill import LeasedExecutorManager, NotStartedError
from gristmill.testing import FakeClock
from tests.backends.support import RecordingBackend
from tests.helpers import make_manager, stays, wait_until


@dataclass
class Opening:
    backend: RecordingBackend
    manager: LeasedExecutorManager
    starting: asyncio.Task[None]


@pytest.fixture
async def opening(clock: FakeClock) -> AsyncIterator[Opening]:
    """A manager whose start() is waiting inside the backend's open()."""
    backend = RecordingBackend(gate_open=True)
    manager = make_manager(clock, backend=backend)
    starting = asyncio.create_task(manager.start())
    try:
        assert await asyncio.to_thread(backend.open_entered.wait, 10)
        yield Opening(backend, manager, starting)
    finally:
        backend.release_gates()
        await asyncio.wait([starting])
        await manager.stop()


async def test_acquire_and_a_second_start_are_refused_while_the_backend_opens(
    opening: Opening,
) -> None:
    manager = opening.manager
    assert manager.stats()["state"] == "starting"
    with pytest.raises(NotStartedError, match="it is starting"):
        await manager.acquire(wait=False)
    with pytest.raises(NotStartedError, match="starting; await the start"):
        await manager.start()
    opening.backend.open_gate.set()
    await opening.starting
    assert manager.stats()["state"] == "running"
    async with await manager.acquire() as lease:
        assert await lease.run(min, 3, 4) == 3


async def test_no_pool_is_created_before_open_returns(opening: Opening) -> None:
    assert opening.manager.stats()["pools_created"] == 0
    assert opening.backend.events == ["open"]
    opening.backend.open_gate.set()
    await opening.starting
    assert opening.backend.events[:3] == ["open", "opened", "create:gristmill-recording-1"]


async def test_stop_during_open_makes_start_raise_and_closes_after_open_returns(
    opening: Opening,
) -> None:
    stopping = asyncio.create_task(opening.manager.stop())
    await wait_until(lambda: opening.manager.stats()["state"] == "stopping", what="stopping")
    # close() waits for the open() still running.
    await stays(lambda: not stopping.done(), what="stop() waiting for open()")
    opening.backend.open_gate.set()
    await stopping
    with pytest.raises(NotStartedError, match="stopped while start\\(\\) was opening"):
        await opening.starting
    assert opening.backend.events == ["open", "opened", "close"]
    assert opening.manager.stats()["state"] == "stopped"


async def test_a_start_cancelled_during_open_closes_once_open_has_finished(
    opening: Opening,
) -> None:
    opening.starting.cancel()
    # The rollback's stop() then waits for open() in close().
    await wait_until(lambda: opening.manager.stats()["state"] == "stopping", what="rollback")
    assert opening.backend.events == ["open"]
    opening.backend.open_gate.set()
    with pytest.raises(asyncio.CancelledError):
        await opening.starting
    assert opening.backend.events == ["open", "opened", "close"]
    assert opening.manager.stats()["state"] == "stopped"
