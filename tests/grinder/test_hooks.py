"""Grinder hooks: every batch and item event, with its fields, in order, on the loop thread; a
hook that raises is logged and ignored."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter

import pytest

from gristmill import (
    BatchEnd,
    BatchStart,
    GrinderOverloadedError,
    Hooks,
    ItemDone,
    LeasedExecutorManager,
    Work,
    WorkGrinder,
)
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import Gate
from tests.helpers import wait_until

Event = BatchStart | BatchEnd | ItemDone


class Recorder(Hooks):
    """Keeps every grinder event, and the threads they arrived on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.threads: set[int] = set()

    def on_batch_start(self, event: BatchStart) -> None:
        self._keep(event)

    def on_batch_end(self, event: BatchEnd) -> None:
        self._keep(event)

    def on_item_done(self, event: ItemDone) -> None:
        self._keep(event)

    def _keep(self, event: Event) -> None:
        self.events.append(event)
        self.threads.add(threading.get_ident())


class Raising(Hooks):
    """Fails in every hook."""

    def on_batch_start(self, event: BatchStart) -> None:
        raise RuntimeError("start hook broke")

    def on_batch_end(self, event: BatchEnd) -> None:
        raise RuntimeError("end hook broke")

    def on_item_done(self, event: ItemDone) -> None:
        raise RuntimeError("item hook broke")


def fail(value: int) -> int:
    raise ValueError(value)


async def test_each_event_arrives_in_order_with_its_fields(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    hooks = Recorder()
    grinder = await make_grinder(
        hooks=hooks, batch_size_threshold=3, max_pending=2, overflow="reject"
    )
    first = await grinder.enqueue(abs, -1)  # t=0
    doomed = await grinder.enqueue(abs, -2)
    with pytest.raises(GrinderOverloadedError):
        await grinder.enqueue(abs, -3)  # rejected: the queue holds two
    clock.advance(4.0)
    assert doomed.cancel()  # cancelled after 4 s in the queue
    expiring = await grinder.enqueue_work(Work(abs, args=(-4,), deadline_seconds=2.0))  # t=4
    clock.advance(2.0)
    assert isinstance(expiring.exception(), TimeoutError)
    failing = await grinder.enqueue(fail, 5)  # t=6
    clock.advance(4.0)  # t=10: ``first`` has waited max_wait
    outcomes = await asyncio.wait_for(asyncio.gather(first, failing, return_exceptions=True), 10)
    assert outcomes[0] == 1
    assert isinstance(outcomes[1], ValueError)
    # The batch task reports its end after the last item settles.
    await wait_until(lambda: len(hooks.events) == 7, what="the batch end reported")

    events = hooks.events
    assert events[:4] == [
        ItemDone("rejected", 0.0),
        ItemDone("cancelled", 4.0),
        ItemDone("timed_out", 2.0),
        BatchStart("work-grinder-1", 2, 10.0),
    ]
    assert Counter(events[4:6]) == Counter([ItemDone("completed", 10.0), ItemDone("failed", 4.0)])
    assert events[6:] == [BatchEnd("work-grinder-1", 2, 0.0, 0)]
    assert hooks.threads == {threading.get_ident()}  # the owning loop's thread


async def test_cancelling_a_running_item_is_reported_as_cancelled(
    make_grinder: GrinderFactory,
) -> None:
    hooks = Recorder()
    grinder = await make_grinder(hooks=hooks, batch_size_threshold=1)
    with Gate() as gate:
        running = await grinder.enqueue(gate.hold, 1)
        await wait_until(lambda: gate.arrived == 1, what="item running")
        assert running.cancel()
    await grinder.stop()
    items = [event for event in hooks.events if isinstance(event, ItemDone)]
    assert items == [ItemDone("cancelled", 0.0)]


async def test_stop_with_cancel_pending_reports_each_cancelled_item(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    hooks = Recorder()
    grinder = await make_grinder(hooks=hooks)
    for i in range(3):
        await grinder.enqueue(abs, i)
    clock.advance(1.5)
    await grinder.stop(cancel_pending=True)
    assert hooks.events == [ItemDone("cancelled", 1.5)] * 3


async def test_a_raising_hook_is_logged_and_the_work_goes_on(
    manager: LeasedExecutorManager, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.grinder.hooks")
    grinder = WorkGrinder(
        executor_manager=manager, batch_size_threshold=1, hooks=Raising(), logger=logger
    )
    await grinder.start()
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            for i in range(3):  # one batch each, one after the other
                assert await asyncio.wait_for(grinder.submit(abs, -i), 10) == i
    finally:
        await grinder.stop()
    failures = [record for record in caplog.records if record.name == logger.name]
    messages = Counter(str(record.exc_info[1]) for record in failures if record.exc_info)
    assert messages == {"start hook broke": 3, "item hook broke": 3, "end hook broke": 3}
    assert all("failed; ignoring" in record.getMessage() for record in failures)
    stats = grinder.stats()
    assert (stats["completed"], stats["state"]) == (3, "stopped")


def test_hooks_must_be_a_hooks_instance(manager: LeasedExecutorManager) -> None:
    with pytest.raises(TypeError, match=r"hooks must be a gristmill\.Hooks, got object"):
        WorkGrinder(executor_manager=manager, hooks=object())  # type: ignore[arg-type]
