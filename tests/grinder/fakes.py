"""Test doubles for the grinder tests.

- :class:`Gate` holds worker threads until the test opens it.
- :class:`ThreadLeaseSource` is a tiny :class:`gristmill.LeaseSource` that gives
  every lease its own fresh thread pool named ``lease-<n>``, so a job can tell
  from its thread name which lease (and therefore which batch) ran it.
- :class:`FailingSubmitExecutor` makes the N-th ``submit`` of a lease fail.
- :func:`stop_as_drawn` ends a property test's run the way Hypothesis drew it.
"""

from __future__ import annotations

import asyncio
import math
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tests.helpers import has_begun, wait_until

if TYPE_CHECKING:
    from gristmill import WorkGrinder
    from gristmill.testing import FakeClock

__all__ = [
    "ENDINGS",
    "GATE_TIMEOUT",
    "SCHEDULING",
    "FailingSubmitExecutor",
    "Gate",
    "ThreadLease",
    "ThreadLeaseSource",
    "batch_launched",
    "loop_turns",
    "pool_of",
    "stop_as_drawn",
]

P = ParamSpec("P")
T = TypeVar("T")

GATE_TIMEOUT = 10.0
"""Real seconds a gated worker waits before failing: turns a bug into an error, not a hang."""


def pool_of(thread_name: str) -> str:
    """Return the pool (or lease) name a worker thread's name starts with."""
    return thread_name.rsplit("_", 1)[0]


async def loop_turns(count: int) -> None:
    """Let the event loop run ``count`` iterations: a drawn step of a property test.

    Only the property tests use it, to let Hypothesis choose how far the
    tasks get between two operations. A test that waits for something uses
    ``wait_until``; one that checks something does not happen uses ``stays``.
    """
    for _ in range(count):
        await asyncio.sleep(0)


async def batch_launched(grinder: WorkGrinder, count: int = 1) -> None:
    """Return on the loop turn that ``count`` batches run, before a new batch task's first step."""
    await wait_until(
        lambda: grinder.stats()["running_batches"] == count,
        what=f"{count} batch(es) launched",
        every_turn=True,
    )


SCHEDULING: tuple[dict[str, Any], ...] = (
    {},
    {"scheduler": "fair"},
    {"scheduler": "fair", "priority_aging_seconds": 5.0, "owner_weights": {"a": 3}},
    {"dispatch": "eager"},
    {"scheduler": "fair", "dispatch": "eager", "max_pending_per_owner": 2},
    {"max_pending_per_owner": 3},
)
"""Scheduling options a property test may draw: every scheduler, dispatch and quota."""

ENDINGS = ("drain", "cancel", "timeout")
"""How a property test's run may end; see :func:`stop_as_drawn`."""


async def stop_as_drawn(grinder: WorkGrinder, clock: FakeClock, gate: Gate, ending: str) -> None:
    """End the run as drawn: drain everything, cancel what is pending, or drain with a timeout."""
    if ending == "drain":
        gate.open()
        await asyncio.wait_for(grinder.stop(), 10)
    elif ending == "cancel":
        await asyncio.wait_for(grinder.stop(cancel_pending=True), 10)
    else:
        stopping = asyncio.create_task(grinder.stop(timeout=30.0))
        await wait_until(lambda: has_begun(stopping), what="stop() armed its timeout")
        clock.advance(30.0)
        await asyncio.wait_for(stopping, 10)


