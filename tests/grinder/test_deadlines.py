"""Deadlines: an item not dispatched by its deadline fails with TimeoutError without running,
and no lease is taken for items that are already dead. Timed on the fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.conftest import GrinderFactory
from tests.grinder.fakes import Gate
from tests.helpers import stays, wait_until


async def test_the_grinder_default_deadline_fails_an_item_at_its_deadline_without_running_it(
    make_grinder: GrinderFactory, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    grinder = await make_grinder(deadline_seconds=5.0)
    ran: list[int] = []
    future = await grinder.enqueue(ran.append, 1)
    clock.advance(4.999)
    await stays(lambda: not future.done(), what="the item before its deadline")
    clock.advance(0.001)
    assert future.done()  # at the deadline itself, not a loop turn later
    with pytest.raises(TimeoutError, match="deadline passed after 5 s in the queue"):
        future.result()
    clock.advance(10.0)  # past max_wait: nothing is left to cut
    await stays(lambda: grinder.stats()["batches"] == 0, what="no batch")
    stats = grinder.stats()
    assert (stats["timed_out"], stats["pending"], stats["batches"]) == (1, 0, 0)
    assert manager.stats()["leases_granted"] == 0
    assert ran == []


async def test_a_per_item_deadline_applies_to_that_item_alone(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    ran: list[str] = []
    short = await grinder.enqueue_work(Work(ran.append, args=("short",), deadline_seconds=2.0))
    plain = await grinder.enqueue(ran.append, "plain")
    clock.advance(2.0)
    assert isinstance(short.exception(), TimeoutError)
    assert not plain.done()
    clock.advance(8.0)
    await asyncio.wait_for(plain, 10)
    assert ran == ["plain"]


async def test_a_per_item_deadline_overrides_the_grinder_default(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(deadline_seconds=5.0)
    patient = await grinder.enqueue_work(Work(abs, args=(-3,), deadline_seconds=30.0))
    hasty = await grinder.enqueue_work(Work(abs, args=(-4,), deadline_seconds=1.0))
    default = await grinder.enqueue(abs, -5)
    clock.advance(1.0)
    assert isinstance(hasty.exception(), TimeoutError)
    clock.advance(4.0)
    assert isinstance(default.exception(), TimeoutError)
    clock.advance(5.0)  # max_wait: the patient item is dispatched in time
    assert await asyncio.wait_for(patient, 10) == 3
    assert grinder.stats()["timed_out"] == 2


async def test_a_batch_never_leases_for_items_that_are_already_dead(
    make_grinder: GrinderFactory, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    grinder = await make_grinder(max_wait_seconds=10.0)
    ran: list[int] = []
    doomed = [
        await grinder.enqueue_work(Work(ran.append, args=(i,), deadline_seconds=10.0))
        for i in range(3)
    ]
    clock.advance(10.0)  # the deadlines and the max wait fall due together
    assert all(isinstance(future.exception(), TimeoutError) for future in doomed)
    await stays(lambda: manager.stats()["leases_granted"] == 0, what="no lease for the dead")
    assert grinder.stats()["batches"] == 0
    assert ran == []


async def test_only_live_items_are_cut_into_the_batch(
    make_grinder: GrinderFactory, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    grinder = await make_grinder(batch_size_threshold=3)
    ran: list[int] = []
    doomed = await grinder.enqueue_work(Work(ran.append, args=(0,), deadline_seconds=1.0))
    live = [await grinder.enqueue(ran.append, i) for i in (1, 2)]
    clock.advance(1.0)
    assert isinstance(doomed.exception(), TimeoutError)
    assert grinder.stats()["pending"] == 2
    last = await grinder.enqueue(ran.append, 3)  # back at the threshold of live items
    await asyncio.wait_for(asyncio.gather(*live, last), 10)
    assert sorted(ran) == [1, 2, 3]
    assert manager.stats()["leases_granted"] == 1
    assert grinder.stats()["batches"] == 1


async def test_a_deadline_that_passes_while_the_runner_waits_for_a_lease(
    make_grinder: GrinderFactory, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    grinder = await make_grinder(deadline_seconds=5.0)
    held = [await manager.acquire(owner="test"), await manager.acquire(owner="test")]
    ran: list[int] = []
    try:
        futures = [await grinder.enqueue(ran.append, i) for i in range(4)]
        await wait_until(lambda: manager.stats()["waiters"] == 1, what="runner waits for a lease")
        clock.advance(5.0)
        assert all(isinstance(future.exception(), TimeoutError) for future in futures)
        assert grinder.stats()["pending"] == 0
    finally:
        for lease in held:
            await lease.release()
    # The lease arrives for nobody: it goes straight back and no batch starts.
    await wait_until(lambda: manager.stats()["leases_released"] == 3, what="lease returned")
    assert grinder.stats()["batches"] == 0
    assert manager.stats()["leased"] == 0
    assert ran == []
    later = [await grinder.enqueue(abs, -i) for i in range(4)]  # the grinder still works
    assert await asyncio.wait_for(asyncio.gather(*later), 10) == [0, 1, 2, 3]


async def test_the_deadline_counts_from_enqueue_not_from_the_batch_trigger(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(deadline_seconds=6.0)
    first = await grinder.enqueue(abs, -1)
    clock.advance(4.0)
    second = await grinder.enqueue(abs, -2)
    clock.advance(2.0)
    assert isinstance(first.exception(), TimeoutError)
    assert not second.done()
    clock.advance(4.0)
    assert isinstance(second.exception(), TimeoutError)
    assert grinder.stats()["timed_out"] == 2


async def test_a_cancelled_item_with_a_deadline_counts_as_cancelled_only(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(deadline_seconds=5.0)
    future = await grinder.enqueue(abs, -1)
    assert future.cancel()
    clock.advance(5.0)
    await stays(lambda: grinder.stats()["timed_out"] == 0, what="no time-out counted")
    stats = grinder.stats()
    assert (stats["cancelled"], stats["timed_out"], stats["submitted"]) == (1, 0, 1)


async def test_a_dispatched_item_is_not_failed_by_its_deadline_later(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder(deadline_seconds=5.0, batch_size_threshold=1)
    assert await asyncio.wait_for(grinder.submit(abs, -2), 10) == 2
    clock.advance(5.0)
    stats = grinder.stats()
    assert (stats["completed"], stats["timed_out"]) == (1, 0)


def keywords(**kwargs: Any) -> dict[str, Any]:
    """Return the keyword arguments the callable received."""
    return kwargs


async def test_submit_passes_a_deadline_seconds_keyword_to_the_callable(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    submitted = asyncio.create_task(
        grinder.submit(keywords, deadline_seconds=3, run_timeout_seconds=1)
    )
    await wait_until(lambda: grinder.stats()["pending"] == 1, what="the job queued")
    clock.advance(10.0)  # far past 3 s: the keyword was no deadline for the grinder
    assert await asyncio.wait_for(submitted, 10) == {
        "deadline_seconds": 3,
        "run_timeout_seconds": 1,
    }
    assert grinder.stats()["timed_out"] == 0


async def test_work_keeps_its_options_apart_from_the_callables_keywords(
    make_grinder: GrinderFactory, clock: FakeClock
) -> None:
    grinder = await make_grinder()
    work = Work(keywords, kwargs={"deadline_seconds": "mine"}, deadline_seconds=30.0)
    future = await grinder.enqueue_work(work)
    clock.advance(10.0)
    assert await asyncio.wait_for(future, 10) == {"deadline_seconds": "mine"}


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-1.0, ValueError), ("one", TypeError)]
)
def test_a_bad_grinder_deadline_raises_naming_it(
    manager: LeasedExecutorManager, value: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="deadline_seconds"):
        WorkGrinder(executor_manager=manager, deadline_seconds=value)


async def test_an_item_requeued_after_its_lease_was_revoked_no_longer_has_a_deadline(
    make_grinder: GrinderFactory, clock: FakeClock, manager: LeasedExecutorManager
) -> None:
    # One batch at a time: the requeued items wait for the revoked batch's slot.
    grinder = await make_grinder(
        deadline_seconds=80.0, lease_seconds=60.0, max_concurrent_batches=1
    )
    with Gate() as gate:
        futures = [await grinder.enqueue(gate.hold, i) for i in range(4)]
        await wait_until(lambda: gate.arrived == 2, what="both workers busy")
        clock.advance(75.0)  # the lease (60 s + 15 s grace) is revoked
        await wait_until(lambda: grinder.stats()["retried"] == 2, what="requeued")
        clock.advance(10.0)  # past the 80 s deadline while they wait for the slot
        await stays(lambda: grinder.stats()["timed_out"] == 0, what="no deadline")
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 2, 3]
