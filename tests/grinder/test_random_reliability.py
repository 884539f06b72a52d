"""Property test of the reliability features together: under any mix of submits (some with
deadlines, some held in their worker, from several owners), cancels, time jumps, revoked
leases, a bounded queue that waits or rejects, every scheduler, dispatch and per-owner quota,
and a final stop that drains, cancels or times out, every caller gets exactly one outcome, its
own, and the counters add up."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill import GrinderOverloadedError, NotStartedError, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import ENDINGS, SCHEDULING, Gate, loop_turns, stop_as_drawn
from tests.helpers import make_manager, wait_until

LEASE_SECONDS = 20.0
"""Leases are revoked this long after they were granted (the manager gets no grace)."""

Op = tuple[Any, ...]

SUBMIT = st.tuples(
    st.sampled_from(["ok", "raise"]),
    st.integers(0, 1000),
    st.sampled_from([None, 3.0, 15.0]),  # the item's own deadline
    st.booleans(),  # held at the gate while running
    st.sampled_from(["a", "b", None]),  # owner
    st.sampled_from([0, 3]),  # priority, under the "fair" scheduler
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.lists(SUBMIT, min_size=1, max_size=6)),
        st.tuples(st.just("cancel"), st.integers(0, 10_000)),
        st.tuples(st.just("yield"), st.integers(1, 4)),
        st.tuples(st.just("advance"), st.sampled_from([1.0, 5.0, 10.0])),
        st.tuples(st.just("revoke")),
        st.tuples(st.just("open")),
    ),
    max_size=30,
)
SETTINGS = st.fixed_dictionaries(
    {
        "max_pending": st.sampled_from([None, 2, 5]),
        "overflow": st.sampled_from(["wait", "reject"]),
        "deadline_seconds": st.sampled_from([None, 5.0]),
        "scheduling": st.sampled_from(SCHEDULING),
    }
)


@dataclass
class Runs:
    """Which items ran, counted from the worker threads."""

    gate: Gate
    counts: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def job(self, index: int, value: int, fail: bool, held: bool) -> int:
        with self.lock:
            self.counts[index] += 1
        if held:
            self.gate.block()
        if fail:
            raise ValueError(index)
        return value * 2


@settings(max_examples=80, deadline=None)
@given(ops=OPS, options=SETTINGS, ending=st.sampled_from(ENDINGS))
async def test_every_caller_gets_exactly_its_own_outcome(
    ops: list[Op], options: dict[str, Any], ending: str
) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    clock = FakeClock()
    manager = make_manager(clock, lease_grace_seconds=0)
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=3,
        max_batch_size=4,
        max_wait_seconds=10.0,
        lease_seconds=LEASE_SECONDS,
        max_pending=options["max_pending"],
        overflow=options["overflow"],
        deadline_seconds=options["deadline_seconds"],
        **options["scheduling"],
    )
    gate = Gate()
    runs = Runs(gate)
    calls: list[tuple[int, bool, bool]] = []  # value, fail, has its own deadline
    tasks: list[asyncio.Task[asyncio.Future[int]]] = []  # each enqueue, which may wait
    cancelled_by_caller: set[int] = set()
    try:
        await grinder.start()
        for op in ops:
            await apply(op, grinder, clock, runs, calls, tasks, cancelled_by_caller)
        await stop_as_drawn(grinder, clock, gate, ending)
        if tasks:  # callers still waiting for room were refused; they finish now
            await asyncio.wait_for(asyncio.wait(tasks), 10)
        gate.open()
        await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="workers finished")
        stats = grinder.stats()
        assert manager.stats()["leased"] == 0
    finally:
        gate.open()
        await grinder.stop(cancel_pending=True)
        await manager.stop()
        loop.set_exception_handler(previous_handler)

    assert loop_errors == []
    seen = [outcome(task) for task in tasks]
    for index, call in enumerate(calls):
        ran = runs.counts[index]
        check_outcome(index, seen[index], call, ran, options, ending, cancelled_by_caller)
    assert all(count == 1 for count in runs.counts.values())
    kinds = Counter(kind for kind, _ in seen)
    counters = ("completed", "failed", "cancelled", "timed_out", "rejected")
    assert [stats[key] for key in counters] == [kinds[key] for key in counters]  # type: ignore[literal-required]
    queued = len(tasks) - kinds["withdrawn"] - kinds["rejected"] - kinds["refused"]
    assert stats["submitted"] == queued
    assert (stats["pending"], stats["waiting_for_room"], stats["state"]) == (0, 0, "stopped")


async def apply(
    op: Op,
    grinder: WorkGrinder,
    clock: FakeClock,
    runs: Runs,
    calls: list[tuple[int, bool, bool]],
    tasks: list[asyncio.Task[asyncio.Future[int]]],
    cancelled_by_caller: set[int],
) -> None:
    """Carry out one random operation."""
    kind = op[0]
    if kind == "submit":  # a burst of callers
        fair = grinder.stats()["scheduler"] == "fair"
        for outcome_kind, value, deadline, held, owner, priority in op[1]:
            fail = outcome_kind == "raise"
            index = len(tasks)
            work = Work(
                runs.job,
                args=(index, value, fail, held),
                deadline_seconds=deadline,
                owner=owner,
                priority=priority if fair else 0,
            )
            tasks.append(asyncio.create_task(grinder.enqueue_work(work)))
            calls.append((value, fail, deadline is not None))
    elif kind == "cancel" and tasks:
        index = op[1] % len(tasks)
        task = tasks[index]
        # Before it is queued the caller cancels the enqueue; after, the item's future.
        queued = task.done() and not task.cancelled() and task.exception() is None
        cancelled = task.result().cancel() if queued else task.cancel()
        if cancelled:
            cancelled_by_caller.add(index)
    elif kind == "yield":
        await loop_turns(op[1])
    elif kind == "advance":
        clock.advance(op[1])
    elif kind == "revoke":
        clock.advance(LEASE_SECONDS)  # every lease out now passes its hard expiry
    elif kind == "open":
        runs.gate.open()


def outcome(task: asyncio.Task[asyncio.Future[int]]) -> tuple[str, BaseException | int | None]:
    """Classify what one caller saw: from its enqueue, then from its item's future."""
    assert task.done()
    if task.cancelled():
        return "withdrawn", None  # the caller cancelled before the item was queued
    error = task.exception()
    if isinstance(error, GrinderOverloadedError):
        return "rejected", error
    if isinstance(error, NotStartedError):  # waited for room, or arrived as stop began
        return "refused", error
    assert error is None, error
    future = task.result()
    assert future.done()
    if future.cancelled():
        return "cancelled", None
    error = future.exception()
    if isinstance(error, TimeoutError):
        return "timed_out", error
    if error is not None:
        return "failed", error
    return "completed", future.result()


def check_outcome(
    index: int,
    seen: tuple[str, BaseException | int | None],
    call: tuple[int, bool, bool],
    ran: int,
    options: dict[str, Any],
    ending: str,
    cancelled_by_caller: set[int],
) -> None:
    """Assert that one caller's outcome is its own and fits what happened to it."""
    kind, detail = seen
    value, fail, has_deadline = call
    if kind in ("withdrawn", "cancelled"):
        assert kind == "cancelled" or index in cancelled_by_caller
        assert index in cancelled_by_caller or ending != "drain"
        return
    assert index not in cancelled_by_caller
    assert ran == (1 if kind in ("completed", "failed") else 0)
    if kind == "rejected":
        assert options["overflow"] == "reject"
    elif kind == "timed_out":
        assert has_deadline or options["deadline_seconds"] is not None
    elif kind == "failed":
        assert fail
        assert isinstance(detail, ValueError)
        assert detail.args == (index,)
    elif kind == "completed":
        assert not fail
        assert detail == value * 2
