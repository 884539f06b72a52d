"""The owning loop ends without ``grinder.stop()`` (issue 9, defect 5).

Thread-side futures used to stay pending forever, and a later
``submit_from_thread`` raised asyncio's bare ``RuntimeError: Event loop is
closed``. Now every caller still waiting fails with ``NotStartedError`` and
later calls say what happened.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from gristmill import LeasedExecutorManager, NotStartedError, WorkGrinder
from tests.helpers import wait_until
from tests.manager.support import GATE_TIMEOUT, block_on


def run_in_thread(target: object) -> None:
    """Run ``target`` on a new thread (it owns its loop there) and wait for it."""
    assert callable(target)
    thread = threading.Thread(target=target)
    thread.start()
    thread.join(GATE_TIMEOUT)
    assert not thread.is_alive()


def test_asyncio_run_ending_without_stop_fails_every_thread_future() -> None:
    gate = threading.Event()
    started = threading.Event()
    ready = threading.Event()
    grinders: list[WorkGrinder] = []
    futures: list[concurrent.futures.Future[object]] = []

    async def main() -> None:
        manager = LeasedExecutorManager(max_pools=1, workers_per_pool=1)
        await manager.start()
        grinder = WorkGrinder(
            executor_manager=manager, batch_size_threshold=1, max_pending=1, overflow="wait"
        )
        await grinder.start()
        grinders.append(grinder)
        ready.set()
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        def submit_from_another_thread() -> None:
            futures.append(grinder.submit_from_thread(block_on, gate, started))  # in flight
            started.wait(GATE_TIMEOUT)
            futures.append(grinder.submit_from_thread(pow, 2, 1))  # queued
            futures.append(grinder.submit_from_thread(pow, 2, 2))  # waiting for room
            loop.call_soon_threadsafe(done.set)

        await asyncio.to_thread(submit_from_another_thread)
        await done.wait()
        await wait_until(  # the queued hops have landed
            lambda: grinder.stats()["waiting_for_room"] == 1, what="the third waiting for room"
        )
        # returns without grinder.stop(): asyncio.run cancels the grinder's tasks

    try:
        run_in_thread(lambda: asyncio.run(main()))
    finally:
        gate.set()
    assert ready.is_set()
    assert len(futures) == 3
    for future in futures:
        error = future.exception(timeout=GATE_TIMEOUT)
        assert isinstance(error, NotStartedError), repr(error)
    grinder = grinders[0]
    assert grinder.stats()["state"] == "stopped"
    with pytest.raises(NotStartedError, match="closed"):
        grinder.submit_from_thread(pow, 2, 3)
    with pytest.raises(NotStartedError, match="closed"):
        grinder.stats_from_thread()


def test_a_loop_closed_by_hand_makes_thread_calls_raise_not_started() -> None:
    grinders: list[WorkGrinder] = []

    def own_a_loop_then_close_it() -> None:
        loop = asyncio.new_event_loop()

        async def start() -> None:
            manager = LeasedExecutorManager(max_pools=1, workers_per_pool=1)
            await manager.start()
            grinder = WorkGrinder(executor_manager=manager)
            await grinder.start()
            grinders.append(grinder)
            await manager.stop()

        loop.run_until_complete(start())
        loop.close()  # the grinder's runner task is still pending: nobody cancelled it

    run_in_thread(own_a_loop_then_close_it)
    grinder = grinders[0]
    with pytest.raises(NotStartedError, match="closed"):
        grinder.submit_from_thread(pow, 2, 3)
    with pytest.raises(NotStartedError, match="closed"):
        grinder.stats_from_thread(timeout=1.0)
