"""``max_pending_per_owner``: each owner has a quota of pending items, kept with ``overflow``.

An owner at its quota waits (in a line of its own) or is refused, naming the
owner; other owners are still admitted. The quota works the same under both
schedulers and from other threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from gristmill import GrinderOverloadedError, LeasedExecutorManager, NotStartedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import GATE_TIMEOUT, loop_turns
from tests.helpers import wait_until

SCHEDULERS = ["fifo", "fair"]


def pending_of(grinder: WorkGrinder, owner: str | None) -> int:
    rows = grinder.stats()["owners"]
    return next((row["pending"] for row in rows if row["owner"] == owner), 0)


def enqueue_task(
    grinder: WorkGrinder, value: int, owner: str | None
) -> asyncio.Task[asyncio.Future[int]]:
    return asyncio.create_task(grinder.enqueue(abs, value, owner=owner))


@pytest.mark.parametrize("scheduler", SCHEDULERS)
async def test_an_owner_at_its_quota_waits_while_other_owners_get_in(
    make_grinder: GrinderFactory, scheduler: str
) -> None:
    grinder = await make_grinder(max_pending_per_owner=2, scheduler=scheduler)
    mine = [await grinder.enqueue(abs, -i, owner="a") for i in range(2)]
    waiter = enqueue_task(grinder, -7, "a")
    await loop_turns(5)
    assert not waiter.done()
    other = await asyncio.wait_for(grinder.enqueue(abs, -3, owner="b"), 10)
    stats = grinder.stats()
    assert (stats["waiting_for_room"], stats["max_pending_per_owner"]) == (1, 2)
    assert (pending_of(grinder, "a"), pending_of(grinder, "b")) == (2, 1)
    assert mine[0].cancel()
    late = await asyncio.wait_for(waiter, 10)
    assert pending_of(grinder, "a") == 2
    await grinder.stop()
    assert (late.result(), other.result()) == (7, 3)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
async def test_reject_names_the_owner_and_still_admits_others(
    make_grinder: GrinderFactory, scheduler: str
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1, overflow="reject", scheduler=scheduler)
    await grinder.enqueue(abs, -1, owner="tenant-a")
    with pytest.raises(GrinderOverloadedError, match="owner 'tenant-a' has 1 items pending"):
        await grinder.enqueue(abs, -2, owner="tenant-a")
    await grinder.enqueue(abs, -3, owner="tenant-b")
    await grinder.enqueue(abs, -4)  # owner=None is an owner too
    stats = grinder.stats()
    assert (stats["rejected"], stats["submitted"]) == (1, 3)


async def test_room_freed_in_a_quota_goes_to_its_waiters_in_order(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1, batch_size_threshold=100)
    first = await grinder.enqueue(abs, -1, owner="a")
    waiters = [enqueue_task(grinder, -i, "a") for i in (2, 3)]
    await loop_turns(5)
    assert first.cancel()
    await loop_turns(5)
    assert [waiter.done() for waiter in waiters] == [True, False]
    await grinder.stop()
    assert waiters[0].result().result() == 2
    with pytest.raises(NotStartedError):
        waiters[1].result()


async def test_a_cut_frees_room_in_the_quota(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1, max_wait_seconds=10.0)
    first = await grinder.enqueue(abs, -1, owner="a")
    waiter = enqueue_task(grinder, -2, "a")
    await loop_turns(5)
    clock.advance(10.0)  # the batch is due: the cut takes a's item out of the queue
    late = await asyncio.wait_for(waiter, 10)
    assert await asyncio.wait_for(first, 10) == 1
    await grinder.stop()
    assert late.result() == 2


async def test_a_waiter_cancelled_after_being_handed_room_passes_it_on(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1)
    first = await grinder.enqueue(abs, -1, owner="a")
    leaving = enqueue_task(grinder, -2, "a")
    staying = enqueue_task(grinder, -3, "a")
    await loop_turns(5)
    assert first.cancel()  # room is handed to `leaving`...
    leaving.cancel()  # ...which leaves before it resumes
    late = await asyncio.wait_for(staying, 10)
    assert pending_of(grinder, "a") == 1
    await grinder.stop()
    assert late.result() == 3


async def test_a_caller_that_passed_its_quota_keeps_its_place_while_the_queue_is_full(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1, max_pending=2)
    blockers = [await grinder.enqueue(abs, -1, owner=owner) for owner in ("b", "c")]
    first = enqueue_task(grinder, -2, "a")  # has room in a's quota, waits for the queue
    await loop_turns(5)
    second = enqueue_task(grinder, -3, "a")  # must not get in too: a's place is held
    await loop_turns(5)
    assert grinder.stats()["waiting_for_room"] == 2
    for blocker in blockers:  # room for two in the queue, but only one in a's quota
        assert blocker.cancel()
    await asyncio.wait_for(first, 10)
    await loop_turns(5)
    assert not second.done()
    assert pending_of(grinder, "a") == 1
    await grinder.stop()


@pytest.mark.parametrize("overflow", ["wait", "reject"])
async def test_submit_from_thread_keeps_the_quota(
    make_grinder: GrinderFactory, overflow: str
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1, overflow=overflow)
    queued = await grinder.enqueue(abs, -1, owner="a")
    future: concurrent.futures.Future[int] = await asyncio.to_thread(
        grinder.submit_from_thread, abs, -9, owner="a"
    )
    other = await asyncio.to_thread(grinder.submit_from_thread, abs, -5, owner="b")
    await wait_until(lambda: pending_of(grinder, "b") == 1, what="b admitted")
    if overflow == "reject":
        error = await asyncio.to_thread(future.exception, GATE_TIMEOUT)
        assert isinstance(error, GrinderOverloadedError)
        assert "'a'" in str(error)
    else:
        await wait_until(lambda: grinder.stats()["waiting_for_room"] == 1, what="a waits")
        assert queued.cancel()
        await wait_until(lambda: pending_of(grinder, "a") == 1, what="thread job queued")
    await grinder.stop()
    assert await asyncio.to_thread(other.result, GATE_TIMEOUT) == 5
    if overflow == "wait":
        assert await asyncio.to_thread(future.result, GATE_TIMEOUT) == 9


async def test_quota_waiters_fail_with_not_started_error_when_the_grinder_stops(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1)
    await grinder.enqueue(abs, -1, owner="a")
    waiter = enqueue_task(grinder, -2, "a")
    await loop_turns(5)
    await asyncio.wait_for(grinder.stop(), 10)
    with pytest.raises(NotStartedError):
        await waiter


async def test_an_owner_that_is_not_a_string_is_refused_by_the_quota(
    make_grinder: GrinderFactory,
) -> None:
    grinder = await make_grinder(max_pending_per_owner=1)
    with pytest.raises(TypeError, match="owner must be a str or None, got int"):
        await grinder.enqueue(abs, -1, owner=5)  # type: ignore[call-overload]
    fine = await grinder.enqueue(abs, -2, owner="fine")
    assert grinder.stats()["submitted"] == 1
    await grinder.stop()
    assert fine.result() == 2


async def test_a_hostile_owner_string_is_counted_under_its_plain_value(
    make_grinder: GrinderFactory,
) -> None:
    class Hostile(str):
        def __hash__(self) -> int:
            raise RuntimeError("hash")

        def __eq__(self, other: object) -> bool:
            raise RuntimeError("eq")

    grinder = await make_grinder(max_pending_per_owner=1, overflow="reject")
    await grinder.enqueue(abs, -1, owner=Hostile("x"))
    with pytest.raises(GrinderOverloadedError, match="'x'"):
        await grinder.enqueue(abs, -2, owner=Hostile("x"))
    assert pending_of(grinder, "x") == 1


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_a_bad_quota_raises_value_error_naming_it(
    manager: LeasedExecutorManager, value: object
) -> None:
    with pytest.raises(ValueError, match="max_pending_per_owner"):
        WorkGrinder(executor_manager=manager, max_pending_per_owner=value)  # type: ignore[arg-type]


def test_a_quota_of_the_wrong_type_raises_type_error(manager: LeasedExecutorManager) -> None:
    with pytest.raises(TypeError, match="max_pending_per_owner"):
        WorkGrinder(executor_manager=manager, max_pending_per_owner="3")  # type: ignore[arg-type]
