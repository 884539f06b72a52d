"""When a batch starts: the 10 s max wait of the oldest pending job, or the threshold.

All timing runs on the fake clock at the spec's real magnitude (max_wait 10 s).
"""

from __future__ import annotations

import asyncio

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import stays, wait_until


def _advance_to(clock: FakeClock, when: float) -> None:
    clock.advance(when - clock.time())


async def test_nothing_runs_before_max_wait_and_the_batch_runs_at_10_s(
    grinder: WorkGrinder, manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    ran: list[int] = []
    future = await grinder.enqueue(ran.append, 1)
    _advance_to(clock, 9.99)
    await stays(
        lambda: (
            not future.done()
            and grinder.stats()["batches"] == 0
            and manager.stats()["leases_granted"] == 0
        ),
        what="no batch before the max wait",
    )
    assert ran == []

    _advance_to(clock, 10.0)
    await asyncio.wait_for(future, 10)
    assert ran == [1]
    assert grinder.stats()["batches"] == 1


async def test_threshold_dispatches_at_once_without_advancing_the_clock(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    futures = [await grinder.enqueue(pow, i, 2) for i in range(3)]
    await stays(lambda: grinder.stats()["batches"] == 0, what="no batch below the threshold")
    assert not any(future.done() for future in futures)
    futures.append(await grinder.enqueue(pow, 3, 2))
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 4, 9]
    assert clock.time() == 0.0
    assert grinder.stats()["batches"] == 1


async def test_max_wait_timer_follows_the_oldest_pending_job(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    oldest = await grinder.enqueue(str, "oldest")
    _advance_to(clock, 6.0)
    newer = await grinder.enqueue(str, "newer")
    _advance_to(clock, 9.99)
    await stays(lambda: not oldest.done(), what="the oldest job waiting")
    _advance_to(clock, 10.0)
    await asyncio.wait_for(asyncio.gather(oldest, newer), 10)
    assert (oldest.result(), newer.result()) == ("oldest", "newer")
    assert grinder.stats()["batches"] == 1


async def test_cancelling_the_oldest_hands_the_timer_to_the_next_oldest(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    oldest = await grinder.enqueue(str, "oldest")
    _advance_to(clock, 6.0)
    newer = await grinder.enqueue(str, "newer")
    oldest.cancel()
    _advance_to(clock, 10.0)
    await stays(lambda: not newer.done(), what="the newer job waiting")
    assert grinder.stats()["oldest_wait_seconds"] == 4.0
    _advance_to(clock, 15.99)
    await stays(lambda: not newer.done(), what="the newer job waiting")
    _advance_to(clock, 16.0)
    assert await asyncio.wait_for(newer, 10) == "newer"


async def test_a_new_job_after_a_batch_waits_its_own_full_max_wait(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    first = await grinder.enqueue(str, "first")
    _advance_to(clock, 10.0)
    await asyncio.wait_for(first, 10)
    _advance_to(clock, 15.0)
    second = await grinder.enqueue(str, "second")
    _advance_to(clock, 24.99)
    await stays(lambda: not second.done(), what="the second job waiting")
    _advance_to(clock, 25.0)
    assert await asyncio.wait_for(second, 10) == "second"


async def test_threshold_counts_only_live_jobs(grinder: WorkGrinder) -> None:
    futures = [await grinder.enqueue(abs, -i) for i in range(3)]
    futures[0].cancel()
    await wait_until(lambda: grinder.stats()["pending"] == 2, what="the cancelled job gone")
    futures.append(await grinder.enqueue(abs, -3))
    await stays(lambda: grinder.stats()["batches"] == 0, what="no batch below the threshold")
    futures.append(await grinder.enqueue(abs, -4))
    assert await asyncio.wait_for(asyncio.gather(*futures[1:]), 10) == [1, 2, 3, 4]


async def test_oldest_wait_seconds_is_exact_on_the_fake_clock(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    assert grinder.stats()["oldest_wait_seconds"] == 0.0
    await grinder.enqueue(str, "a")
    clock.advance(3.5)
    await grinder.enqueue(str, "b")
    assert grinder.stats()["oldest_wait_seconds"] == 3.5
    clock.advance(2.25)
    assert grinder.stats()["oldest_wait_seconds"] == 5.75
    await wait_until(lambda: grinder.stats()["pending"] == 2, what="both pending")


async def test_a_due_backlog_runs_entirely_without_waiting_for_max_wait(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    grinder = WorkGrinder(executor_manager=manager)  # threshold 20, two free leases
    await grinder.start()
    try:
        futures = [await grinder.enqueue(abs, -i) for i in range(30)]
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == list(range(30))
        assert clock.time() == 0.0
    finally:
        await grinder.stop()


async def test_a_remainder_cut_off_by_max_batch_size_keeps_its_turn(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=20, max_batch_size=20)
    await grinder.start()
    try:
        futures = [await grinder.enqueue(abs, -i) for i in range(25)]
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == list(range(25))
        assert clock.time() == 0.0
        assert grinder.stats()["batches"] == 2
    finally:
        await grinder.stop()
