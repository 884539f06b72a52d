"""A cancelled manager.stop() still shuts everything down; one called while cancelling, too.

Ctrl-C under ``asyncio.run`` cancels the main task: its ``finally:`` block then
stops the manager, or the cancellation lands on a ``stop()`` already running.
"""

from __future__ import annotations

import asyncio

import pytest

from gristmill.testing import FakeClock
from tests.backends.support import RecordingBackend
from tests.helpers import assert_manager_empty, has_begun, make_manager, stays, wait_until


async def test_a_cancelled_stop_still_finishes_shutting_down_before_it_reraises(
    clock: FakeClock,
) -> None:
    backend = RecordingBackend(gate_close=True)
    manager = make_manager(clock, backend=backend)
    await manager.start()
    try:
        stopping = asyncio.create_task(manager.stop())
        assert await asyncio.to_thread(backend.close_entered.wait, 10)
        stopping.cancel()
        # The shutdown goes on under the cancellation.
        await stays(lambda: not stopping.done(), what="the shutdown")
        backend.close_gate.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(stopping, 10)
    finally:
        backend.release_gates()
    assert manager.stats()["state"] == "stopped"
    assert backend.events[-1] == "close"
    assert all(f"shutdown:{executor.name}" in backend.events for executor in backend.executors)
    assert_manager_empty(manager)


async def test_stop_in_a_task_being_cancelled_stops_the_manager_and_returns(
    clock: FakeClock,
) -> None:
    manager = make_manager(clock)
    await manager.start()
    stopped = asyncio.Event()

    async def main_task() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await manager.stop()
            stopped.set()

    task = asyncio.create_task(main_task())
    await wait_until(lambda: has_begun(task), what="the main task to run")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert stopped.is_set()
    assert manager.stats()["state"] == "stopped"
    assert_manager_empty(manager)
