"""The grinder's engine: when batches form, which lease they get, and what a failure means.

::

    put() ──► queue ──► runner task: wait until a batch is due
      ▲          │ deadline passed: TimeoutError   (threshold reached / oldest waited
      │          ▼                                   max_wait / flushing; opt-in: a free
      │    manager.acquire() ──► cut a batch         slot, a deadline near)
      │                           └──► batch task: dispatch_batch() ──► settle
      └──────────────────── requeue (pool died, killed, revoked) ◄──┘

The queue is a :class:`~gristmill._queue.JobQueue` (arrival order), or a
:class:`~gristmill._fair_queue.FairQueue` under ``scheduler="fair"``; which one
is :func:`~gristmill._fair_queue.build_queue`'s choice, and the order a cut
takes is the queue's business. ``WorkGrinder`` owns the lifecycle and the
public API; the engine schedules.
What happened is counted by a :class:`~gristmill._tally.Tally`, and one batch
on one lease is :func:`~gristmill._dispatch.dispatch_batch`'s business, which
reports back through the engine's :class:`~gristmill._dispatch.BatchOwner`
methods. Every lease the engine takes is released by the task holding it,
whatever ends that task. Owning loop only.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from contextvars import copy_context
from typing import Any

from ._admission import Admission, OwnerQuota
from ._batched import BatchFunction
from ._batching import batch_size, due_at
from ._bulk import ChunkJob
from ._clock import Clock, TimerHandle
from ._context import carrier_for
from ._costs import RunTimes
from ._dispatch import BatchContext, dispatch_batch
from ._errors import NotStartedError
from ._fair_queue import FairQueue, PendingQueue, build_queue
from ._grinder_settings import GrinderSettings
from ._job import Job, items_in
from ._naming import name_of
from ._owners import OwnerBook
from ._source import GrinderSource, LeaseLike, pool_name
from ._stats import GrinderStats, OtherOwnersStats, OwnerStats
from ._tally import Tally
from ._tracing import Tracing
from ._worker import Outcome
from .hooks import Hooks, ItemOutcome

__all__ = ["Engine", "loop_shut_down"]


def loop_shut_down() -> NotStartedError:
    """The error for work stranded when the owning loop shut down before ``stop()``."""
    return NotStartedError(
        "the event loop running the WorkGrinder shut down (its tasks were cancelled) before "
        "grinder.stop() was awaited, so this item never got a result; stop the grinder "
        "before its loop ends"
    )


class Engine:
    """Queues jobs, forms batches, runs them on leases and settles every job once.

    Args:
        settings: The grinder's settings.
        manager: Where batches lease their executors.
        clock: Time source for max-wait timers, deadlines and job ages.
        logger: Where the batch log lines and a crash go.
        hooks: Observer told about batches and items, if any.
        on_crash: Told about an unexpected error in the runner or a batch task;
            returns the exception that every stranded caller then receives.
        on_orphaned: Told that the loop cancelled the engine's tasks without a
            ``stop()``: the loop is shutting down.
        tracing: Opens the item and batch spans, when the grinder traces.
    """

    def __init__(
        self,
        settings: GrinderSettings,
        manager: GrinderSource,
        clock: Clock,
        logger: logging.Logger,
        hooks: Hooks | None,
        on_crash: Callable[[BaseException], BaseException],
        on_orphaned: Callable[[], None],
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        self._manager = manager
        self._clock = clock
        self._time = clock.time
        self._logger = logger
        self._on_crash = on_crash
        self._on_orphaned = on_orphaned
        self._tracing = tracing
        self.tally = Tally(hooks, logger, clock.time, tracing)
        scheduling = settings.scheduling
        self.owners = OwnerBook() if scheduling.owner_aware else None  # per-owner counts
        self._run_times = RunTimes()  # per callable, for chunk sizes and early starts
        self.queue: PendingQueue = build_queue(
            scheduling, self._on_queued_job_cancelled, self.owners, self._expected_seconds
        )
        self._start_by = self.queue.start_by if isinstance(self.queue, FairQueue) else None
        self.admission = Admission(
            settings.max_pending,
            settings.overflow,
            lambda: self.queue.live,
            None
            if scheduling.per_owner is None or self.owners is None
            else OwnerQuota(scheduling.per_owner, self.owners),
        )
        self._deadline_timer: TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._batch_tasks: dict[asyncio.Task[None], tuple[list[Job], LeaseLike]] = {}
        self._abort: asyncio.Future[None] | None = None
        self._waker: asyncio.Future[None] | None = None
        self._flushing = False
        self._context: BatchContext | None = None
        self._crash_error: BaseException | None = None
        self._timed = settings.run_timeout is not None  # some job may have a run timeout
        self.grouped = False  # some job was a batch function's item (set by the grinder)
        self.running_batches = 0  # batch tasks alive, each holding a lease
        self._busy_batches = 0  # batches with jobs still to settle

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the runner task on ``loop``; pending jobs wait for their trigger again."""
        manager = self._manager
        self._flushing = False
        self._loop = loop
        self._abort = loop.create_future()
        dumps = manager.payload_dumps if manager.payloads_cross_process else None
        self._context = BatchContext(
            owner=self,
            workers=manager.workers_per_pool,
            dumps=dumps,
            board=manager.progress_board,
            clock=self._clock,
            max_retries=self.settings.max_retries,
            carrier=carrier_for(self.settings.propagate, dumps, self._tracing),
        )
        self._spawn_runner()

    def flush(self) -> None:
        """Make every pending job due now; the runner ends once none is left."""
        self._flushing = True
        self._wake()

    def cancel_everything(self) -> None:
        """Cancel pending jobs, the runner (even inside ``acquire``) and every batch's waiting."""
        self._flushing = True
        for job in self.queue.take_all():
            job.cancel()
            self.tally.left_queue(job, "cancelled")
        if self._abort is not None and not self._abort.done():
            self._abort.set_result(None)
        if self._task is not None:
            self._task.cancel()

    async def wait_finished(self) -> None:
        """Return once the runner and every batch task have finished."""
        while tasks := [
            task for task in (self._task, *self._batch_tasks) if task and not task.done()
        ]:
            await asyncio.wait(tasks)

    def snapshot(self, *, state: str, started: bool, stopping: bool) -> GrinderStats:
        """Build ``stats()`` from the tally, the queue and the grinder's lifecycle ``state``."""
        settings, tally = self.settings, self.tally
        scheduling = settings.scheduling
        head = self.queue.head()
        owners: list[OwnerStats] = []
        other: OtherOwnersStats = {"owners": 0, "pending": 0, "completed": 0}
        if self.owners is not None:
            owners, other = self.owners.rows()
        return {
            "started": started,
            "stopping": stopping,
            "state": state,
            "pending": self.queue.live,
            "batch_size_threshold": settings.threshold,
            "max_wait_seconds": settings.max_wait,
            "lease_seconds": settings.lease_seconds,
            "oldest_wait_seconds": 0.0 if head is None else self._time() - head.enqueued_at,
            "max_concurrent_batches": settings.max_concurrent,
            "submitted": tally.submitted,
            "completed": tally.completed,
            "failed": tally.failed,
            "cancelled": tally.cancelled,
            "batches": tally.batches,
            "running_batches": self.running_batches,
            "in_flight": tally.in_flight,
            "timed_out": tally.timed_out,
            "rejected": tally.rejected,
            "retried": tally.retried,
            "batch_calls": tally.batch_calls,
            "split_calls": tally.split_calls,
            "max_pending": settings.max_pending,
            "waiting_for_room": self.admission.waiting,
            "scheduler": scheduling.scheduler,
            "dispatch": scheduling.dispatch,
            "priority_aging_seconds": scheduling.aging,
            "max_pending_per_owner": scheduling.per_owner,
            "owners": owners,
            "other_owners": other,
        }

    # -- the per-job hot path ----------------------------------------------------------------

    def put(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: str | None,
        deadline_seconds: float | None = None,
        run_timeout: float | None = None,
        priority: int = 0,
    ) -> Job:
        """Queue one job and return it (its caller's future).

        ``deadline_seconds`` and ``run_timeout`` default to the settings'.
        The job keeps a copy of the current context, the caller's, unless it
        is empty. Call only between ``start()`` and the end of the run.

        Raises:
            TypeError: the grinder keeps per-owner books and ``owner`` is
                neither a ``str`` nor ``None``; nothing was queued.
        """
        settings = self.settings
        job = Job(loop=self._loop)
        job.fn, job.args, job.kwargs, job.owner = fn, args, kwargs or None, owner
        context = copy_context()
        # A snapshot outlives the call by as long as the job is queued; an empty one is
        # not kept, which spares the garbage collector an object per queued job.
        job.context = context if context else None  # a Context is false when empty
        job.enqueued_at = now = self._time()
        if run_timeout is None:
            job.run_timeout = settings.run_timeout
        else:
            job.run_timeout = run_timeout
            self._timed = True
        job.attempts = 0
        job.suspect = False
        job.priority = priority
        seconds = settings.deadline if deadline_seconds is None else deadline_seconds
        job.deadline = math.inf if seconds is None else now + seconds
        if self._tracing is not None:
            self._tracing.item_queued(job, context)
        if self.queue.push(job):
            self._arm_deadline_timer()
        self.tally.submitted += 1
        live = self.queue.live
        waker = self._waker
        if waker is not None and (live == 1 or live >= settings.threshold) and not waker.done():
            waker.set_result(None)
        return job

    def put_many(
        self,
        fn: Callable[..., Any],
        calls: Sequence[tuple[Any, ...]],
        owner: str | None,
        *,
        weights: Sequence[int] | None = None,
        due: bool = False,
    ) -> list[Job]:
        """Queue one job per argument tuple in ``calls`` and return them, in order.

        The bulk twin of :meth:`put`, with the settings' deadline and run
        timeout: one clock read, one tally update and at most one wake-up for
        the whole group. ``weights`` makes each job a
        :class:`~gristmill._bulk.ChunkJob` standing for that many items (a
        ``map`` chunk). ``due``: the jobs are batches already, so they are
        dispatched at once instead of waiting for the threshold or
        ``max_wait_seconds``. Call only between ``start()`` and the end of
        the run. Job setup mirrors :meth:`put`; a field added there belongs
        here too.
        """
        settings, queue = self.settings, self.queue
        loop, now = self._loop, self._time()
        seconds, run_timeout = settings.deadline, settings.run_timeout
        deadline = math.inf if seconds is None else now + seconds
        was_live = queue.live
        jobs: list[Job] = []
        append, push, tracing = jobs.append, queue.push, self._tracing
        earliest = False
        for index, args in enumerate(calls):
            if weights is None:
                job = Job(loop=loop)
            else:
                job = ChunkJob(loop=loop)
                job.weight, job.failures = weights[index], 0
            job.fn, job.args, job.kwargs, job.owner = fn, args, None, owner
            context = copy_context()  # each job its own copy, as in put()
            job.context = context if context else None
            job.enqueued_at, job.deadline, job.run_timeout = now, deadline, run_timeout
            job.attempts = 0
            job.suspect = False
            job.priority = 0
            if tracing is not None:
                tracing.item_queued(job, context)
            earliest = push(job) or earliest
            append(job)
        if earliest:
            self._arm_deadline_timer()
        self.tally.submitted += len(jobs) if weights is None else sum(weights)
        if due:
            queue.mark_due()
        live = queue.live
        if due or was_live == 0 or live >= settings.threshold:
            self._wake()
        return jobs

    # -- what a batch reports back (BatchOwner) ----------------------------------------------

    def settle(
        self,
        jobs: Sequence[Job],
        outcomes: Iterable[Outcome],
        *,
        started: float,
        timed_out: bool = False,
    ) -> None:
        """Resolve each job's future with its outcome, pairwise, and count what happened.

        ``timed_out``: the failures are the grinder's own run timeouts, counted
        as such; otherwise every failure counts as ``failed``, even a
        ``TimeoutError`` that a job raised itself. A job already done was
        cancelled meanwhile.
        """
        completed = failed = items = 0
        tally, owners = self.tally, self.owners
        observed = tally.observed
        failure: ItemOutcome = "timed_out" if timed_out else "failed"
        for job, (ok, value) in zip(jobs, outcomes, strict=True):
            weight = job.weight  # items: 1, or a map chunk's
            items += weight
            if job.done():
                kind: ItemOutcome = "cancelled"
            elif ok:
                job.set_result(value)
                failures = job.failures  # a chunk's items that raised
                completed += weight - failures
                failed += failures
                kind = "completed"
                if owners is not None:
                    owners.completed(job.owner)
            else:
                job.set_exception(value)
                failed += weight
                kind = failure
            if observed:
                tally.job_done(job, started - job.enqueued_at, kind, None if ok else value)
        tally.settled(items, completed=completed, failed=failed, timed_out=timed_out)

    def requeue(self, jobs: list[Job]) -> None:
        """Take back jobs whose pool died under them; they run again in a later batch."""
        if self._crash_error is not None:  # no runner will take them again
            self.settle(jobs, [(False, self._crash_error)] * len(jobs), started=self._time())
            return
        if self._abort is None or self._abort.done():  # stopping with cancel_pending
            for job in jobs:
                job.cancel()
            self.settle(jobs, [(False, None)] * len(jobs), started=self._time())
            return
        for job in jobs:  # a thread cannot be stopped: the lost run may still be in its context
            if job.context is not None:
                job.context = job.context.copy()
        self.tally.requeued(items_in(jobs))
        self.queue.requeue(jobs)
        if self._task is None or self._task.done():  # a flush had already emptied the queue
            self._spawn_runner()
        self._wake()

    def observe(self, jobs: list[Job], *, seconds: float) -> None:
        """Learn how long ``jobs`` took to run, one after another, for the next chunk sizes."""
        self._run_times.observe(jobs, seconds)

    def called(self, function: BatchFunction[Any, Any], *, items: int, calls: int) -> None:
        """Count a batch function's call over ``items`` items."""
        self.tally.called(name_of(function.fn), items=items, calls=calls)

    def _expected_seconds(self, job: Job) -> float | None:
        """The recent run time of ``job``'s callable, or ``None`` if it has not run yet."""
        return self._run_times.estimate((job,))

    def drained(self) -> None:
        """A batch has no job left to settle; its slot counts as free for the next cut.

        Its task may hold the lease a moment longer, to release it.
        """
        self._busy_batches -= 1

    # -- the runner --------------------------------------------------------------------------

    def _spawn_runner(self) -> None:
        assert self._loop is not None
        assert self._abort is not None
        name = f"{self.settings.owner_prefix}-runner"
        self._task = self._loop.create_task(self._run(self._abort), name=name)
        self._task.add_done_callback(self._on_task_done)

    async def _run(self, abort: asyncio.Future[None]) -> None:
        """Runner task: wait until a batch is due, lease, cut, hand off; repeat."""
        while await self._wait_until_due():
            await self._start_batch(abort)

    async def _start_batch(self, abort: asyncio.Future[None]) -> None:
        """Lease, cut and hand off one batch.

        A method of its own so that its locals (the lease, the jobs) go with
        it: the runner then waits for the next batch holding no finished job.
        """
        settings = self.settings
        owner = f"{settings.owner_prefix}-{self.tally.batches + 1}"
        lease = await self._manager.acquire(lease_seconds=settings.lease_seconds, owner=owner)
        try:
            self._expire_due()  # the wait for a lease may have outlived some deadlines
            jobs = self._cut()
        except BaseException:
            await lease.release()
            raise
        if jobs:
            self._launch(lease, jobs, owner, abort)
        else:
            await lease.release()

    async def _wait_until_due(self) -> bool:
        """Return True when a batch should be cut now, False once a flush has emptied the queue."""
        loop = asyncio.get_running_loop()
        settings, queue = self.settings, self.queue
        while True:
            self._expire_due()  # a batch never leases for jobs that are already dead
            head = queue.head()
            due = due_at(
                pending=queue.live,
                threshold=settings.threshold,
                oldest_at=None if head is None else head.enqueued_at,
                max_wait=settings.max_wait,
                flushing=self._flushing,
                overdue=queue.overdue,
                eager=settings.scheduling.eager,
                start_by=None if self._start_by is None else self._start_by(),
            )
            if due is None and self._flushing:
                return False
            timer: TimerHandle | None = None
            if self.running_batches < settings.max_concurrent and due is not None:
                if due <= self._clock.time():
                    queue.mark_due()
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
        settings = self.settings
        jobs = self.queue.take(
            batch_size(
                pending=self.queue.live,
                threshold=settings.threshold,
                slots=settings.max_concurrent - self._busy_batches,
                max_batch=settings.max_batch,
            )
        )
        self.admission.grant()
        return jobs

    def _launch(
        self, lease: LeaseLike, jobs: list[Job], owner: str, abort: asyncio.Future[None]
    ) -> None:
        """Hand ``jobs`` and ``lease`` to a new batch task, which releases the lease."""
        self.tally.batch_started(owner, jobs, pool_name(lease))
        self.running_batches += 1
        self._busy_batches += 1
        task = asyncio.get_running_loop().create_task(
            self._batch(lease, jobs, owner, abort), name=owner
        )
        self._batch_tasks[task] = (jobs, lease)
        task.add_done_callback(self._on_task_done)

    async def _batch(
        self, lease: LeaseLike, jobs: list[Job], owner: str, abort: asyncio.Future[None]
    ) -> None:
        started = self._time()
        try:
            assert self._context is not None
            dispatched = await dispatch_batch(
                self._context,
                lease,
                jobs,
                abort=abort,
                item_seconds=self._run_times.estimate(jobs),
                timed=self._timed,
                grouped=self.grouped,
            )
            self.tally.batch_ended(
                owner,
                items_in(jobs),
                started,
                requeued=dispatched.requeued,
                chunks=dispatched.chunks,
                pool=pool_name(lease),
            )
        finally:
            await lease.release()

    # -- deadlines ---------------------------------------------------------------------------

    def _expire_due(self) -> None:
        """Fail every queued job whose deadline has passed, without running it."""
        now = self._time()
        expired = self.queue.expire(now)
        for job in expired:
            waited = now - job.enqueued_at
            job.set_exception(
                TimeoutError(
                    f"the item's deadline passed after {waited:g} s in the queue, before "
                    "it could be dispatched; it did not run"
                )
            )
            self.tally.left_queue(job, "timed_out")
        if expired:
            self.admission.grant()
            self._wake()
        self._arm_deadline_timer()

    def _arm_deadline_timer(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        when = self.queue.next_deadline()
        if when is not None and self._loop is not None and not self._loop.is_closed():
            self._deadline_timer = self._clock.call_at(when, self._expire_due)

    # -- events ------------------------------------------------------------------------------

    def _on_queued_job_cancelled(self, job: Job) -> None:
        self.tally.left_queue(job, "cancelled")
        self.admission.grant()
        self._wake()  # the due time may have moved, or a flush may now be done

    def _wake(self) -> None:
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """Runner or batch task finished: make sure nothing it held is stranded.

        A task that crashed breaks the grinder: every stranded caller fails
        with the crash error. A task cancelled by someone other than ``stop()``
        (the loop shutting down: ``asyncio.run`` cancels every task left)
        fails the queued callers with a ``NotStartedError``. Either way a
        batch's lease goes back to the manager.
        """
        stranded: list[Job] = []
        held = self._batch_tasks.pop(task, None)
        if held is not None:  # else a runner, maybe one already replaced
            stranded, lease = held
            self.running_batches -= 1
            if task.cancelled() or task.exception() is not None:
                self._release_soon(lease)  # a task cancelled before its first step never ran
            self._wake()
        if task.cancelled():
            if held is not None:  # cancelled before dispatch could settle its jobs
                self._fail_all(stranded, loop_shut_down(), queued=False)
            elif task is self._task and not self._flushing:
                self._orphan()
            return
        crash = task.exception()
        if crash is not None:
            self._crash(crash, stranded)

    def _crash(self, crash: BaseException, stranded: list[Job]) -> None:
        self._logger.error("grinder crashed", exc_info=crash)
        error = self._crash_error = self._on_crash(crash)
        self._fail_all(stranded, error)

    def _orphan(self) -> None:
        """The loop is shutting down without ``stop()``: fail what still waits, stop taking work."""
        self._flushing = True
        self._on_orphaned()
        self._fail_all([], loop_shut_down())

    def _fail_all(self, stranded: list[Job], error: BaseException, *, queued: bool = True) -> None:
        """Fail ``stranded`` and, if ``queued``, the queue and its room waiters with ``error``."""
        jobs = stranded
        if queued:
            self.admission.fail_waiters(error)
            jobs = [*stranded, *self.queue.take_all()]
        for job in jobs:
            if not job.done():
                job.set_exception(error)
                self.tally.left_queue(job, "failed")

    def _release_soon(self, lease: LeaseLike) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.create_task(lease.release())
