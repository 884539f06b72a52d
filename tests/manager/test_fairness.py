"""FIFO waiters: arrival order, no barging, turns passed on by cancelled or timed-out waiters."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from gristmill import LeasedExecutorManager, LeaseUnavailableError
from gristmill.testing import FakeClock
from tests.helpers import wait_until
from tests.manager.support import StartManager


async def borrow_and_return(mgr: LeasedExecutorManager, tag: str, served: list[str]) -> None:
    """Acquire as ``tag``, note the turn, and hand the pool straight back."""
    lease = await mgr.acquire(owner=tag)
    served.append(tag)
    await lease.release()


def has_waiters(mgr: LeasedExecutorManager, count: int) -> bool:
    """Whether exactly ``count`` acquire() calls are queued."""
    return mgr.stats()["waiters"] == count


async def queue_up(
    mgr: LeasedExecutorManager, tags: list[str], served: list[str]
) -> list[asyncio.Task[None]]:
    """Start one waiter per tag, each queued before the next arrives."""
    tasks = []
    for tag in tags:
        tasks.append(asyncio.create_task(borrow_and_return(mgr, tag, served)))
        await wait_until(partial(has_waiters, mgr, len(tasks)), what=f"{tag} queued")
    return tasks


@pytest.fixture
async def single(start_manager: StartManager) -> LeasedExecutorManager:
    """A manager with exactly one pool, so every second caller waits."""
    return await start_manager(max_pools=1)


async def test_waiters_are_served_in_arrival_order(single: LeasedExecutorManager) -> None:
    served: list[str] = []
    first = await single.acquire()
    tags = [f"w{i}" for i in range(6)]
    tasks = await queue_up(single, tags, served)
    await first.release()
    await asyncio.gather(*tasks)
    assert served == tags


async def test_newcomer_does_not_barge_ahead_of_queued_waiter(
    single: LeasedExecutorManager,
) -> None:
    served: list[str] = []
    first = await single.acquire()
    (queued,) = await queue_up(single, ["queued"], served)
    await first.release()
    with pytest.raises(LeaseUnavailableError):
        await single.acquire(wait=False)
    await queued
    assert served == ["queued"]


async def test_cancelled_head_waiter_passes_its_turn(single: LeasedExecutorManager) -> None:
    served: list[str] = []
    first = await single.acquire()
    head, *rest = await queue_up(single, ["w0", "w1", "w2"], served)
    head.cancel()
    with pytest.raises(asyncio.CancelledError):
        await head
    assert single.stats()["waiters"] == 2
    await first.release()
    await asyncio.gather(*rest)
    assert served == ["w1", "w2"]


async def test_cancelled_middle_waiter_is_skipped(single: LeasedExecutorManager) -> None:
    served: list[str] = []
    first = await single.acquire()
    w0, w1, w2 = await queue_up(single, ["w0", "w1", "w2"], served)
    w1.cancel()
    await first.release()
    await asyncio.gather(w0, w2)
    assert w1.cancelled()
    assert served == ["w0", "w2"]


async def test_timed_out_waiter_passes_its_turn(
    single: LeasedExecutorManager, clock: FakeClock
) -> None:
    served: list[str] = []
    first = await single.acquire()
    impatient = asyncio.create_task(single.acquire(owner="impatient", timeout=10.0))
    await wait_until(lambda: single.stats()["waiters"] == 1, what="impatient queued")
    patient = asyncio.create_task(borrow_and_return(single, "patient", served))
    await wait_until(lambda: single.stats()["waiters"] == 2, what="patient queued")
    clock.advance(10.0)
    with pytest.raises(TimeoutError):
        await impatient
    assert single.stats()["waiters"] == 1
    await first.release()
    await patient
    assert served == ["patient"]


async def test_waiter_cancelled_after_handoff_passes_lease_to_next_waiter(
    single: LeasedExecutorManager,
) -> None:
    served: list[str] = []
    first = await single.acquire()
    handed, nxt = await queue_up(single, ["handed", "next"], served)
    await first.release()
    # The pool now belongs to "handed", whose task has not resumed yet.
    assert (single.leased_count, single.stats()["waiters"]) == (1, 1)
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    await nxt
    assert served == ["next"]
    assert single.stats()["leases_released"] == 3


async def test_waiter_cancelled_after_handoff_makes_pool_available(
    single: LeasedExecutorManager,
) -> None:
    first = await single.acquire()
    handed = asyncio.create_task(single.acquire(owner="handed"))
    await wait_until(lambda: single.stats()["waiters"] == 1, what="a waiter")
    await first.release()
    assert single.leased_count == 1
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    assert (single.available_count, single.leased_count) == (1, 0)
    async with await single.acquire(wait=False) as lease:
        assert await lease.run(lambda: "reused") == "reused"
