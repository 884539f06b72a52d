"""Property test of pool crashes: under any mix of submits, items that crash their own pool,
pools crashed from outside, cancels, time jumps and a final stop, under every scheduler and
dispatch (crashed items are requeued through the scheduler's queue), every caller gets exactly
one outcome, its own or its pool's crash, no item runs more often than crashes allow, and
the grinder's and the manager's counters add up.

The pools come from a test backend, registered through :func:`gristmill.register_backend`,
whose executors can *crash* the way a process pool does when a worker dies: every future
still outstanding (queued or running) fails with ``BrokenExecutor`` and every later submit
raises it. It has no progress board, so the grinder cannot tell which item was running when
a pool died. Two deterministic tests pin down failures the property test found.
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    InvalidStateError,
    ThreadPoolExecutor,
)
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ParamSpec, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill import WorkerCrashedError, WorkGrinder, register_backend
from gristmill.testing import FakeClock
from tests.grinder.fakes import ENDINGS, SCHEDULING, Gate, loop_turns, pool_of, stop_as_drawn
from tests.helpers import has_begun, make_manager, wait_until

P = ParamSpec("P")
T = TypeVar("T")

BACKEND = "crashable-thread"
"""The name this module registers its backend under."""

POOLS: dict[str, CrashableExecutor] = {}
"""Every live example's executors by thread-name prefix, so a job can find its own pool."""

OWNERS = ("a", "b", None)
"""Items are spread over these owners, so the "fair" scheduler has lanes to share."""

_serial = itertools.count(1)


class CrashableExecutor(Executor):
    """A thread pool that can crash like a process pool whose worker died.

    Callers get their own futures; the inner pool's outcomes are copied onto them unless
    the pool crashed first. Thread-safe. Callbacks of the callers' futures never run under
    this executor's lock (the manager's pool gate calls ``submit`` under its own lock).
    """

    def __init__(self, workers: int, prefix: str) -> None:
        self.prefix = prefix
        self._inner = ThreadPoolExecutor(workers, thread_name_prefix=prefix)
        self._lock = threading.Lock()
        self._outstanding: set[Future[Any]] = set()
        self._error: BrokenExecutor | None = None
        self.shut = False
        self.failed = 0  # callers' futures the crash failed
        self.refused = 0  # submits refused after the crash

    @property
    def crashed(self) -> bool:
        """Whether :meth:`crash` has broken this pool."""
        with self._lock:
            return self._error is not None

    @property
    def busy(self) -> bool:
        """Whether some caller's future is still outstanding."""
        with self._lock:
            return bool(self._outstanding)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn`` on a thread, or raise the crash's ``BrokenExecutor``."""
        outer: Future[T] = Future()
        with self._lock:
            if self._error is not None:
                self.refused += 1
                raise self._error
            inner = self._inner.submit(self._start, outer, fn, *args, **kwargs)
            self._outstanding.add(outer)
        inner.add_done_callback(partial(self._copy, outer))
        return outer

    def crash(self) -> bool:
        """Fail every outstanding future and all later submits; return whether it was live."""
        with self._lock:
            if self._error is not None or self.shut:
                return False
            self._error = BrokenExecutor(f"pool crashed: {self.prefix}")
            victims = list(self._outstanding)
            self._outstanding.clear()
        self._inner.shutdown(wait=False, cancel_futures=True)
        for future in victims:
            try:
                future.set_exception(self._error)
            except InvalidStateError:  # its caller cancelled it before it started
                continue
            with self._lock:
                self.failed += 1
        return True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the inner pool down; queued work it cancels is cancelled for its callers."""
        with self._lock:
            self.shut = True
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)

    def _start(self, outer: Future[Any], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Worker thread: run ``fn`` unless the pool crashed or the caller cancelled."""
        with self._lock:
            if self._error is not None or not outer.set_running_or_notify_cancel():
                return None  # nobody reads it
        return fn(*args, **kwargs)

    def _copy(self, outer: Future[T], inner: Future[T]) -> None:
        """Give the caller the inner outcome, unless the crash already failed its future."""
        with self._lock:
            if outer not in self._outstanding:
                return
            self._outstanding.discard(outer)
        try:
            if inner.cancelled():
                outer.cancel()
            elif (error := inner.exception()) is not None:
                outer.set_exception(error)
            else:
                outer.set_result(inner.result())
        except InvalidStateError:  # cancelled by its caller and never started
            pass


