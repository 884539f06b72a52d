"""What a grinder counts, and what its hooks hear: the books kept beside the engine.

The engine decides what happens to items and batches; the tally records it,
counter by counter, and tells the user's :class:`~gristmill.Hooks` (if any).
Keeping the books here leaves the engine with scheduling alone. Owning loop
only.

The counters count *items*: a job's :attr:`~gristmill._job.Job.weight` (1,
or the items of a ``map`` chunk), so a chunk of 500 items of which 3 raised
counts 497 completed and 3 failed, and the hooks hear one event per item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ._job import Job, items_in
from .hooks import BatchEnd, BatchStart, Hooks, ItemDone, ItemOutcome, notify

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
        in_flight: Items handed to a batch and not yet settled.
        observed: Whether hooks are set, so per-item events are worth building.
    """

    __slots__ = (
        "_hooks",
        "_logger",
        "_time",
        "batches",
        "cancelled",
        "completed",
        "failed",
        "in_flight",
        "observed",
        "rejected",
        "retried",
        "submitted",
        "timed_out",
    )

    def __init__(self, hooks: Hooks | None, logger: logging.Logger, time: Callable[[], float]):
        self._hooks = hooks
        self._logger = logger
        self._time = time
        self.observed = hooks is not None
        self.submitted = self.completed = self.failed = self.cancelled = 0
        self.timed_out = self.rejected = self.retried = self.batches = self.in_flight = 0

    def left_queue(self, job: Job, outcome: ItemOutcome) -> None:
        """Count one job settled without running: cancelled, expired, or failed by a crash."""
        weight = job.weight
        if outcome == "cancelled":
            self.cancelled += weight
        elif outcome == "timed_out":
            self.timed_out += weight
        else:
            self.failed += weight
        if self._hooks is not None:
            self.item_done(self._time() - job.enqueued_at, outcome, weight)

    def reject(self, count: int = 1) -> None:
        """Count ``count`` items refused by a full queue (``overflow="reject"``)."""
        self.rejected += count
        if self._hooks is not None:
            self.item_done(0.0, "rejected", count)

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

    def item_done(self, waited: float, outcome: ItemOutcome, count: int = 1) -> None:
        """Tell the hooks that ``count`` items settled ``waited`` seconds after being queued."""
        if self._hooks is not None:
            event = ItemDone(outcome, waited)
            for _ in range(count):
                notify(self._hooks.on_item_done, event, self._logger)

    def job_done(self, job: Job, waited: float, outcome: ItemOutcome) -> None:
        """Tell the hooks about each item of a settled job (a chunk's items may differ)."""
        if outcome == "completed" and job.failures:
            self.item_done(waited, "completed", job.weight - job.failures)
            self.item_done(waited, "failed", job.failures)
        else:
            self.item_done(waited, outcome, job.weight)

    def batch_started(self, owner: str, jobs: Sequence[Job]) -> None:
        """Count a batch handed to a lease, and announce it."""
        items = items_in(jobs)
        self.batches += 1
        self.in_flight += items
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("batch start owner=%s items=%d", owner, items)
        if self._hooks is not None:
            waited = self._time() - min(job.enqueued_at for job in jobs)
            notify(self._hooks.on_batch_start, BatchStart(owner, items, waited), self._logger)

    def batch_ended(self, owner: str, size: int, started: float, requeued: int) -> None:
        """Announce that a batch that began at ``started`` has settled or handed items back."""
        if self._hooks is not None:
            event = BatchEnd(owner, size, self._time() - started, requeued)
            notify(self._hooks.on_batch_end, event, self._logger)

    def requeued(self, count: int) -> None:
        """Count ``count`` items of a lost chunk going back to the queue."""
        self.in_flight -= count
        self.retried += count
