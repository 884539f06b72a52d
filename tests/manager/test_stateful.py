"""Stateful property test: the manager keeps its promises under any mix of operations.

A Hypothesis state machine drives one thread-backed manager (1-3 pools of 1-2
threads, on a :class:`~gristmill.testing.FakeClock`) through random
interleavings of ``acquire`` (at once, waiting, with a timeout), release (also
twice, and of dead leases), waiters cancelled (also just after being handed a
pool), held work and its completion (draining), broken executors, clock jumps
(lease expiry, acquire timeouts, keep-alive, periodic size checks), resizes
through ``size_provider`` (also a failing one, also notified from another
thread), ``stop()`` and restarts. A model of what the test holds is checked
against ``stats()`` after every step:

- the books balance and the pool count never exceeds ``max_pools``;
- the live leases are exactly the ones the model expects (expired, broken
  and stopped ones are revoked), and no pool is lent twice at once;
- a retired pool (revoked, broken, stopped) is never lent again, and a pool
  with work still running is not lent before that work is done;
- no waiter waits while a pool is free or there is room for one, waiters are
  served first come first served, none outlives its timeout, and in the end
  every waiter was served or failed;
- after ``stop()`` nothing is leased or alive except threads still running
  held work, and once that work is done no pool thread is left.

The machine runs once on asyncio and once on uvloop, each example on a fresh
event loop that the machine drives with ``run_until_complete``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvloop
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gristmill import (
    ExecutorLease,
    LeasedExecutorManager,
    LeaseExpiredError,
    LeaseUnavailableError,
    NotStartedError,
)
from gristmill.testing import FakeClock
from tests.helpers import wait_until
from tests.manager.support import GATE_TIMEOUT

DEFAULT_LEASE = 60.0
CHECK_INTERVAL = 30.0

# Every duration is a multiple of 0.5 s, so clock arithmetic stays exact.
LEASE_SECONDS = st.sampled_from([None, 10.0, 30.0, 300.0])
TIMEOUTS = st.sampled_from([None, 1.0, 5.0, 20.0])
CLOCK_STEPS = st.sampled_from([0.5, 1.0, 5.0, 10.0, 30.0, 120.0])

_PREFIXES = itertools.count(1)
_POOL_IN_REPR = re.compile(r"pool=([^\s>]+)>$")


def pool_name(lease: ExecutorLease) -> str:
    """The name of the pool behind ``lease``, as its repr shows it."""
    match = _POOL_IN_REPR.search(repr(lease))
    assert match is not None, repr(lease)
    return match.group(1)


def break_executor() -> None:
    """A job whose error tells the manager that its executor broke."""
    raise BrokenExecutor("broken on purpose by the state machine")


class HeldJob:
    """A call that holds its worker thread until its gate opens; returns the thread name."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.thread = ""

    def __call__(self) -> str:
        self.thread = threading.current_thread().name
        self.started.set()
        if not self.gate.wait(GATE_TIMEOUT):
            raise TimeoutError("the state machine never opened this gate")
        return self.thread


@dataclass
class Work:
    """Held work submitted through a lease, and when the pool's books saw it end."""

    lease: ExecutorLease
    pool: str
    job: HeldJob
    future: Future[str]
    settled: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        """Whether the pool still counts this work as in flight (or may)."""
        return not self.settled.is_set()


@dataclass
class WaiterRecord:
    """One ``acquire()`` running as a task, and what the model knows about it."""

    task: asyncio.Task[ExecutorLease]
    deadline: float | None
    stops_seen: int
    """How many times the manager had stopped when this acquire() began."""
    began_running: bool
    outcome: str = "pending"
    cancelled_by_test: bool = False


