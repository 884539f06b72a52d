"""WorkGrinder: batches small sync jobs from many async callers onto leased executors.

::

    callers ── enqueue() ──► JobQueue ──► runner task: wait until a batch is due
                                                 │ (threshold reached / oldest waited max_wait)
                                                 ▼
                             manager.acquire() ──► cut a batch ──► batch task (run_batch)
                                                                     ├─ chunk ─► executor
                                                                     └─ settle ─► caller futures

Several batches may run at once, each on its own lease, up to
``max_concurrent_batches``. The runner only waits and cuts; each batch task owns
its lease and releases it when its chunks have settled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
import threading
from asyncio import get_running_loop
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar, final

from . import _validate as validate
from ._batching import batch_size, due_at
from ._bridge import call_in_loop, mirror
from ._clock import Clock, MonotonicClock, TimerHandle
from ._costs import RunTimes
from ._dispatch import LeaseLike, run_batch
from ._errors import GrinderCrashedError, NotStartedError, WrongLoopError
from ._job import Job
from ._queue import JobQueue
from ._stats import GrinderStats
from ._worker import Outcome

__all__ = ["LeaseSource", "WorkGrinder"]

T = TypeVar("T")


class LeaseSource(Protocol):
    """What the grinder needs from a manager; ``LeasedExecutorManager`` fits."""

    @property
    def max_pools(self) -> int:
        """Most leases that can be out at once; the default ``max_concurrent_batches``."""

    @property
    def workers_per_pool(self) -> int:
        """Workers behind each lease; a batch is cut into chunks for them."""

    @property
    def payloads_cross_process(self) -> bool:
        """Whether calls are pickled to reach the workers, so chunks travel pre-pickled."""

    async def acquire(
        self,
        *,
        lease_seconds: float | None = None,
        owner: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> LeaseLike:
        """Lend one executor; the returned lease has ``executor`` and ``async release()``."""


class _State(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    BROKEN = "broken"


_OBSERVABLE = frozenset({_State.RUNNING, _State.STOPPING, _State.BROKEN})
"""States in which the owning loop can still answer ``stats_from_thread``."""


@final
class WorkGrinder:
    """Async work batcher backed by leased executors.

    Like a mill that waits for a full hopper, or for the first sack to have
    waited long enough, before it turns: callers drop small sync jobs in, and
    the grinder runs them in batches on executors it leases from a
    :class:`~gristmill.LeasedExecutorManager`. A batch starts when
    ``batch_size_threshold`` jobs are pending or the oldest has waited
    ``max_wait_seconds``. Each batch runs on one lease, as a few chunks; every
    caller gets its own result or exception as soon as its chunk finishes.

    Async methods belong to the event loop that called ``start()``; use
    ``submit_from_thread()`` and ``stats_from_thread()`` from other threads.

    Args:
        executor_manager: Where batches lease their executors.
        max_wait_seconds: Longest time the oldest pending job waits for a batch.
        batch_size_threshold: Pending jobs that start a batch at once.
        lease_seconds: Lease length asked for each batch.
        owner_prefix: Prefix of each batch's lease owner label.
        logger: Logger for lifecycle events; defaults to ``gristmill.grinder``.
        max_concurrent_batches: Batches that may run at once (each holds a
            lease). Defaults to the manager's ``max_pools``.
        max_batch_size: Largest batch cut from a backlog. Defaults to
            ``max(batch_size_threshold, 4096)``.
        clock: Time source; defaults to the manager's clock.

    Raises:
        ValueError: a number is zero, negative, NaN, infinite, a bool, or
            fractional where a count is needed.
        TypeError: a parameter has the wrong type.
    """

    def __init__(
        self,
        *,
        executor_manager: LeaseSource,
        max_wait_seconds: float = 10.0,
        batch_size_threshold: int = 20,
        lease_seconds: float = 60.0,
        owner_prefix: str = "work-grinder",
        logger: logging.Logger | None = None,
        max_concurrent_batches: int | None = None,
        max_batch_size: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._max_wait = validate.duration("max_wait_seconds", max_wait_seconds)
        self._threshold = validate.positive_int("batch_size_threshold", batch_size_threshold)
        self._lease_seconds = validate.duration("lease_seconds", lease_seconds)
        if not isinstance(owner_prefix, str):
            raise TypeError(f"owner_prefix must be a str, got {type(owner_prefix).__name__}")
        self._max_concurrent = validate.positive_int(
            "max_concurrent_batches",
            executor_manager.max_pools
            if max_concurrent_batches is None
            else max_concurrent_batches,
        )
        self._max_batch = validate.positive_int(
            "max_batch_size",
            max(self._threshold, 4096) if max_batch_size is None else max_batch_size,
        )
        if self._max_batch < self._threshold:
            raise ValueError(
                f"max_batch_size ({max_batch_size}) must be >= batch_size_threshold "
                f"({batch_size_threshold})"
            )
        self._manager = executor_manager
        self._owner_prefix = owner_prefix
        self._logger = logger or logging.getLogger("gristmill.grinder")
        self._clock: Clock = clock or getattr(executor_manager, "clock", None) or MonotonicClock()
        self._time = self._clock.time
        self._state = _State.CREATED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._runner: asyncio.Task[None] | None = None
        self._batch_tasks: dict[asyncio.Task[None], list[Job]] = {}
        self._abort: asyncio.Future[None] | None = None
        self._crash: BaseException | None = None
        self._queue = JobQueue(self._on_queued_job_cancelled)
        self._waker: asyncio.Future[None] | None = None
        self._running_batches = 0  # batch tasks alive, each holding a lease
        self._busy_batches = 0  # batches with items still to settle
        self._run_times = RunTimes()  # per callable, for chunk sizes
        self._in_flight = 0
        self._submitted = 0
        self._completed = 0
        self._failed = 0
        self._cancelled = 0
        self._batches = 0

    async def start(self) -> None:
        """Start the background task and bind the grinder to the running loop.

        Idempotent on the owning loop; a stopped grinder can be started again.

        Raises:
            WrongLoopError: already running on another loop.
            NotStartedError: a ``stop()`` is still in progress.
            GrinderCrashedError: the grinder crashed earlier.
        """
        loop = asyncio.get_running_loop()
        if self._state is _State.RUNNING:
            self._require_loop("start")
            return
        if self._state is _State.STOPPING:
            raise NotStartedError("WorkGrinder is stopping; await stop() before starting again")
        if self._state is _State.BROKEN:
            raise self._crashed_error()
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._state = _State.RUNNING
        self._abort = loop.create_future()
        self._runner = loop.create_task(self._run(self._abort), name=f"{self._owner_prefix}-runner")
        self._runner.add_done_callback(self._on_task_done)

    async def stop(self, *, cancel_pending: bool = False) -> None:
        """Stop the grinder. Owning loop only; safe to call twice or concurrently.

        By default every pending job still runs (they are flushed as batches
        at once, without waiting for ``max_wait_seconds``) and ``stop`` returns
        when all have settled. With ``cancel_pending=True`` pending jobs are
        cancelled, and so is a runner waiting for a lease and every batch
        waiting for in-flight work; their callers see ``CancelledError``.

        Raises:
            WrongLoopError: called from a loop other than the owning one.
        """
        if self._state in (_State.CREATED, _State.STOPPED):
            return
        self._require_loop("stop")
        if self._state is _State.RUNNING:
            self._state = _State.STOPPING
        if cancel_pending:
            self._cancel_everything()
        else:
            self._wake()
        while tasks := [
            task for task in (self._runner, *self._batch_tasks) if task and not task.done()
        ]:
            await asyncio.wait(tasks)
        if self._state is _State.STOPPING:
            self._state = _State.STOPPED

    async def submit(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> T:
        """Queue ``fn(*args, **kwargs)`` and wait for its result. Owning loop only.

        ``fn`` is positional-only, so a keyword argument named ``fn`` reaches
        the callable. Cancelling the await removes a job that is still pending.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called from a loop other than the owning one.
            GrinderCrashedError: the grinder's background task failed.
            Exception: whatever ``fn`` raised.
        """
        if self._state is not _State.RUNNING or get_running_loop() is not self._loop:
            self._require_accepting("submit")
        future: asyncio.Future[T] = self._put(fn, args, kwargs, owner)
        return await future

    async def enqueue(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> asyncio.Future[T]:
        """Queue ``fn(*args, **kwargs)`` and return its future at once. Owning loop only.

        Cancelling the returned future takes a pending job out of the queue
        immediately; a job already running finishes and its result is dropped.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called from a loop other than the owning one.
            GrinderCrashedError: the grinder's background task failed.
        """
        if self._state is not _State.RUNNING or get_running_loop() is not self._loop:
            self._require_accepting("enqueue")
        return self._put(fn, args, kwargs, owner)

    def submit_from_thread(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Queue a job from another OS thread; returns a thread-safe future.

        Cancelling the returned future cancels the job if it is still pending.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called on the owning loop's thread (use ``enqueue``).
            GrinderCrashedError: the grinder's background task failed.
        """
        loop = self._require_foreign_thread("submit_from_thread")
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def put() -> None:
            try:
                self._require_accepting_state()
                future: asyncio.Future[T] = self._put(fn, args, kwargs, owner)
            except BaseException as exc:
                if result.set_running_or_notify_cancel():
                    result.set_exception(exc)
                return
            mirror(future, result, loop)

        loop.call_soon_threadsafe(put)
        return result

    def stats(self) -> GrinderStats:
        """Return a diagnostic snapshot.

        Safe from anywhere before start and after stop; while running, call it
        on the owning loop's thread.

        Raises:
            WrongLoopError: called from another thread while the grinder runs.
        """
        if self._state in (_State.RUNNING, _State.STOPPING) and (
            threading.get_ident() != self._loop_thread
        ):
            raise WrongLoopError(
                "WorkGrinder.stats() must be called on the owning loop's thread while the "
                "grinder runs; use stats_from_thread() from other threads"
            )
        return self._snapshot()

    async def astats(self) -> GrinderStats:
        """Return a diagnostic snapshot from the owning event loop.

        Raises:
            WrongLoopError: called from a loop other than the owning one.
        """
        if self._loop is not None and self._state is not _State.STOPPED:
            self._require_loop("astats")
        return self._snapshot()

    def stats_from_thread(self, timeout: float | None = None) -> GrinderStats:
        """Return a diagnostic snapshot from another OS thread.

        Raises:
            NotStartedError: the grinder is not running.
            WrongLoopError: called on the owning loop's thread (use ``stats``).
            TimeoutError: the loop did not answer within ``timeout`` seconds.
        """
        limit = validate.optional_timeout("timeout", timeout)
        loop = self._require_foreign_thread("stats_from_thread", accept_stopping=True)
        return call_in_loop(loop, self._snapshot).result(limit)

    def _snapshot(self) -> GrinderStats:
        head = self._queue.head()
        return {
            "started": self._state in (_State.RUNNING, _State.STOPPING),
            "stopping": self._state is _State.STOPPING,
            "state": self._state.value,
            "pending": self._queue.live,
            "batch_size_threshold": self._threshold,
            "max_wait_seconds": self._max_wait,
            "lease_seconds": self._lease_seconds,
            "oldest_wait_seconds": 0.0 if head is None else self._clock.time() - head.enqueued_at,
            "max_concurrent_batches": self._max_concurrent,
            "submitted": self._submitted,
            "completed": self._completed,
            "failed": self._failed,
            "cancelled": self._cancelled,
            "batches": self._batches,
            "running_batches": self._running_batches,
            "in_flight": self._in_flight,
        }

    def _require_loop(self, what: str) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise WrongLoopError(
                f"WorkGrinder.{what}() must be called from the event loop that started the "
                "grinder; from other threads use submit_from_thread()/stats_from_thread()"
            )
        return loop

    def _require_accepting_state(self) -> asyncio.AbstractEventLoop:
        if self._state is _State.RUNNING and self._loop is not None:
            return self._loop
        if self._state is _State.BROKEN:
            raise self._crashed_error()
        if self._state is _State.STOPPING:
            raise NotStartedError("WorkGrinder is stopping; it accepts no new work")
        raise NotStartedError("WorkGrinder is not started; await grinder.start() first")

    def _require_accepting(self, what: str) -> asyncio.AbstractEventLoop:
        self._require_accepting_state()
        return self._require_loop(what)

    def _require_foreign_thread(
        self, what: str, *, accept_stopping: bool = False
    ) -> asyncio.AbstractEventLoop:
        if accept_stopping and self._state in _OBSERVABLE and self._loop is not None:
            loop = self._loop
        else:
            loop = self._require_accepting_state()
        if threading.get_ident() == self._loop_thread:
            raise WrongLoopError(
                f"WorkGrinder.{what}() cannot be called from the owning event-loop thread; "
                "use the async API instead"
            )
        return loop

    def _crashed_error(self) -> GrinderCrashedError:
        error = GrinderCrashedError(
            f"WorkGrinder crashed: {self._crash!r}; stop() it and create a new grinder"
        )
        error.__cause__ = self._crash
        return error

    def _put(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: str | None,
    ) -> asyncio.Future[Any]:
        """Queue one job (owning loop, state already checked). The per-item hot path."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        job = Job(loop=self._loop)
        job.fn, job.args, job.kwargs, job.owner = fn, args, kwargs or None, owner
        job.enqueued_at = self._time()
        live = self._queue.push(job)
        self._submitted += 1
        waker = self._waker
        if waker is not None and (live == 1 or live >= self._threshold) and not waker.done():
            waker.set_result(None)
        return job

    def _on_queued_job_cancelled(self) -> None:
        self._cancelled += 1
        self._wake()  # the due time may have moved, or a stop may now be done flushing

    def _wake(self) -> None:
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    async def _run(self, abort: asyncio.Future[None]) -> None:
        """Runner task: wait until a batch is due, lease, cut, hand off; repeat.

        ``abort`` is resolved by ``stop(cancel_pending=True)``; each batch watches it.
        """
        manager = self._manager
        while await self._wait_until_due():
            owner = f"{self._owner_prefix}-{self._batches + 1}"
            lease = await manager.acquire(lease_seconds=self._lease_seconds, owner=owner)
            items = self._cut()
            if not items:
                await lease.release()
                continue
            self._launch(lease, items, owner, abort)

    async def _wait_until_due(self) -> bool:
        """Return True when a batch should be cut now, False once a stop has flushed the queue."""
        loop = asyncio.get_running_loop()
        while True:
            head = self._queue.head()
            due = due_at(
                pending=self._queue.live,
                threshold=self._threshold,
                oldest_at=None if head is None else head.enqueued_at,
                max_wait=self._max_wait,
                flushing=self._state is not _State.RUNNING,
                overdue=self._queue.overdue,
            )
            if due is None and self._state is not _State.RUNNING:
                return False
            timer: TimerHandle | None = None
            if self._running_batches < self._max_concurrent and due is not None:
                if due <= self._clock.time():
                    self._queue.mark_due()
                    return True
                timer = self._clock.call_at(due, self._wake)
            self._waker = loop.create_future()
            try:
                await self._waker
            finally:
                self._waker = None
                if timer is not None:
                    timer.cancel()

    def _cut(self) -> list[Job]:
        return self._queue.take(
            batch_size(
                pending=self._queue.live,
                threshold=self._threshold,
                slots=self._max_concurrent - self._busy_batches,
                max_batch=self._max_batch,
            )
        )

    def _launch(
        self, lease: LeaseLike, items: list[Job], owner: str, abort: asyncio.Future[None]
    ) -> None:
        self._batches += 1
        self._running_batches += 1
        self._busy_batches += 1
        self._in_flight += len(items)
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("batch start owner=%s items=%d", owner, len(items))
        task = asyncio.get_running_loop().create_task(
            run_batch(
                lease,
                items,
                workers=self._manager.workers_per_pool,
                cross_process=self._manager.payloads_cross_process,
                settle=self._settle,
                abort=abort,
                on_drained=self._on_batch_drained,
                item_seconds=self._run_times.estimate(items),
                observe=self._run_times.observe,
            ),
            name=owner,
        )
        self._batch_tasks[task] = items
        task.add_done_callback(self._on_task_done)

    def _on_batch_drained(self) -> None:
        # A drained batch's task may hold its lease a moment longer; the next
        # backlog is still shared out as if its slot were free.
        self._busy_batches -= 1

    def _settle(self, items: Sequence[Job], outcomes: Iterable[Outcome]) -> None:
        """Resolve each item's future with its outcome; count what happened."""
        completed = failed = 0
        for job, (ok, value) in zip(items, outcomes, strict=True):
            if job.done():
                continue
            if ok:
                job.set_result(value)
                completed += 1
            else:
                job.set_exception(value)
                failed += 1
        self._in_flight -= len(items)
        self._completed += completed
        self._failed += failed
        self._cancelled += len(items) - completed - failed

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """Runner or batch task finished: on an unexpected error, break and fail callers."""
        stranded: list[Job] = []
        if task is not self._runner:
            stranded = self._batch_tasks.pop(task)
            self._running_batches -= 1
            self._wake()
        if task.cancelled() or task.exception() is None:
            return
        self._crash = task.exception()
        self._state = _State.BROKEN
        self._logger.error("grinder crashed", exc_info=self._crash)
        error = self._crashed_error()
        for item in [*stranded, *self._queue.take(self._queue.live)]:
            if not item.done():
                item.set_exception(error)
                self._failed += 1

    def _cancel_everything(self) -> None:
        for item in self._queue.take(self._queue.live):
            item.cancel()
            self._cancelled += 1
        if self._runner is not None:
            self._runner.cancel()
        if self._abort is not None and not self._abort.done():
            self._abort.set_result(None)
