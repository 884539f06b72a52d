"""``repr(grinder)``: its state and counts, like asyncio's ``Queue``."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from gristmill import LeasedExecutorManager, NotStartedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import Gate
from tests.helpers import make_manager, wait_until


def test_repr_of_a_new_grinder(clock: FakeClock) -> None:
    grinder = WorkGrinder(executor_manager=make_manager(clock))
    assert repr(grinder) == ("<WorkGrinder created pending=0 in_flight=0 batches=0>")


async def test_repr_shows_pending_in_flight_and_batches(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=2)
    await grinder.start()
    with Gate() as gate:
        running = [await grinder.enqueue(gate.hold, i) for i in range(2)]
        await wait_until(lambda: gate.arrived == 2, what="first batch running")
        queued = await grinder.enqueue(gate.hold, 2)
        assert repr(grinder) == ("<WorkGrinder running pending=1 in_flight=2 batches=1>")
        gate.open()
        await grinder.stop()
    assert [future.result() for future in [*running, queued]] == [0, 1, 2]
    assert repr(grinder) == ("<WorkGrinder stopped pending=0 in_flight=0 batches=2>")


async def test_repr_shows_callers_waiting_for_room(manager: LeasedExecutorManager) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4, max_pending=1)
    await grinder.start()
    try:
        await grinder.enqueue(abs, 1)
        waiting = asyncio.create_task(grinder.enqueue(abs, 2))
        await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="a waiter")
        assert repr(grinder).endswith(" waiting_for_room=1>")
    finally:
        await grinder.stop(cancel_pending=True)
    with contextlib.suppress(NotStartedError):
        await waiting


async def test_repr_works_from_another_thread_while_running(
    manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(executor_manager=manager)
    await grinder.start()
    try:
        seen: list[str] = []
        thread = threading.Thread(target=lambda: seen.append(repr(grinder)))
        thread.start()
        thread.join(10)
        assert seen == ["<WorkGrinder running pending=0 in_flight=0 batches=0>"]
    finally:
        await grinder.stop()
