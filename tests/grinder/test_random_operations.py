"""Property test: under any mix of submit (from several owners), raise, cancel, time jumps and
a final stop, under every scheduler and dispatch, every future is resolved exactly once with
its own outcome and the counters add up."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill import WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import SCHEDULING, loop_turns
from tests.helpers import make_manager, wait_until

Op = tuple[str, int]

OPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["ok", "raise"]), st.integers(0, 1000)),
        st.tuples(st.just("cancel"), st.integers(0, 10_000)),
        st.tuples(st.just("yield"), st.integers(1, 4)),
        st.tuples(st.just("advance"), st.sampled_from([1, 5, 10])),
    ),
    max_size=40,
)


def job(index: int, value: int, fail: bool, runs: list[int]) -> int:
    runs.append(index)  # list.append is atomic: safe from worker threads
    if fail:
        raise ValueError(index)
    return value * 2


@settings(max_examples=60, deadline=None)
@given(ops=OPS, cancel_pending=st.booleans(), scheduling=st.sampled_from(SCHEDULING))
async def test_every_future_resolves_once_with_its_own_outcome(
    ops: list[Op], cancel_pending: bool, scheduling: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    clock = FakeClock()
    manager = make_manager(clock)
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=3,
        max_batch_size=4,
        max_wait_seconds=10.0,
        **{**scheduling, "max_pending_per_owner": None},  # waiting for room is tested elsewhere
    )
    runs: list[int] = []
    futures: list[asyncio.Future[int]] = []
    calls: list[tuple[int, bool]] = []
    cancelled_by_caller: set[int] = set()
    try:
        await grinder.start()
        for kind, arg in ops:
            if kind in ("ok", "raise"):
                fail = kind == "raise"
                owner = ("a", "b", None)[arg % 3]
                futures.append(
                    await grinder.enqueue(job, len(futures), arg, fail, runs, owner=owner)
                )
                calls.append((arg, fail))
            elif kind == "cancel" and futures:
                index = arg % len(futures)
                if futures[index].cancel():
                    cancelled_by_caller.add(index)
            elif kind == "yield":
                await loop_turns(arg)
            elif kind == "advance":
                clock.advance(float(arg))
        await asyncio.wait_for(grinder.stop(cancel_pending=cancel_pending), 10)
        await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="workers finished")
        stats = grinder.stats()
        assert manager.stats()["leased"] == 0
        with pytest.raises(RuntimeError):
            await grinder.enqueue(job, -1, 0, False, runs)
    finally:
        await grinder.stop(cancel_pending=True)
        await manager.stop()
        loop.set_exception_handler(previous_handler)

    assert loop_errors == []
    assert all(future.done() for future in futures)
    run_counts = Counter(runs)
    assert all(count == 1 for count in run_counts.values())
    results = errors = cancelled = 0
    for index, (future, (value, fail)) in enumerate(zip(futures, calls, strict=True)):
        if future.cancelled():
            cancelled += 1
            assert cancel_pending or index in cancelled_by_caller
            continue
        assert index not in cancelled_by_caller
        assert run_counts[index] == 1
        error = future.exception()
        if fail:
            assert isinstance(error, ValueError)
            assert error.args == (index,)
            errors += 1
        else:
            assert error is None
            assert future.result() == value * 2
            results += 1
    assert stats["submitted"] == len(futures)
    assert stats["completed"] == results
    assert stats["failed"] == errors
    assert stats["cancelled"] == cancelled
    assert stats["pending"] == 0
    assert stats["state"] == "stopped"