class Gate:
    """A ``threading.Event`` that worker jobs block on, counting who arrived.

    Use it as a context manager so it always opens, even when the test fails.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._arrived = 0

    @property
    def arrived(self) -> int:
        """How many jobs have reached the gate so far."""
        with self._lock:
            return self._arrived

    def block(self) -> None:
        """Wait (in a worker thread) until the gate opens."""
        with self._lock:
            self._arrived += 1
        if not self._event.wait(GATE_TIMEOUT):
            raise TimeoutError("the test never opened the gate")

    def hold(self, value: T) -> T:
        """Block like :meth:`block`, then return ``value`` (a gated job with a result)."""
        self.block()
        return value

    def open(self) -> None:
        """Release every blocked job and all later ones."""
        self._event.set()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.open()


class FailingSubmitExecutor(Executor):
    """Delegates to ``inner`` but raises ``error`` from submit number ``fail_on`` onwards."""

    def __init__(self, inner: Executor, *, fail_on: int, error: BaseException) -> None:
        self._inner = inner
        self._fail_on = fail_on
        self._error = error
        self.submits = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Count the call; fail from the configured one on."""
        self.submits += 1
        if self.submits >= self._fail_on:
            raise self._error
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the wrapped executor down."""
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)


class ThreadLease:
    """One lease of :class:`ThreadLeaseSource`: its own thread pool."""

    def __init__(self, source: ThreadLeaseSource, name: str, executor: Executor) -> None:
        self._source = source
        self.name = name
        self._executor = executor
        self.released = False
        self.retired = False

    @property
    def executor(self) -> Executor:
        """The executor batches submit to."""
        return self._executor

    @property
    def hard_expires_at(self) -> float:
        """These leases never expire."""
        return math.inf

    async def release(self) -> None:
        """Give the lease back; its pool finishes queued work and is then discarded."""
        if not self.released:
            self.released = True
            self._source.active -= 1
            self._executor.shutdown(wait=False)

    async def retire(self) -> None:
        """Give the lease back and cancel its queued work (threads cannot be killed)."""
        if not self.released:
            self.released = True
            self.retired = True
            self._source.active -= 1
            self._executor.shutdown(wait=False, cancel_futures=True)


class ThreadLeaseSource:
    """A :class:`gristmill.LeaseSource` that never runs out: each lease is a fresh pool.

    Args:
        workers_per_pool: Threads in each lease's pool.
        max_pools: Reported to the grinder (the default ``max_concurrent_batches``).
        cross_process: Reported as ``payloads_cross_process``.
        wrap: Wraps each lease's executor, e.g. in :class:`FailingSubmitExecutor`.
        acquire_error: Raised by every ``acquire()``.
    """

    def __init__(
        self,
        *,
        workers_per_pool: int = 2,
        max_pools: int = 2,
        cross_process: bool = False,
        wrap: Callable[[Executor], Executor] | None = None,
        acquire_error: BaseException | None = None,
    ) -> None:
        self._workers = workers_per_pool
        self._max_pools = max_pools
        self._cross_process = cross_process
        self._wrap = wrap
        self._acquire_error = acquire_error
        self.leases: list[ThreadLease] = []
        self.owners: list[str | None] = []
        self.lease_seconds: list[float | None] = []
        self.active = 0

    @property
    def max_pools(self) -> int:
        """Reported pool cap."""
        return self._max_pools

    @property
    def workers_per_pool(self) -> int:
        """Threads per lease pool."""
        return self._workers

    @property
    def payload_dumps(self) -> Callable[[Any], bytes]:
        """Plain pickle."""
        return pickle.dumps

    @property
    def supports_run_timeout(self) -> bool:
        """Threads cannot be stopped."""
        return False

    @property
    def progress_board(self) -> None:
        """Threads post no progress."""
        return None

    @property
    def payloads_cross_process(self) -> bool:
        """Whether the grinder should pickle chunks."""
        return self._cross_process

    async def acquire(
        self,
        *,
        lease_seconds: float | None = None,
        owner: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> ThreadLease:
        """Hand out a new lease at once, or raise ``acquire_error``."""
        if self._acquire_error is not None:
            raise self._acquire_error
        name = f"lease-{len(self.leases) + 1}"
        pool: Executor = ThreadPoolExecutor(self._workers, thread_name_prefix=name)
        if self._wrap is not None:
            pool = self._wrap(pool)
        lease = ThreadLease(self, name, pool)
        self.leases.append(lease)
        self.owners.append(owner)
        self.lease_seconds.append(lease_seconds)
        self.active += 1
        return lease

    def close(self) -> None:
        """Shut down every pool and wait for its threads (test teardown)."""
        for lease in self.leases:
            lease.executor.shutdown(wait=True)
