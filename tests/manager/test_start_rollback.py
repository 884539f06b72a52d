"""start() warms its pools up in a worker thread; a start that fails or is cancelled is undone.

A backend whose ``warm_up`` waits on a gate (``tests.backends.support``) holds
``start()`` at that await until the test lets it go, so these tests can cancel
or race a start there deterministically.
"""

from __future__ import annotations

import asyncio

import pytest

from gristmill import NotStartedError
from gristmill.testing import FakeClock
from tests.backends.support import RecordingBackend
from tests.helpers import make_manager


async def test_cancelled_start_leaves_the_manager_stopped_and_restartable(
    clock: FakeClock,
) -> None:
    backend = RecordingBackend(gate_warm_up=True)
    manager = make_manager(clock, backend=backend)
    starting = asyncio.create_task(manager.start())
    try:
        assert await asyncio.to_thread(backend.warm_up_entered.wait, 10)
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting
    finally:
        backend.release_gates()
    stats = manager.stats()
    assert (stats["state"], stats["total"]) == ("stopped", 0)
    assert stats["pools_created"] == stats["pools_retired"] == 1

    await manager.start()
    try:
        async with await manager.acquire() as lease:
            assert await lease.run(sum, [1, 2]) == 3
    finally:
        await manager.stop()


async def test_stop_during_the_warm_up_makes_start_raise_not_started(clock: FakeClock) -> None:
    backend = RecordingBackend(gate_warm_up=True)
    manager = make_manager(clock, backend=backend)
    starting = asyncio.create_task(manager.start())
    try:
        assert await asyncio.to_thread(backend.warm_up_entered.wait, 10)
        await manager.stop()
    finally:
        backend.release_gates()
    with pytest.raises(NotStartedError, match="stopped while start"):
        await starting
    assert manager.stats()["state"] == "stopped"
    assert manager.total_count == 0


async def test_pools_are_lendable_while_start_warms_them_up(clock: FakeClock) -> None:
    backend = RecordingBackend(gate_warm_up=True)
    manager = make_manager(clock, backend=backend)
    starting = asyncio.create_task(manager.start())
    try:
        assert await asyncio.to_thread(backend.warm_up_entered.wait, 10)
        async with await manager.acquire(wait=False) as lease:
            assert await lease.run(max, 4, 9) == 9
        assert not starting.done()
    finally:
        backend.release_gates()
        await starting
    assert manager.stats()["state"] == "running"
    await manager.stop()


async def test_start_whose_first_pool_cannot_be_created_is_undone_and_not_counted(
    clock: FakeClock,
) -> None:
    # ThreadPoolExecutor itself refuses an initializer that is not callable.
    manager = make_manager(clock, initializer="not callable")
    with pytest.raises(TypeError, match="initializer"):
        await manager.start()
    stats = manager.stats()
    assert (stats["state"], stats["total"]) == ("stopped", 0)
    assert stats["pools_created"] == stats["pools_retired"] == 0