class CrashableThreadBackend:
    """A :class:`gristmill.Backend` of crashable thread pools, each with a unique prefix."""

    name = BACKEND
    payloads_cross_process = False
    can_kill_workers = False
    supports_run_timeout = False
    accepted_options: frozenset[str] = frozenset()

    def open(self, options: Mapping[str, Any]) -> None:
        """Nothing to acquire."""

    def close(self) -> None:
        """Nothing to release."""

    def dumps(self, obj: Any) -> bytes:
        """Never called: payloads stay in the process."""
        return pickle.dumps(obj)

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build a :class:`CrashableExecutor` and file it under its thread-name prefix."""
        executor = CrashableExecutor(workers, f"{name}.{next(_serial)}")
        POOLS[executor.prefix] = executor
        return executor

    def kill_workers(self, executor: Executor) -> None:
        """Threads cannot be killed."""

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Nothing to warm."""


def crash_my_pool() -> bool:
    """Called in a job: crash the pool whose thread runs it; return whether it was live."""
    return POOLS[pool_of(threading.current_thread().name)].crash()


@pytest.fixture(scope="module", autouse=True)
def crashable_backend() -> Iterator[None]:
    """Register the crashable backend for this module; join every pool it left behind."""
    register_backend(BACKEND, CrashableThreadBackend, replace=True)
    yield
    join_pools()


def join_pools() -> None:
    """Wait for every pool's threads (zombies of crashed pools too) and forget the pools."""
    for executor in list(POOLS.values()):
        executor.shutdown(wait=True)
    POOLS.clear()


CRASHED = object()
"""What a crashing item returns: its caller must never see it."""

Op = tuple[Any, ...]

SUBMIT = st.tuples(
    st.sampled_from(["ok", "ok", "ok", "raise"]),
    st.integers(0, 1000),
    st.booleans(),  # held at the gate while running
)
OPS = st.lists(
    st.one_of(
        st.lists(SUBMIT, min_size=1, max_size=4).map(lambda burst: ("submit", burst)),
        st.tuples(st.just("crash"), st.booleans()),  # an item that crashes its own pool
        st.tuples(st.just("cancel"), st.integers(0, 10_000)),
        st.tuples(st.just("yield"), st.integers(1, 4)),
        st.tuples(st.just("advance"), st.sampled_from([1.0, 5.0, 10.0])),
        # from outside: a pool with work in flight, or (True) any live pool, idle ones too
        st.tuples(st.just("crash-pool"), st.integers(0, 10_000), st.booleans()),
        st.tuples(st.just("open")),
    ),
    min_size=3,
    max_size=25,
)


@dataclass
class Runs:
    """The jobs, and how often each item started, counted from the worker threads."""

    gate: Gate
    counts: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def job(self, index: int, value: int, fail: bool, held: bool) -> int:
        self._started(index, held)
        if fail:
            raise ValueError(index)
        return value * 2

    def crash_job(self, index: int, held: bool) -> object:
        self._started(index, held)
        crash_my_pool()
        return CRASHED

    def _started(self, index: int, held: bool) -> None:
        with self.lock:
            self.counts[index] += 1
        if held:
            self.gate.block()


@dataclass
class Caller:
    """One submitted item: what it was asked to do, and how often its future resolved."""

    kind: str  # "ok", "raise" or "crash"
    value: int
    future: asyncio.Future[Any]
    resolved: int = 0

    def __post_init__(self) -> None:
        self.future.add_done_callback(self._count)

    def _count(self, _future: asyncio.Future[Any]) -> None:
        self.resolved += 1


