"""Cancel, deadlines and stop keep working under every scheduler, dispatch and quota.

The property tests draw these options too; these are the plain cases, one per
promise, so a failure names what broke.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gristmill import Work
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import SCHEDULING, Gate, loop_turns
from tests.helpers import wait_until


def label(options: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in options.items()) or "defaults"


pytestmark = pytest.mark.parametrize("scheduling", SCHEDULING, ids=label)


async def test_a_cancelled_queued_item_never_runs(
    make_grinder: GrinderFactory, scheduling: dict[str, Any]
) -> None:
    grinder = await make_grinder(batch_size_threshold=1, max_concurrent_batches=1, **scheduling)
    with Gate() as gate:
        held = await grinder.enqueue(gate.hold, 0, owner="a")
        await wait_until(lambda: gate.arrived == 1, what="the pool is held")
        ran: list[int] = []
        doomed = await grinder.enqueue(ran.append, 1, owner="a")
        kept = await grinder.enqueue(ran.append, 2, owner="b")
        assert doomed.cancel()
        assert grinder.stats()["pending"] == 1
        gate.open()
        await asyncio.wait_for(asyncio.gather(held, kept), 10)
    assert ran == [2]
    assert grinder.stats()["cancelled"] == 1


async def test_a_deadline_that_passes_in_the_queue_fails_the_item_unrun(
    make_grinder: GrinderFactory, clock: FakeClock, scheduling: dict[str, Any]
) -> None:
    grinder = await make_grinder(batch_size_threshold=1, max_concurrent_batches=1, **scheduling)
    with Gate() as gate:
        held = await grinder.enqueue(gate.hold, 0)
        await wait_until(lambda: gate.arrived == 1, what="the pool is held")
        ran: list[int] = []
        late = await grinder.enqueue_work(Work(ran.append, args=(1,), deadline_seconds=2.0))
        clock.advance(2.0)  # the only slot is busy: it cannot start early
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(late, 10)
        gate.open()
        await asyncio.wait_for(held, 10)
    assert ran == []
    assert grinder.stats()["timed_out"] == 1


async def test_stop_drains_what_is_queued(
    make_grinder: GrinderFactory, scheduling: dict[str, Any]
) -> None:
    grinder = await make_grinder(batch_size_threshold=100, **scheduling)
    futures = [await grinder.enqueue(abs, -i, owner=("a", "b")[i % 2]) for i in range(6)]
    await asyncio.wait_for(grinder.stop(), 10)
    assert [future.result() for future in futures] == list(range(6))


async def test_stop_with_cancel_pending_cancels_what_is_queued(
    make_grinder: GrinderFactory, scheduling: dict[str, Any]
) -> None:
    grinder = await make_grinder(batch_size_threshold=1, max_concurrent_batches=1, **scheduling)
    with Gate() as gate:
        held = await grinder.enqueue(gate.hold, 0)
        await wait_until(lambda: gate.arrived == 1, what="the pool is held")
        queued = [await grinder.enqueue(abs, -i, owner=("a", "b")[i % 2]) for i in range(3)]
        await loop_turns(5)
        await asyncio.wait_for(grinder.stop(cancel_pending=True), 10)
    assert all(future.cancelled() for future in queued)
    assert held.cancelled()
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="the held job came back")
