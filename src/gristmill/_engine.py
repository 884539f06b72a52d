"""The grinder's engine: the pending queue, the runner task and the batch tasks.

::

    put() ──► JobQueue ──► runner task: wait until a batch is due
      ▲          │ deadline passed: TimeoutError   (threshold reached / oldest waited
      │          ▼                                   max_wait / flushing)
      │    manager.acquire() ──► cut a batch ──► batch task (run_batch) ──► settle
      └──────────────────── requeue (pool died, killed, revoked) ◄──┘

``WorkGrinder`` owns the lifecycle and the public API; this module owns what
happens to jobs between ``enqueue`` and their futures resolving, and the counters
``stats()`` reports. Owning loop only.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._admission import Admission
from ._batching import batch_size, due_at
from ._clock import Clock, TimerHandle
from ._costs import RunTimes
from ._deadlines import Deadlines
from ._dispatch import BatchContext, run_batch
from ._grinder_settings import GrinderSettings
from ._job import Job
from ._queue import JobQueue
from ._source import GrinderSource, LeaseLike
from ._stats import GrinderStats
from ._worker import Outcome
from .hooks import BatchEnd, BatchStart, Hooks, ItemDone, ItemOutcome, notify

__all__ = ["Engine"]


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
    """

    def __init__(
        self,
        settings: GrinderSettings,
        manager: GrinderSource,
        clock: Clock,
        logger: logging.Logger,
        hooks: Hooks | None,
        on_crash: Callable[[BaseException], BaseException],
    ) -> None:
        self.settings = settings
        self._manager = manager
        self._clock = clock
        self._time = clock.time
        self._logger = logger
        self._hooks = hooks
        self._on_crash = on_crash
        self.queue = JobQueue(self._on_queued_job_cancelled)
        self.admission = Admission(settings.max_pending, settings.overflow, lambda: self.queue.live)
        self._deadlines = Deadlines()
        self._deadline_timer: TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._batch_tasks: dict[asyncio.Task[None], list[Job]] = {}
        self._abort: asyncio.Future[None] | None = None
        self._waker: asyncio.Future[None] | None = None
        self._flushing = False
        self._run_times = RunTimes()  # per callable, for chunk sizes
        self._context: BatchContext | None = None
        self._crash_error: BaseException | None = None
        self._timed = settings.run_timeout is not None  # some job may have a run timeout
        self.running_batches = 0  # batch tasks alive, each holding a lease
        self._busy_batches = 0  # batches with jobs still to settle
        self.in_flight = 0
        self.submitted = 0
        self.completed = 0
        self.failed = 0
        self.cancelled = 0
        self.timed_out = 0
        self.rejected = 0
        self.retried = 0
        self.batches = 0

    def start(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        """Start the runner task on ``loop``; pending jobs wait for their trigger again."""
        self._flushing = False
        self._loop = loop
        self._abort = loop.create_future()
        self._context = BatchContext(
            workers=self._manager.workers_per_pool,
            dumps=self._manager.payload_dumps if self._manager.payloads_cross_process else None,
            board=self._manager.progress_board,
            settle=self._settle,
            requeue=self._requeue,
            observe=self._run_times.observe,
            clock=self._clock,
            max_retries=self.settings.max_retries,
        )
        self._spawn_runner(name)

    def flush(self) -> None:
        """Make every pending job due now; the runner ends once none is left."""
        self._flushing = True
        self._wake()

    def cancel_everything(self) -> None:
        """Cancel pending jobs, the runner (even inside ``acquire``) and every batch's waiting."""
        self._flushing = True
        for job in self.queue.take_all():
            job.cancel()
            self.cancelled += 1
            self._item_done(job, "cancelled")
        if self._task is not None:
            self._task.cancel()
        if self._abort is not None and not self._abort.done():
            self._abort.set_result(None)

    async def wait_finished(self) -> None:
        """Return once the runner and every batch task have finished."""
        while tasks := [
            task for task in (self._task, *self._batch_tasks) if task and not task.done()
        ]:
            await asyncio.wait(tasks)

    def snapshot(self, *, state: str, started: bool, stopping: bool) -> GrinderStats:
        """Build ``stats()`` from the counters, the queue and the grinder's lifecycle ``state``."""
        settings = self.settings
        head = self.queue.head()
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
            "submitted": self.submitted,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "batches": self.batches,
            "running_batches": self.running_batches,
            "in_flight": self.in_flight,
            "timed_out": self.timed_out,
            "rejected": self.rejected,
            "retried": self.retried,
            "max_pending": settings.max_pending,
            "waiting_for_room": self.admission.waiting,
        }

    def reject(self) -> None:
        """Count a job refused by a full queue (``overflow="reject"``)."""
        self.rejected += 1
        self._item_done_at(0.0, "rejected")

    def put(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: str | None,
        deadline_seconds: float | None = None,
        run_timeout: float | None = None,
    ) -> Job:
        """Queue one job and return it (its caller's future). The per-job hot path.

        ``deadline_seconds`` and ``run_timeout`` default to the settings.
        Call only between ``start()`` and the end of the run.
        """
        settings = self.settings
        job = Job(loop=self._loop)
        job.fn, job.args, job.kwargs, job.owner = fn, args, kwargs or None, owner
        job.enqueued_at = now = self._time()
        if run_timeout is None:
            job.run_timeout = settings.run_timeout
        else:
            job.run_timeout = run_timeout
            self._timed = True
        job.attempts = 0
        job.suspect = False
        seconds = settings.deadline if deadline_seconds is None else deadline_seconds
        job.deadline = math.inf if seconds is None else now + seconds
        live = self.queue.push(job)
        self.submitted += 1
        if seconds is not None and self._deadlines.add(job):
            self._arm_deadline_timer()
        waker = self._waker
        if waker is not None and (live == 1 or live >= settings.threshold) and not waker.done():
            waker.set_result(None)
        return job

    def _on_queued_job_cancelled(self, job: Job) -> None:
        self.cancelled += 1
        self._item_done(job, "cancelled")
        self.admission.grant()
        self._wake()  # the due time may have moved, or a flush may now be done

    def _wake(self) -> None:
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    def _spawn_runner(self, name: str) -> None:
        assert self._loop is not None
        assert self._abort is not None
        self._task = self._loop.create_task(self._run(self._abort), name=name)
        self._task.add_done_callback(self._on_task_done)

    async def _run(self, abort: asyncio.Future[None]) -> None:
        """Runner task: wait until a batch is due, lease, cut, hand off; repeat."""
        manager, settings = self._manager, self.settings
        while await self._wait_until_due():
            owner = f"{settings.owner_prefix}-{self.batches + 1}"
            lease = await manager.acquire(lease_seconds=settings.lease_seconds, owner=owner)
            self._expire_due()  # the wait for a lease may have outlived some deadlines
            jobs = self._cut()
            if not jobs:
                await lease.release()
                continue
            self._launch(lease, jobs, owner, abort)

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
        self.batches += 1
        self.running_batches += 1
        self._busy_batches += 1
        self.in_flight += len(jobs)
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("batch start owner=%s items=%d", owner, len(jobs))
        if self._hooks is not None:
            waited = self._time() - min(job.enqueued_at for job in jobs)
            notify(self._hooks.on_batch_start, BatchStart(owner, len(jobs), waited), self._logger)
        task = asyncio.get_running_loop().create_task(
            self._batch(lease, jobs, owner, abort), name=owner
        )
        self._batch_tasks[task] = jobs
        task.add_done_callback(self._on_task_done)

    async def _batch(
        self, lease: LeaseLike, jobs: list[Job], owner: str, abort: asyncio.Future[None]
    ) -> None:
        assert self._context is not None
        started = self._time()
        requeued = await run_batch(
            self._context,
            lease,
            jobs,
            abort=abort,
            on_drained=self._on_batch_drained,
            item_seconds=self._run_times.estimate(jobs),
            timed=self._timed,
        )
        if self._hooks is not None:
            event = BatchEnd(owner, len(jobs), self._time() - started, requeued)
            notify(self._hooks.on_batch_end, event, self._logger)

    def _on_batch_drained(self) -> None:
        # A drained batch's task may hold its lease a moment longer; the next
        # backlog is still shared out as if its slot were free.
        self._busy_batches -= 1

    def _settle(
        self,
        jobs: Sequence[Job],
        outcomes: Iterable[Outcome],
        started: float,
        timeouts: bool = False,
    ) -> None:
        """Resolve each job's future with its outcome; count what happened.

        ``timeouts``: the failures are the grinder's own run timeouts, counted
        as ``timed_out``; otherwise every failure counts as ``failed``, even a
        ``TimeoutError`` that a job raised itself.
        """
        completed = failed = timed_out = 0
        hooks = self._hooks
        for job, (ok, value) in zip(jobs, outcomes, strict=True):
            if job.done():
                kind: ItemOutcome = "cancelled"
            elif ok:
                job.set_result(value)
                completed += 1
                kind = "completed"
            else:
                job.set_exception(value)
                if timeouts:
                    timed_out += 1
                    kind = "timed_out"
                else:
                    failed += 1
                    kind = "failed"
            if hooks is not None:
                self._item_done_at(started - job.enqueued_at, kind)
        self.in_flight -= len(jobs)
        self.completed += completed
        self.failed += failed
        self.timed_out += timed_out
        self.cancelled += len(jobs) - completed - failed - timed_out

    def _requeue(self, jobs: list[Job]) -> None:
        """Take back jobs whose pool died under them; they run again in a later batch."""
        if self._crash_error is not None:  # no runner will take them again
            self._settle(jobs, [(False, self._crash_error)] * len(jobs), self._time())
            return
        self.in_flight -= len(jobs)
        if self._abort is None or self._abort.done():  # stopping with cancel_pending
            for job in jobs:
                job.cancel()
                self.cancelled += 1
                self._item_done(job, "cancelled")
            return
        self.retried += len(jobs)
        for job in jobs:  # dispatched once: its deadline was met
            job.deadline = math.inf
        self.queue.requeue(jobs)
        if self._task is None or self._task.done():  # a flush had already emptied the queue
            self._spawn_runner(f"{self.settings.owner_prefix}-runner")
        self._wake()

    def _expire_due(self) -> None:
        """Fail every queued job whose deadline has passed, without running it."""
        now = self._time()
        expired = self._deadlines.expired(now)
        for job in expired:
            if self.queue.discard(job):
                waited = now - job.enqueued_at
                job.set_exception(
                    TimeoutError(
                        f"the item's deadline passed after {waited:g} s in the queue, before "
                        "it could be dispatched; it did not run"
                    )
                )
                self.timed_out += 1
                self._item_done(job, "timed_out")
        if expired:
            self.admission.grant()
            self._wake()
        self._arm_deadline_timer()

    def _arm_deadline_timer(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        when = self._deadlines.next_at(self.queue.live)
        if when is not None and self._loop is not None and not self._loop.is_closed():
            self._deadline_timer = self._clock.call_at(when, self._expire_due)

    def _item_done(self, job: Job, outcome: ItemOutcome) -> None:
        if self._hooks is not None:
            self._item_done_at(self._time() - job.enqueued_at, outcome)

    def _item_done_at(self, waited: float, outcome: ItemOutcome) -> None:
        if self._hooks is not None:
            notify(self._hooks.on_item_done, ItemDone(outcome, waited), self._logger)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """Runner or batch task finished: on an unexpected error, fail every stranded caller."""
        stranded: list[Job] = []
        if task in self._batch_tasks:  # else a runner, maybe one already replaced
            stranded = self._batch_tasks.pop(task)
            self.running_batches -= 1
            self._wake()
        if task.cancelled() or (crash := task.exception()) is None:
            return
        self._logger.error("grinder crashed", exc_info=crash)
        error = self._crash_error = self._on_crash(crash)
        self.admission.fail_waiters(error)
        for job in [*stranded, *self.queue.take_all()]:
            if not job.done():
                job.set_exception(error)
                self.failed += 1
                self._item_done(job, "failed")