@settings(max_examples=100, deadline=None)
@given(
    ops=OPS,
    max_retries=st.sampled_from([0, 1, 2]),
    ending=st.sampled_from(ENDINGS),
    scheduling=st.sampled_from(
        [options for options in SCHEDULING if "max_pending_per_owner" not in options]
    ),
)
async def test_crashing_pools_never_strand_swap_or_double_resolve_an_item(
    ops: list[Op], max_retries: int, ending: str, scheduling: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    clock = FakeClock()
    manager = make_manager(clock, backend=BACKEND)
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=3,
        max_batch_size=4,
        max_wait_seconds=10.0,
        lease_seconds=10_000.0,  # revoked leases are test_random_reliability's concern
        max_retries=max_retries,
        **scheduling,
    )
    runs = Runs(Gate())
    callers: list[Caller] = []
    cancelled_by_caller: set[int] = set()
    try:
        await grinder.start()
        for op in ops:
            await apply(op, grinder, clock, runs, callers, cancelled_by_caller)
        await stop_as_drawn(grinder, clock, runs.gate, ending)
        runs.gate.open()
        await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="workers finished")
        await wait_until(
            lambda: all(caller.resolved or not caller.future.done() for caller in callers),
            what="the done callbacks of every resolved future",
        )
        stats = grinder.stats()
        manager_stats = manager.stats()
    finally:
        runs.gate.open()
        await grinder.stop(cancel_pending=True)
        await manager.stop()
        loop.set_exception_handler(previous_handler)
        pools = list(POOLS.values())
        join_pools()

    assert loop_errors == []
    crashes = sum(pool.crashed for pool in pools)
    noticed = sum(pool.crashed and (pool.failed + pool.refused > 0) for pool in pools)
    kinds: Counter[str] = Counter()
    for index, caller in enumerate(callers):
        assert caller.resolved == 1, (index, caller.resolved)
        kinds[
            check_outcome(index, caller, runs.counts[index], crashes, ending, cancelled_by_caller)
        ] += 1
    assert all(count <= crashes + 1 for count in runs.counts.values()), (runs.counts, crashes)
    assert stats["submitted"] == len(callers)
    settled = stats["completed"] + stats["failed"] + stats["cancelled"] + stats["timed_out"]
    assert stats["submitted"] == settled
    assert [stats["completed"], stats["failed"], stats["cancelled"], stats["timed_out"]] == [
        kinds["completed"],
        kinds["failed"],
        kinds["cancelled"],
        0,
    ]
    assert (stats["pending"], stats["in_flight"], stats["state"]) == (0, 0, "stopped")
    assert noticed <= manager_stats["pools_broken"] <= crashes
    assert manager_stats["leased"] == 0


async def test_an_item_requeued_just_as_the_drained_runner_ends_runs_again_cleanly() -> None:
    """The reduction of a failure the property test found; deterministic."""
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    manager = make_manager(FakeClock(), backend=BACKEND)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=2, max_batch_size=2)
    gate = Gate()
    try:
        await grinder.start()
        quick = await grinder.enqueue(abs, -1)
        held = await grinder.enqueue(gate.hold, 2)
        await wait_until(lambda: quick.done() and gate.arrived == 1, what="held item running")
        [pool] = [pool for pool in POOLS.values() if pool.busy]
        stopping = asyncio.create_task(grinder.stop())
        # stop() flushes: once it has begun, the runner's last wake-up is queued.
        await wait_until(lambda: has_begun(stopping), what="stop() to begin", every_turn=True)
        pool.crash()  # the lost chunk is settled right after it: the held item goes back
        gate.open()
        await asyncio.wait_for(stopping, 10)
        assert await asyncio.wait_for(held, 10) == 2
        stats = grinder.stats()
        assert (stats["completed"], stats["retried"], stats["running_batches"]) == (2, 1, 0)
    finally:
        gate.open()
        await grinder.stop(cancel_pending=True)
        await manager.stop()
        loop.set_exception_handler(previous_handler)
        join_pools()
    assert loop_errors == []


