"""The grinder's engine: the pending queue, the runner task and the batch tasks.

::

    put() ──► JobQueue ──► runner task: wait until a batch is due
                             │ (threshold reached / oldest waited max_wait / flushing)
                             ▼
                 manager.acquire() ──► cut a batch ──► batch task (run_batch) ──► settle

``WorkGrinder`` owns the lifecycle and the public API; this module owns what
happens to jobs between ``enqueue`` and their futures resolving, and the counters
``stats()`` reports. Owning loop only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import _validate as validate
from ._batching import batch_size, due_at
from ._clock import Clock, TimerHandle
from ._costs import RunTimes
from ._dispatch import LeaseLike, run_batch
from ._job import Job
from ._queue import JobQueue
from ._worker import Outcome

__all__ = ["BatchPolicy", "LeaseSource", "Runner"]


class LeaseSource(Protocol):
    """What the grinder needs from a manager; ``LeasedExecutorManager`` fits."""

    @property
    def max_pools(self) -> int:
        """How many leases can be out at once: the default batch concurrency."""

    @property
    def workers_per_pool(self) -> int:
        """Workers behind each lease, used to size a batch's chunks."""

    @property
    def payloads_cross_process(self) -> bool:
        """Whether calls are pickled to reach the workers, so chunks travel pre-pickled."""

    @property
    def payload_dumps(self) -> Callable[[Any], bytes]:
        """How chunks are pickled when ``payloads_cross_process``."""

    async def acquire(
        self,
        *,
        lease_seconds: float | None = None,
        owner: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> LeaseLike:
        """Lend one executor; the returned lease has ``executor`` and ``async release()``."""


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """The grinder's validated batching settings; see ``WorkGrinder`` for each."""

    threshold: int
    max_wait: float
    lease_seconds: float
    max_concurrent: int
    max_batch: int
    owner_prefix: str

    @classmethod
    def build(
        cls,
        *,
        max_wait_seconds: object,
        batch_size_threshold: object,
        lease_seconds: object,
        owner_prefix: object,
        max_concurrent_batches: object,
        max_batch_size: object,
        manager: LeaseSource,
    ) -> BatchPolicy:
        """Check the grinder's keyword arguments, in order, and return the policy.

        ``max_concurrent_batches=None`` means every pool ``manager`` can lend.

        Raises:
            ValueError: a number out of range, a bool, or a fraction where a
                count belongs; ``max_batch_size`` below the threshold.
            TypeError: a value of the wrong type; the message names the field.
        """
        max_wait = validate.duration("max_wait_seconds", max_wait_seconds)
        threshold = validate.positive_int("batch_size_threshold", batch_size_threshold)
        lease = validate.duration("lease_seconds", lease_seconds)
        if not isinstance(owner_prefix, str):
            raise TypeError(f"owner_prefix must be a str, got {type(owner_prefix).__name__}")
        max_concurrent = validate.positive_int(
            "max_concurrent_batches",
            manager.max_pools if max_concurrent_batches is None else max_concurrent_batches,
        )
        max_batch = validate.positive_int(
            "max_batch_size", max(threshold, 4096) if max_batch_size is None else max_batch_size
        )
        if max_batch < threshold:
            raise ValueError(
                f"max_batch_size ({max_batch_size}) must be >= batch_size_threshold "
                f"({batch_size_threshold})"
            )
        return cls(threshold, max_wait, lease, max_concurrent, max_batch, owner_prefix)


class Runner:
    """Queues jobs, forms batches, runs them on leases and settles every job once.

    Args:
        policy: Batching settings.
        manager: Where batches lease their executors.
        clock: Time source for max-wait timers and job ages.
        logger: Where the batch log lines and a crash go.
        on_crash: Told about an unexpected error in the runner or a batch task;
            returns the exception that every stranded caller then receives.
    """

    def __init__(
        self,
        policy: BatchPolicy,
        manager: LeaseSource,
        clock: Clock,
        logger: logging.Logger,
        on_crash: Callable[[BaseException], BaseException],
    ) -> None:
        self.policy = policy
        self._manager = manager
        self._clock = clock
        self._time = clock.time
        self._logger = logger
        self._on_crash = on_crash
        self.queue = JobQueue(self._on_queued_job_cancelled)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._batch_tasks: dict[asyncio.Task[None], list[Job]] = {}
        self._abort: asyncio.Future[None] | None = None
        self._waker: asyncio.Future[None] | None = None
        self._flushing = False
        self._dumps = manager.payload_dumps if manager.payloads_cross_process else None
        self._run_times = RunTimes()  # per callable, for chunk sizes
        self.running_batches = 0  # batch tasks alive, each holding a lease
        self._busy_batches = 0  # batches with jobs still to settle
        self.in_flight = 0
        self.submitted = 0
        self.completed = 0
        self.failed = 0
        self.cancelled = 0
        self.batches = 0

    def start(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        """Start the runner task on ``loop``; pending jobs wait for their trigger again."""
        self._flushing = False
        self._loop = loop
        self._abort = loop.create_future()
        self._task = loop.create_task(self._run(self._abort), name=name)
        self._task.add_done_callback(self._on_task_done)

    def flush(self) -> None:
        """Make every pending job due now; the runner ends once none is left."""
        self._flushing = True
        self._wake()

    def cancel_everything(self) -> None:
        """Cancel pending jobs, the runner (even inside ``acquire``) and every batch's waiting."""
        self._flushing = True
        for job in self.queue.take(self.queue.live):
            job.cancel()
            self.cancelled += 1
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

    def put(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: str | None,
    ) -> Job:
        """Queue one job and return it (its caller's future). The per-job hot path.

        Call only between ``start()`` and the end of the run.
        """
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        job = Job(loop=self._loop)
        job.fn, job.args, job.kwargs, job.owner = fn, args, kwargs or None, owner
        job.enqueued_at = self._time()
        live = self.queue.push(job)
        self.submitted += 1
        waker = self._waker
        if waker is not None and (live == 1 or live >= self.policy.threshold) and not waker.done():
            waker.set_result(None)
        return job

    def _on_queued_job_cancelled(self) -> None:
        self.cancelled += 1
        self._wake()  # the due time may have moved, or a flush may now be done

    def _wake(self) -> None:
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    async def _run(self, abort: asyncio.Future[None]) -> None:
        """Runner task: wait until a batch is due, lease, cut, hand off; repeat."""
        manager, policy = self._manager, self.policy
        while await self._wait_until_due():
            owner = f"{policy.owner_prefix}-{self.batches + 1}"
            lease = await manager.acquire(lease_seconds=policy.lease_seconds, owner=owner)
            jobs = self._cut()
            if not jobs:
                await lease.release()
                continue
            self._launch(lease, jobs, owner, abort)

    async def _wait_until_due(self) -> bool:
        """Return True when a batch should be cut now, False once a flush has emptied the queue."""
        loop = asyncio.get_running_loop()
        policy, queue = self.policy, self.queue
        while True:
            head = queue.head()
            due = due_at(
                pending=queue.live,
                threshold=policy.threshold,
                oldest_at=None if head is None else head.enqueued_at,
                max_wait=policy.max_wait,
                flushing=self._flushing,
                overdue=queue.overdue,
            )
            if due is None and self._flushing:
                return False
            timer: TimerHandle | None = None
            if self.running_batches < policy.max_concurrent and due is not None:
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
        policy = self.policy
        return self.queue.take(
            batch_size(
                pending=self.queue.live,
                threshold=policy.threshold,
                slots=policy.max_concurrent - self._busy_batches,
                max_batch=policy.max_batch,
            )
        )

    def _launch(
        self, lease: LeaseLike, jobs: list[Job], owner: str, abort: asyncio.Future[None]
    ) -> None:
        self.batches += 1
        self.running_batches += 1
        self._busy_batches += 1
        self.in_flight += len(jobs)
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("batch start owner=%s items=%d", owner, len(jobs))
        task = asyncio.get_running_loop().create_task(
            run_batch(
                lease,
                jobs,
                workers=self._manager.workers_per_pool,
                dumps=self._dumps,
                settle=self._settle,
                abort=abort,
                on_drained=self._on_batch_drained,
                item_seconds=self._run_times.estimate(jobs),
                observe=self._run_times.observe,
            ),
            name=owner,
        )
        self._batch_tasks[task] = jobs
        task.add_done_callback(self._on_task_done)

    def _on_batch_drained(self) -> None:
        # A drained batch's task may hold its lease a moment longer; the next
        # backlog is still shared out as if its slot were free.
        self._busy_batches -= 1

    def _settle(self, jobs: Sequence[Job], outcomes: Iterable[Outcome]) -> None:
        """Resolve each job's future with its outcome; count what happened."""
        completed = failed = 0
        for job, (ok, value) in zip(jobs, outcomes, strict=True):
            if job.done():
                continue
            if ok:
                job.set_result(value)
                completed += 1
            else:
                job.set_exception(value)
                failed += 1
        self.in_flight -= len(jobs)
        self.completed += completed
        self.failed += failed
        self.cancelled += len(jobs) - completed - failed

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """Runner or batch task finished: on an unexpected error, fail every stranded caller."""
        stranded: list[Job] = []
        if task is not self._task:
            stranded = self._batch_tasks.pop(task)
            self.running_batches -= 1
            self._wake()
        if task.cancelled() or (crash := task.exception()) is None:
            return
        self._logger.error("grinder crashed", exc_info=crash)
        error = self._on_crash(crash)
        for job in [*stranded, *self.queue.take(self.queue.live)]:
            if not job.done():
                job.set_exception(error)
                self.failed += 1