class ManagerMachine(RuleBasedStateMachine):
    """Random operations on one manager, checked against a model after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = self.new_loop()
        self.loop_errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        self.clock = FakeClock()
        self.prefix = f"sm{next(_PREFIXES)}"
        self._manager: LeasedExecutorManager | None = None
        self.max_pools = self.min_pools = self.workers = self.units = 1
        self.size: int | None = 0  # None: the size provider fails
        self.desired = 1
        self.running = False
        self.stops = 0
        self.live: dict[str, ExecutorLease] = {}
        self.ended: dict[str, ExecutorLease] = {}
        self.released: set[str] = set()
        self.seen_pools: set[str] = set()
        self.retired: set[str] = set()
        self.work: list[Work] = []
        self.waiters: list[WaiterRecord] = []

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this machine drives (one per example)."""
        raise NotImplementedError

    @property
    def manager(self) -> LeasedExecutorManager:
        assert self._manager is not None
        return self._manager

    # ------------------------------------------------------------------ model

    def policy(self, size: int) -> int:
        """The documented sizing rule: ``max(min_pools, ceil(size / units))`` capped."""
        return min(self.max_pools, max(self.min_pools, math.ceil(size / self.units)))

    def read_size(self) -> int:
        if self.size is None:
            raise RuntimeError("size signal unavailable (on purpose)")
        return self.size

    def running_on(self, pool: str) -> int:
        return sum(1 for work in self.work if work.pool == pool and work.running)

    def in_play(self) -> bool:
        """Whether leases, waiters or work are out: the stops worth exploring.

        (Stopping an idle manager is covered by every teardown.)
        """
        return bool(self.live or self.pending_waiters() or self.running_on_any())

    def running_on_any(self) -> bool:
        return any(work.running for work in self.work)

    def has_free_worker(self, lease: ExecutorLease) -> bool:
        return self.running_on(pool_name(lease)) < self.workers

    def free_worker_leases(self) -> list[str]:
        return sorted(lid for lid, lease in self.live.items() if self.has_free_worker(lease))

    def pending_waiters(self) -> list[WaiterRecord]:
        return [record for record in self.waiters if not record.task.done()]

    def expected_draining(self) -> int:
        """Released pools with work in flight, neither past their hard expiry nor retired."""
        now = self.clock.time()
        return len(
            {
                work.pool
                for work in self.work
                if work.running
                and work.lease.lease_id in self.released
                and work.lease.hard_expires_at > now
                and work.pool not in self.retired
            }
        )

    def end(self, lease_id: str, *, revoked: bool) -> None:
        lease = self.live.pop(lease_id)
        self.ended[lease_id] = lease
        if revoked:
            self.retired.add(pool_name(lease))
        else:
            self.released.add(lease_id)

    def adopt(self, lease: ExecutorLease) -> None:
        """Take a lease just handed out, checking which pool the manager chose."""
        pool = pool_name(lease)
        assert pool not in self.retired, f"retired pool {pool} was lent again"
        assert pool not in {pool_name(held) for held in self.live.values()}, (
            f"pool {pool} is lent to two live leases"
        )
        assert not any(work.pool == pool and not work.future.done() for work in self.work), (
            f"pool {pool} was lent while work from its previous lease was still running"
        )
        assert lease.lease_id not in self.live, lease
        assert lease.lease_id not in self.ended, lease
        self.live[lease.lease_id] = lease
        self.seen_pools.add(pool)

    def apply_expiry(self) -> None:
        """Leases past their hard expiry are revoked; so are draining pools past theirs."""
        now = self.clock.time()
        for lease_id, lease in list(self.live.items()):
            if lease.hard_expires_at <= now:
                self.end(lease_id, revoked=True)
        for work in self.work:
            if (
                work.running
                and work.lease.lease_id in self.released
                and work.lease.hard_expires_at <= now
            ):
                self.retired.add(work.pool)

    def collect_waiters(self) -> None:
        """Record how finished ``acquire()`` tasks ended; adopt the leases they got."""
        for record in self.waiters:
            if record.outcome != "pending" or not record.task.done():
                continue
            if record.task.cancelled():
                assert record.cancelled_by_test, "an acquire() task was cancelled by nobody"
                record.outcome = "cancelled"
                continue
            error = record.task.exception()
            if error is None:
                record.outcome = "served"
                self.adopt(record.task.result())
            elif isinstance(error, TimeoutError):
                assert record.deadline is not None, "timed out without a timeout"
                assert record.deadline <= self.clock.time(), "timed out early"
                record.outcome = "timed out"
            elif isinstance(error, NotStartedError):
                stopped = self.stops > record.stops_seen or not record.began_running
                assert stopped, "acquire() failed as not started, but the manager ran throughout"
                record.outcome = "stopped"
            else:
                raise error

    def pool_threads(self) -> set[str]:
        prefix = f"{self.prefix}-thread-"
        return {thread.name for thread in threading.enumerate() if thread.name.startswith(prefix)}

    def only_busy_threads_alive(self) -> bool:
        busy = {work.job.thread for work in self.work if work.running}
        return self.pool_threads() <= busy

    # ------------------------------------------------------- driving the loop

    def run(self, step: Coroutine[Any, Any, None]) -> None:
        """Run one step on the machine's loop, then let the manager settle."""
        self.loop.run_until_complete(self._step(step))

    async def _step(self, step: Coroutine[Any, Any, None]) -> None:
        await step
        await self.settle()

    async def settle(self) -> None:
        """Let signals from worker threads land and woken waiters finish; update the model."""
        await wait_until(
            lambda: self.manager.stats()["draining"] == self.expected_draining(),
            timeout=5.0,
            what="the draining pools to match the model",
        )
        await wait_until(
            lambda: len(self.pending_waiters()) == self.manager.stats()["waiters"],
            timeout=5.0,
            what="every acquire() the manager let go to finish",
        )
        self.apply_expiry()
        self.collect_waiters()
        self.apply_expiry()

    async def give_back(self, lease: ExecutorLease, via_manager: bool) -> None:
        if via_manager:
            await self.manager.release(lease.lease_id)
        else:
            await lease.release()

    # ------------------------------------------------------------------ rules

    @initialize(
        max_pools=st.integers(1, 3),
        min_pools=st.integers(1, 3),
        workers=st.integers(1, 2),
        units=st.integers(1, 3),
        grace=st.sampled_from([0.0, 5.0]),
        keepalive=st.sampled_from([0.0, 5.0]),
    )
    def start_manager(
        self,
        max_pools: int,
        min_pools: int,
        workers: int,
        units: int,
        grace: float,
        keepalive: float,
    ) -> None:
        self.max_pools, self.min_pools = max_pools, min(min_pools, max_pools)
        self.workers, self.units, self.desired = workers, units, self.min_pools
        self._manager = LeasedExecutorManager(
            max_pools=max_pools,
            min_pools=self.min_pools,
            workers_per_pool=workers,
            units_per_pool=units,
            size_provider=self.read_size,
            check_interval=CHECK_INTERVAL,
            default_lease_seconds=DEFAULT_LEASE,
            lease_grace_seconds=grace,
            idle_keepalive_seconds=keepalive,
            name_prefix=self.prefix,
            clock=self.clock,
        )
        self.run(self._start())

    async def _start(self) -> None:
        await self.manager.start()
        self.running = True
        if self.size is not None:
            self.desired = self.policy(self.size)

    @rule(lease_seconds=LEASE_SECONDS, owner=st.sampled_from([None, "alice"]))
    def acquire_without_waiting(self, lease_seconds: float | None, owner: str | None) -> None:
        self.run(self._acquire_now(lease_seconds, owner))

    async def _acquire_now(self, lease_seconds: float | None, owner: str | None) -> None:
        if not self.running:
            with pytest.raises(NotStartedError):
                await self.manager.acquire(wait=False)
            return
        stats = self.manager.stats()
        if stats["available"] == 0 and stats["total"] >= self.max_pools:
            with pytest.raises(LeaseUnavailableError):
                await self.manager.acquire(wait=False, lease_seconds=lease_seconds)
            return
        now = self.clock.time()
        lease = await self.manager.acquire(wait=False, lease_seconds=lease_seconds, owner=owner)
        seconds = DEFAULT_LEASE if lease_seconds is None else lease_seconds
        assert (lease.owner, lease.leased_at, lease.soft_expires_at) == (owner, now, now + seconds)
        self.adopt(lease)

    @rule(lease_seconds=LEASE_SECONDS, timeout=TIMEOUTS)
    def acquire_in_a_task(self, lease_seconds: float | None, timeout: float | None) -> None:
        self.run(self._spawn_waiter(lease_seconds, timeout))

    async def _spawn_waiter(self, lease_seconds: float | None, timeout: float | None) -> None:
        deadline = None if timeout is None else self.clock.time() + timeout
        task = asyncio.create_task(
            self.manager.acquire(lease_seconds=lease_seconds, timeout=timeout)
        )
        self.waiters.append(WaiterRecord(task, deadline, self.stops, self.running))

    @precondition(lambda self: bool(self.live))
    @rule(
        data=st.data(),
        twice=st.booleans(),
        via_manager=st.booleans(),
        cancel_next_waiter=st.booleans(),
    )
    def release(
        self, data: st.DataObject, twice: bool, via_manager: bool, cancel_next_waiter: bool
    ) -> None:
        lease_id = data.draw(st.sampled_from(sorted(self.live)), label="lease")
        if cancel_next_waiter and self.pending_waiters():
            self.run(self._release_and_cancel(self.live[lease_id]))
        else:
            self.run(self._release(self.live[lease_id], twice, via_manager))

    async def _release(self, lease: ExecutorLease, twice: bool, via_manager: bool) -> None:
        before = self.manager.stats()["leases_released"]
        await self.give_back(lease, via_manager)
        assert self.manager.stats()["leases_released"] == before + 1
        self.end(lease.lease_id, revoked=False)
        if twice:
            await self.give_back(lease, not via_manager)
            assert self.manager.stats()["leases_released"] == before + 1

    async def _release_and_cancel(self, lease: ExecutorLease) -> None:
        """Release, and cancel the oldest waiter before it can run: it gives the pool back."""
        oldest = self.pending_waiters()[0]
        handed_over = self.running_on(pool_name(lease)) == 0  # else the pool drains first
        before = self.manager.stats()["leases_released"]
        await lease.release()
        oldest.cancelled_by_test = True
        oldest.task.cancel()
        self.end(lease.lease_id, revoked=False)
        await wait_until(oldest.task.done, what="the cancelled waiter to finish")
        assert oldest.task.cancelled()
        assert self.manager.stats()["leases_released"] == before + 1 + handed_over

    @precondition(lambda self: bool(self.ended))
    @rule(data=st.data(), via_manager=st.booleans())
    def use_an_ended_lease(self, data: st.DataObject, via_manager: bool) -> None:
        lease_id = data.draw(st.sampled_from(sorted(self.ended)), label="ended lease")
        self.run(self._use_ended(self.ended[lease_id], via_manager))

    async def _use_ended(self, lease: ExecutorLease, via_manager: bool) -> None:
        before = self.manager.stats()
        with pytest.raises(LeaseExpiredError):
            lease.executor.submit(int)
        await self.give_back(lease, via_manager)
        after = self.manager.stats()
        assert (after["leases_released"], after["leases"]) == (
            before["leases_released"],
            before["leases"],
        )

    @rule(seconds=CLOCK_STEPS)
    def advance_clock(self, seconds: float) -> None:
        self.run(self._advance(seconds))

    async def _advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data(), just_before=st.booleans())
    def advance_to_hard_expiry(self, data: st.DataObject, just_before: bool) -> None:
        lease_id = data.draw(st.sampled_from(sorted(self.live)), label="lease")
        lease = self.live[lease_id]
        step = lease.hard_expires_at - self.clock.time() - (0.5 if just_before else 0.0)
        self.run(self._advance(step))
        listed = {info["lease_id"] for info in self.manager.stats()["leases"]}
        assert (lease_id in listed) is just_before
        if not just_before:
            with pytest.raises(LeaseExpiredError):
                lease.executor.submit(int)

    @precondition(lambda self: bool(self.free_worker_leases()))
    @rule(data=st.data(), then=st.sampled_from(["keep", "release", "finish"]))
    def hold_work(self, data: st.DataObject, then: str) -> None:
        lease_id = data.draw(st.sampled_from(self.free_worker_leases()), label="lease")
        self.run(self._hold(self.live[lease_id], then))

    async def _hold(self, lease: ExecutorLease, then: str) -> None:
        job = HeldJob()
        future = lease.executor.submit(job)
        work = Work(lease, pool_name(lease), job, future)
        # The job cannot finish before its gate opens, so this callback runs after
        # the pool's own one: once it has run, the pool no longer counts the job.
        future.add_done_callback(lambda _future: work.settled.set())
        self.work.append(work)
        await wait_until(job.started.is_set, what="held work to start")
        assert job.thread.startswith(f"{work.pool}_"), (job.thread, work.pool)
        if then == "finish":
            await self._finish_work([work])
        elif then == "release":  # the pool drains: it is not lent again until the work is done
            await self._release(lease, twice=False, via_manager=False)

    @precondition(lambda self: self.running_on_any())
    @rule(data=st.data(), all_of_it=st.booleans())
    def finish_held_work(self, data: st.DataObject, all_of_it: bool) -> None:
        running = [work for work in self.work if work.running]
        chosen = running if all_of_it else [data.draw(st.sampled_from(running), label="work")]
        self.run(self._finish_work(chosen))

    async def _finish_work(self, chosen: list[Work]) -> None:
        for work in chosen:
            work.job.gate.set()
        await wait_until(
            lambda: all(work.settled.is_set() for work in chosen), what="held work to finish"
        )
        for work in chosen:
            assert work.future.result() == work.job.thread

    @precondition(lambda self: bool(self.free_worker_leases()))
    @rule(data=st.data())
    def break_an_executor(self, data: st.DataObject) -> None:
        lease_id = data.draw(st.sampled_from(self.free_worker_leases()), label="lease")
        self.run(self._break(self.live[lease_id]))

    async def _break(self, lease: ExecutorLease) -> None:
        before = self.manager.stats()["pools_broken"]
        future = lease.executor.submit(break_executor)
        await wait_until(
            lambda: self.manager.stats()["pools_broken"] == before + 1,
            what="the broken pool to be retired",
        )
        assert isinstance(future.exception(timeout=GATE_TIMEOUT), BrokenExecutor)
        self.end(lease.lease_id, revoked=True)
        with pytest.raises(LeaseExpiredError):
            lease.executor.submit(int)

    @rule(size=st.one_of(st.none(), st.integers(0, 9)), from_thread=st.booleans())
    def resize(self, size: int | None, from_thread: bool) -> None:
        self.size = size
        if self.running and size is not None:
            self.desired = self.policy(size)
        self.run(self._notify(from_thread))

    async def _notify(self, from_thread: bool) -> None:
        if from_thread:
            await asyncio.to_thread(self.manager.notify_scale_changed)
        else:
            self.manager.notify_scale_changed()

    @precondition(lambda self: bool(self.pending_waiters()))
    @rule(data=st.data())
    def cancel_a_waiter(self, data: st.DataObject) -> None:
        record = data.draw(st.sampled_from(self.pending_waiters()), label="waiter")
        record.cancelled_by_test = True
        record.task.cancel()
        self.run(wait_until(record.task.done, what="the cancelled waiter to finish"))
        assert record.task.cancelled()

    @precondition(lambda self: self.running and self.in_play())
    @rule()
    def stop(self) -> None:
        self.run(self._stop())

    async def _stop(self) -> None:
        await self.manager.stop()
        self.running = False
        self.stops += 1
        for lease_id in list(self.live):
            self.end(lease_id, revoked=True)
        self.retired |= self.seen_pools
        stats = self.manager.stats()
        assert (stats["state"], stats["total"], stats["leases"]) == ("stopped", 0, [])
        with pytest.raises(NotStartedError):
            await self.manager.acquire(wait=False)
        await wait_until(
            self.only_busy_threads_alive, what="pool threads without held work to exit"
        )

    @precondition(lambda self: not self.running)
    @rule()
    def restart(self) -> None:
        self.run(self._start())

    # ------------------------------------------------------------- invariants

    @invariant()
    def books_balance(self) -> None:
        if self._manager is None:
            return
        mgr, stats = self.manager, self.manager.stats()
        assert stats["total"] <= self.max_pools, stats
        assert stats["available"] + stats["leased"] == stats["total"], stats
        assert len(stats["leases"]) == stats["leased"] - stats["draining"], stats
        assert (mgr.available_count, mgr.leased_count, mgr.total_count) == (
            stats["available"],
            stats["leased"],
            stats["total"],
        )
        assert stats["pools_created"] - stats["pools_retired"] == stats["total"], stats
        assert stats["leases_granted"] == (
            stats["leases_released"] + stats["leases_revoked"] + len(stats["leases"])
        ), stats
        assert stats["pools_broken"] <= stats["pools_retired"], stats

    @invariant()
    def leases_match_the_model(self) -> None:
        if self._manager is None:
            return
        stats = self.manager.stats()
        assert {info["lease_id"] for info in stats["leases"]} == set(self.live), stats
        pools = [pool_name(lease) for lease in self.live.values()]
        assert len(set(pools)) == len(pools), f"a pool is lent twice: {pools}"
        assert not self.retired.intersection(pools), f"a retired pool is lent: {pools}"

    @invariant()
    def waiters_are_served_fairly(self) -> None:
        if self._manager is None:
            return
        stats, pending = self.manager.stats(), self.pending_waiters()
        assert stats["waiters"] == len(pending), stats
        if pending:
            assert stats["available"] == 0, f"a pool is idle while {len(pending)} wait: {stats}"
            assert stats["total"] == self.max_pools, f"room for a pool while some wait: {stats}"
        now = self.clock.time()
        assert all(r.deadline is None or r.deadline > now for r in pending), "timeout missed"
        outcomes = [record.outcome for record in self.waiters]
        if "pending" in outcomes:
            later = outcomes[outcomes.index("pending") :]
            assert "served" not in later, f"a later waiter was served first: {outcomes}"

    @invariant()
    def lifecycle_and_size(self) -> None:
        if self._manager is None:
            return
        stats = self.manager.stats()
        if self.running:
            assert stats["state"] == "running", stats
            assert stats["desired"] == self.desired, (stats, self.size)
            assert stats["total"] >= self.desired, stats
        else:
            assert (stats["state"], stats["total"], stats["waiters"]) == ("stopped", 0, 0)

    # --------------------------------------------------------------- teardown

    def teardown(self) -> None:
        # Hypothesis calls teardown() from a ``finally``: after a failed step only
        # clean up, so the report shows that failure rather than a knock-on one.
        failed = sys.exc_info()[1] is not None
        try:
            if self._manager is not None and not failed:
                self.loop.run_until_complete(self._wind_down())
        finally:
            for work in self.work:
                work.job.gate.set()
            if self._manager is not None and self.running:
                self.loop.run_until_complete(self._stop_quietly())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    async def _stop_quietly(self) -> None:
        await self.manager.stop()
        # Let the failed acquire() tasks finish before the loop closes.
        await wait_until(lambda: not self.pending_waiters(), what="every acquire() to end")

    async def _wind_down(self) -> None:
        """Finish all work, give everything back until every waiter is served, then stop."""
        await self._finish_work([work for work in self.work if work.running])
        if self.running:
            for _ in range(len(self.waiters) + 1):
                await self.settle()
                if not self.pending_waiters():
                    break
                for lease_id, lease in list(self.live.items()):
                    await lease.release()
                    self.end(lease_id, revoked=False)
            assert not self.pending_waiters(), "a waiter was not served though all was returned"
            await self._stop()
            await self.settle()
        assert all(record.outcome != "pending" for record in self.waiters)
        await wait_until(lambda: not self.pool_threads(), what="every pool thread to exit")
        assert not self.loop_errors, self.loop_errors


SETTINGS = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow],
)


class AsyncioManagerMachine(ManagerMachine):
    def new_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()


class UvloopManagerMachine(ManagerMachine):
    def new_loop(self) -> asyncio.AbstractEventLoop:
        return uvloop.new_event_loop()


# A passing run takes a few seconds; a failing one is shrunk (Hypothesis caps that at
# 5 minutes) before it is reported, so allow more than the suite's default timeout.
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "machine", [AsyncioManagerMachine, UvloopManagerMachine], ids=["asyncio", "uvloop"]
)
def test_manager_keeps_its_invariants_under_random_operations(
    machine: type[ManagerMachine],
) -> None:
    run_state_machine_as_test(machine, settings=SETTINGS)