async def test_an_item_that_keeps_crashing_its_pool_fails_after_max_retries_lone_runs() -> None:
    """Without a progress board, a batch of one item is the item's own: it is charged."""
    runs: list[int] = []

    def crash_after_counting() -> bool:
        runs.append(1)
        return crash_my_pool()

    manager = make_manager(FakeClock(), backend=BACKEND)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1, max_retries=2)
    try:
        await grinder.start()
        crasher = await grinder.enqueue(crash_after_counting)
        with pytest.raises(WorkerCrashedError, match=r"3 times, max_retries=2") as caught:
            await asyncio.wait_for(crasher, 10)
        assert isinstance(caught.value.__cause__, BrokenExecutor)
        assert len(runs) == 3
        assert await asyncio.wait_for(grinder.submit(abs, -4), 10) == 4  # the grinder goes on
        assert grinder.stats()["retried"] == 2
        assert manager.stats()["pools_broken"] == 3
    finally:
        await grinder.stop(cancel_pending=True)
        await manager.stop()
        join_pools()


async def test_a_pool_refusing_a_submit_counts_as_broken_even_when_released_as_surplus() -> None:
    """The reduction of a second failure the property test found; deterministic."""
    manager = make_manager(FakeClock(), backend=BACKEND, idle_keepalive_seconds=0)
    await manager.start()
    try:
        kept = await manager.acquire()
        surplus = await manager.acquire()  # a second pool, above the target of one
        broken = list(POOLS.values())[-1]
        broken.crash()  # while idle: nothing outstanding fails, only the next submit
        with pytest.raises(BrokenExecutor, match="pool crashed"):
            surplus.executor.submit(abs, -1)
        await surplus.release()  # the surplus pool is retired at once (keep-alive 0)
        await wait_until(lambda: manager.stats()["pools_retired"] == 1, what="surplus retired")
        stats = manager.stats()
        assert (stats["pools_retired"], stats["pools_broken"]) == (1, 1), stats
        await kept.release()
    finally:
        await manager.stop()
        join_pools()


async def apply(
    op: Op,
    grinder: WorkGrinder,
    clock: FakeClock,
    runs: Runs,
    callers: list[Caller],
    cancelled_by_caller: set[int],
) -> None:
    """Carry out one random operation."""
    kind = op[0]
    if kind == "submit":
        for item_kind, value, held in op[1]:
            index = len(callers)
            future = await grinder.enqueue(
                runs.job, index, value, item_kind == "raise", held, owner=OWNERS[index % 3]
            )
            callers.append(Caller(item_kind, value, future))
    elif kind == "crash":
        crashing: asyncio.Future[object] = await grinder.enqueue(
            runs.crash_job, len(callers), op[1]
        )
        callers.append(Caller(kind, 0, crashing))
    elif kind == "cancel" and callers:
        index = op[1] % len(callers)
        if callers[index].future.cancel():
            cancelled_by_caller.add(index)
    elif kind == "yield":
        await loop_turns(op[1])
    elif kind == "advance":
        clock.advance(op[1])
    elif kind == "crash-pool":
        _, pick, idle_too = op
        live = [pool for pool in POOLS.values() if not pool.crashed and not pool.shut]
        candidates = live if idle_too else [pool for pool in live if pool.busy]
        if candidates:
            candidates[pick % len(candidates)].crash()
    elif kind == "open":
        runs.gate.open()


def check_outcome(
    index: int,
    caller: Caller,
    ran: int,
    crashes: int,
    ending: str,
    cancelled_by_caller: set[int],
) -> str:
    """Assert that one caller's outcome is its own or its pool's crash; return its kind."""
    future = caller.future
    assert future.done()
    if future.cancelled():
        assert index in cancelled_by_caller or ending != "drain"
        return "cancelled"
    assert index not in cancelled_by_caller
    error = future.exception()
    if error is None:
        assert caller.kind == "ok"  # an item that crashes its pool never completes
        assert future.result() == caller.value * 2
        assert ran >= 1
        return "completed"
    if isinstance(error, ValueError):
        assert caller.kind == "raise"
        assert error.args == (index,)
        assert ran >= 1
        return "failed"
    assert crashes >= 1, error
    if isinstance(error, WorkerCrashedError):
        error = error.__cause__
    assert isinstance(error, BrokenExecutor), repr(error)
    assert str(error).startswith("pool crashed: "), repr(error)
    return "failed"
