"""The defaults keep the spec's behaviour: ``scheduler="fifo"`` and ``dispatch="wait"``.

Every other grinder test runs with the defaults too; these pin down what the
scheduling options must not change when they are left alone: arrival order
whoever the owner and whatever the deadline, batches only on the spec's
triggers, owners neither checked nor counted.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import Gate, loop_turns
from tests.helpers import make_manager, wait_until

ITEMS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", None]),  # owner
        st.sampled_from([None, 30.0, 60.0, 90.0]),  # deadline: never reached here
        st.booleans(),  # cancelled while queued
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(items=ITEMS)
async def test_items_run_in_arrival_order_whatever_their_owner_or_deadline(
    items: list[tuple[str | None, float | None, bool]],
) -> None:
    clock = FakeClock()
    manager = make_manager(clock, max_pools=1, workers_per_pool=1)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1, max_wait_seconds=10.0)
    ran: list[int] = []
    lock = threading.Lock()

    def note(index: int) -> int:
        with lock:
            ran.append(index)
        return index

    gate = Gate()
    try:
        await grinder.start()
        held = await grinder.enqueue(gate.block)
        await wait_until(lambda: gate.arrived == 1, what="the pool is held")
        futures: list[asyncio.Future[Any]] = []
        for index, (owner, deadline, _) in enumerate(items):
            work = Work(note, args=(index,), owner=owner, deadline_seconds=deadline)
            futures.append(await grinder.enqueue_work(work))
        for future, (_, _, cancel) in zip(futures, items, strict=True):
            if cancel:
                future.cancel()
        gate.open()
        await asyncio.wait_for(asyncio.gather(held, *futures, return_exceptions=True), 10)
    finally:
        gate.open()
        await grinder.stop()
        await manager.stop()
    kept = [index for index, (_, _, cancel) in enumerate(items) if not cancel]
    assert ran == kept


async def test_the_defaults_are_the_spec(manager: LeasedExecutorManager) -> None:
    stats = WorkGrinder(executor_manager=manager).stats()
    assert (stats["scheduler"], stats["dispatch"]) == ("fifo", "wait")
    assert (stats["priority_aging_seconds"], stats["max_pending_per_owner"]) == (None, None)
    assert (stats["owners"], stats["other_owners"]["owners"]) == ([], 0)


async def test_a_lone_item_waits_max_wait_and_no_deadline_starts_a_batch_early(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(batch_size_threshold=5, max_wait_seconds=10.0)
    lone = await grinder.enqueue_work(Work(abs, args=(-1,), deadline_seconds=20.0))
    await loop_turns(5)
    clock.advance(9.999)
    await loop_turns(5)
    assert not lone.done()
    clock.advance(0.001)
    assert await asyncio.wait_for(lone, 10) == 1


async def test_owners_are_passed_through_unchecked_and_uncounted(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(batch_size_threshold=5)
    odd_owner: Any = ("not", "a", "string")  # the spec's grinder never looked at owners
    future = await grinder.enqueue(abs, -3, owner=odd_owner)
    assert grinder.stats()["owners"] == []
    await grinder.stop()
    assert future.result() == 3
