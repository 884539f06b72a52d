"""What a grinder counts, and what its observers hear: the books kept beside the engine.

The engine decides what happens to items and batches; the tally records it,
counter by counter, and tells the user's :class:`~gristmill.Hooks` and the
grinder's :class:`~gristmill._tracing.Tracing` (if any), and writes the batch
log lines. Keeping the books here leaves the engine with scheduling alone.
Owning loop only.

The counters count *items*: a job's :attr:`~gristmill._job.Job.weight` (1,
or the items of a ``map`` chunk), so a chunk of 500 items of which 3 raised
counts 497 completed and 3 failed, and the hooks hear one event per item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ._job import Job, items_in
from ._tracing import Tracing
from .hooks import BatchCall, BatchEnd, BatchStart, Hooks, ItemDone, ItemOutcome, notify

__all__ = ["Tally"]


class Tally:
    """The lifetime counters of one grinder and its hooks.

    Attributes:
        submitted: Items queued.
        completed: Items that returned.
        failed: Items that raised, or failed for a reason of the grinder's.
        cancelled: Items cancelled by their caller or by ``stop()``.
        timed_out: Items failed by a deadline or a run timeout.
        rejected: Items refused by a full queue (never submitted).
        retried: Times an item was queued again after its pool was lost.
        batches: Batches started.
        batch_calls: Calls of batch functions, each over many callers' items.
        split_calls: The extra calls among them, made by ``on_error="split"``.
        in_flight: Items handed to a batch and not yet settled.
        observed: Whether hooks or tracing are set, so per-item events are
            worth building.
    """

    __slots__ = (
        "_hooks",
        "_logger",
        "_time",
        "_tracing",
        "batch_calls",
        "batches",
        "cancelled",
        "completed",
        "failed",
        "in_flight",
        "observed",
        "rejected",
        "retried",
        "split_calls",
        "submitted",
        "timed_out",
    )

    def __init__(
        self,
        hooks: Hooks | None,
        logger: logging.Logger,
        time: Callable[[], float],
        tracing: Tracing | None = None,
    ):
        self._hooks = hooks
        self._logger = logger
        self._time = time
        self._tracing = tracing
        self.observed = hooks is not None or tracing is not None
        self.submitted = self.completed = self.failed = self.cancelled = 0
        self.timed_out = self.rejected = self.retried = self.batches = self.in_flight = 0
        self.batch_calls = self.split_calls = 0

    def left_queue(self, job: Job, outcome: ItemOutcome) -> None:
        """Count one job settled without running: cancelled, expired, or failed by a crash."""
        weight = job.weight
        if outcome == "cancelled":
            self.cancelled += weight
        elif outcome == "timed_out":
            self.timed_out += weight
        else:
            self.failed += weight
        if self.observed:
            self.item_done(job, self._time() - job.enqueued_at, outcome, count=weight)

    def reject(self, count: int = 1) -> None:
        """Count ``count`` items refused by a full queue (``overflow="reject"``); never jobs."""
        self.rejected += count
        if self._hooks is not None:
            event = ItemDone("rejected", 0.0)
            for _ in range(count):
                notify(self._hooks.on_item_done, event, self._logger)

    def settled(self, count: int, *, completed: int, failed: int, timed_out: bool) -> None:
        """Count ``count`` items of a batch settled: the rest of them were cancelled.

        ``timed_out``: the failures are the grinder's own run timeouts.
        """
        self.in_flight -= count
        self.completed += completed
        if timed_out:
            self.timed_out += failed
        else:
            self.failed += failed
        self.cancelled += count - completed - failed

    def job_done(
        self, job: Job, waited: float, outcome: ItemOutcome, error: BaseException | None = None
    ) -> None:
        """Tell the observers about each item of a settled job (a chunk's items may differ)."""
        if outcome == "completed" and job.failures:
            self.item_done(job, waited, "completed", count=job.weight - job.failures)
            self.item_done(job, waited, "failed", count=job.failures)
        else:
            self.item_done(job, waited, outcome, error, count=job.weight)

    def item_done(
        self,
        job: Job,
        waited: float,
        outcome: ItemOutcome,
        error: BaseException | None = None,
        *,
        count: int = 1,
    ) -> None:
        """Tell the observers that ``count`` items of ``job`` settled, ``waited`` after queueing.

        ``error`` is what a failed job raised, when the caller has it at hand.
        The hooks hear one event per item; the job's span ends once.
        """
        if self._hooks is not None:
            event = ItemDone(outcome, waited)
            for _ in range(count):
                notify(self._hooks.on_item_done, event, self._logger)
        if self._tracing is not None:
            self._tracing.item_done(job, outcome, waited, error)

    def batch_started(self, owner: str, jobs: Sequence[Job], pool: str | None = None) -> None:
        """Count a batch handed to a lease on ``pool``, and announce it.

        A batch is known by its lease owner label, ``owner``: its batch id.
        """
        items = items_in(jobs)
        self.batches += 1
        self.in_flight += items
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(
                "batch start owner=%s items=%d pool=%s",
                owner,
                items,
                pool,
                extra={"batch_id": owner, "owner": owner, "pool": pool},
            )
        if self._tracing is not None:
            self._tracing.batch_started(owner, pool, jobs)
        if self._hooks is not None:
            waited = self._time() - min(job.enqueued_at for job in jobs)
            notify(self._hooks.on_batch_start, BatchStart(owner, items, waited), self._logger)

    def batch_ended(
        self,
        owner: str,
        size: int,
        started: float,
        *,
        requeued: int,
        chunks: int,
        pool: str | None = None,
    ) -> None:
        """Announce that a batch that began at ``started`` has settled or handed items back.

        It reached its executor as ``chunks`` chunks.
        """
        seconds = self._time() - started
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(
                "batch end owner=%s items=%d chunks=%d requeued=%d seconds=%.6f",
                owner,
                size,
                chunks,
                requeued,
                seconds,
                extra={"batch_id": owner, "owner": owner, "pool": pool},
            )
        if self._tracing is not None:
            self._tracing.batch_ended(owner, chunks=chunks, requeued=requeued)
        if self._hooks is not None:
            event = BatchEnd(owner, size, seconds, requeued)
            notify(self._hooks.on_batch_end, event, self._logger)

    def called(self, function: str, *, items: int, calls: int) -> None:
        """Count a batch function's ``calls`` over ``items`` items (1 plus any splits)."""
        self.batch_calls += calls
        self.split_calls += calls - 1
        if self._hooks is not None:
            notify(self._hooks.on_batch_call, BatchCall(function, items, calls), self._logger)

    def requeued(self, count: int) -> None:
        """Count ``count`` items of a lost chunk going back to the queue."""
        self.in_flight -= count
        self.retried += count
