"""Property test of per-owner quotas: under any mix of callers from several owners (some that
wait for room, some from other threads), cancels of waiting and queued callers, cuts and a final
stop, no owner ever has more than ``max_pending_per_owner`` items pending, every caller gets one
outcome, and the counters add up."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill import GrinderOverloadedError, NotStartedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import loop_turns
from tests.helpers import make_manager

OWNERS = ("a", "b", None)
QUOTA = 2

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("enqueue"), st.sampled_from(OWNERS)),
        st.tuples(st.just("thread"), st.sampled_from(OWNERS)),
        st.tuples(st.just("cancel"), st.integers(0, 10_000)),
        st.tuples(st.just("yield"), st.integers(1, 4)),
        st.tuples(st.just("advance"), st.sampled_from([1.0, 10.0])),
    ),
    max_size=40,
)


def pending_by_owner(grinder: WorkGrinder) -> dict[str | None, int]:
    stats = grinder.stats()
    return {row["owner"]: row["pending"] for row in stats["owners"]}


@settings(max_examples=60, deadline=None)
@given(
    ops=OPS,
    scheduler=st.sampled_from(["fifo", "fair"]),
    overflow=st.sampled_from(["wait", "reject"]),
    max_pending=st.sampled_from([None, 3]),
)
async def test_no_owner_ever_exceeds_its_quota(
    ops: list[tuple[Any, ...]], scheduler: str, overflow: str, max_pending: int | None
) -> None:
    clock = FakeClock()
    manager = make_manager(clock)
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=50,
        max_wait_seconds=10.0,
        scheduler=scheduler,  # type: ignore[arg-type]
        overflow=overflow,  # type: ignore[arg-type]
        max_pending=max_pending,
        max_pending_per_owner=QUOTA,
    )
    callers: list[asyncio.Future[Any]] = []  # enqueue tasks, or wrapped thread futures
    try:
        await grinder.start()
        for op in ops:
            await apply(op, grinder, clock, callers)
            pending = pending_by_owner(grinder)
            assert all(count <= QUOTA for count in pending.values()), pending
            assert sum(pending.values()) == grinder.stats()["pending"]
            if max_pending is not None:
                assert grinder.stats()["pending"] <= max_pending
        await asyncio.wait_for(grinder.stop(), 10)
        if callers:
            await asyncio.wait_for(asyncio.wait(callers), 10)
        stats = grinder.stats()
    finally:
        await grinder.stop(cancel_pending=True)
        await manager.stop()

    kinds = Counter(outcome(caller) for caller in callers)
    assert kinds["rejected"] == stats["rejected"]
    assert kinds["rejected"] == 0 or overflow == "reject"
    assert stats["completed"] >= kinds["completed"]  # a caller may leave as its item ends
    assert stats["cancelled"] <= kinds["cancelled"]  # some callers left before they queued
    assert stats["submitted"] == stats["completed"] + stats["cancelled"]
    assert (stats["pending"], stats["waiting_for_room"]) == (0, 0)


async def apply(
    op: tuple[Any, ...], grinder: WorkGrinder, clock: FakeClock, callers: list[asyncio.Future[Any]]
) -> None:
    kind = op[0]
    if kind == "enqueue":
        callers.append(asyncio.create_task(enqueue_and_wait(grinder, op[1])))
    elif kind == "thread":
        future: concurrent.futures.Future[int] = await asyncio.to_thread(
            grinder.submit_from_thread, abs, -1, owner=op[1]
        )
        callers.append(asyncio.wrap_future(future))
    elif kind == "cancel" and callers:
        callers[op[1] % len(callers)].cancel()
    elif kind == "yield":
        await loop_turns(op[1])
    elif kind == "advance":
        clock.advance(op[1])


async def enqueue_and_wait(grinder: WorkGrinder, owner: str | None) -> int:
    """Enqueue ``abs(-1)`` for ``owner`` (maybe waiting for room), then await the item."""
    future: asyncio.Future[int] = await grinder.enqueue(abs, -1, owner=owner)
    return await future


def outcome(caller: asyncio.Future[Any]) -> str:
    if caller.cancelled():
        return "cancelled"
    error = caller.exception()
    if isinstance(error, GrinderOverloadedError):
        return "rejected"
    if isinstance(error, NotStartedError):
        return "refused"  # waited for room until stop
    assert error is None, error
    assert caller.result() == 1
    return "completed"
