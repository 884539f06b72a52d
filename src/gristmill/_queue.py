"""The grinder's pending jobs: FIFO order, a live count, and the deadlines of what waits.

::

    push ──► deque (oldest first) ──take()──► a batch
               │   cancelled: leaves ``live`` at once, the deque entry later
               └─► deadline heap ──expire(now)──► jobs whose deadline passed

A job is *queued* while its ``on_cancel`` hook is set; only the queues set and
clear it (this module, and :mod:`gristmill._fair_queue` for
``scheduler="fair"``). Jobs leave in many ways (taken, cancelled, expired,
drained on stop) without the deque or the heap being told, so both drop stale
entries lazily when they reach the front, and are compacted by one rule when
most of what they hold is stale. Owning loop only.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable

from ._job import Job

__all__ = ["JobQueue", "is_queued"]


_NO_DEADLINE = math.inf


def _mostly_stale(size: int, live: int) -> bool:
    """Whether a container of ``size`` entries, ``live`` of them current, is worth compacting."""
    return size > 2 * live + 64


class JobQueue:
    """Pending jobs, oldest first, with their deadlines.

    Args:
        on_cancelled: Told about a job its caller cancelled while it was queued.

    Attributes:
        live: Queued jobs that have not been cancelled.
        overdue: Live jobs that are due whatever their age: left behind by a
            cut that was already due, or sent back after their pool died.
            They keep their turn instead of waiting ``max_wait_seconds`` again.
    """

    __slots__ = ("_deadlines", "_hook", "_jobs", "_on_cancelled", "_sequence", "live", "overdue")

    def __init__(self, on_cancelled: Callable[[Job], None]) -> None:
        self._jobs: deque[Job] = deque()
        self._deadlines: list[tuple[float, int, Job]] = []
        self._sequence = itertools.count()
        self._on_cancelled = on_cancelled
        self._hook = self._cancelled  # one bound method, shared by every job
        self.live = 0
        self.overdue = 0

    def push(self, job: Job) -> bool:
        """Queue ``job`` behind the others; return True if its deadline is now the earliest."""
        job.on_cancel = self._hook
        self._jobs.append(job)
        self.live += 1
        if job.deadline == _NO_DEADLINE:
            return False
        heapq.heappush(self._deadlines, (job.deadline, next(self._sequence), job))
        return self._deadlines[0][2] is job

    def requeue(self, jobs: list[Job]) -> None:
        """Put ``jobs`` back at the front, in order, due at once and free of their deadlines.

        They were dispatched in time once, so their deadlines no longer
        apply. Suspects go first, so they are retried soonest.
        """
        ordered = sorted(jobs, key=lambda job: not job.suspect)
        for job in reversed(ordered):
            job.deadline = math.inf
            job.on_cancel = self._hook
            self._jobs.appendleft(job)
        self.live += len(jobs)
        self.overdue += len(jobs)

    def head(self) -> Job | None:
        """Return the oldest live job, dropping cancelled ones in front of it."""
        jobs = self._jobs
        while jobs and jobs[0].on_cancel is None:
            jobs.popleft()
        return jobs[0] if jobs else None

    def mark_due(self) -> None:
        """Every live job is due now: the next cuts take them whatever their age."""
        self.overdue = self.live

    def take(self, size: int) -> list[Job]:
        """Remove and return up to ``size`` live jobs, oldest first.

        A suspect job is always taken alone, so that if its worker dies again
        the death is certainly its own, and nothing else is disturbed.
        """
        jobs = self._jobs
        taken: list[Job] = []
        while jobs and len(taken) < size:
            job = jobs[0]
            if job.on_cancel is None:  # cancelled or expired while queued
                jobs.popleft()
                continue
            if job.suspect and taken:
                break
            jobs.popleft()
            job.on_cancel = None
            taken.append(job)
            if job.suspect:
                break
        self._left(len(taken))
        return taken

    def take_all(self) -> list[Job]:
        """Remove and return every live job, oldest first."""
        taken = [job for job in self._jobs if job.on_cancel is not None]
        for job in taken:
            job.on_cancel = None
        self._jobs.clear()
        self._deadlines.clear()
        self._left(len(taken))
        return taken

    def expire(self, now: float) -> list[Job]:
        """Remove and return the queued jobs whose deadline is ``<= now``."""
        heap = self._deadlines
        due: list[Job] = []
        while heap and heap[0][0] <= now:
            job = heapq.heappop(heap)[2]
            if job.on_cancel is not None and job.deadline <= now:  # queued, not requeued
                job.on_cancel = None
                due.append(job)
        if due:
            self._left(len(due))
            self._tidy()
        return due

    def next_deadline(self) -> float | None:
        """Return the earliest deadline of a still-queued job, or None."""
        heap = self._deadlines
        if _mostly_stale(len(heap), self.live):
            self._deadlines = heap = [entry for entry in heap if entry[2].on_cancel is not None]
            heapq.heapify(heap)
        while heap and (heap[0][2].on_cancel is None or heap[0][2].deadline == math.inf):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _left(self, count: int) -> None:
        self.live -= count
        self.overdue = max(0, min(self.overdue - count, self.live))

    def _tidy(self) -> None:
        self.head()
        if _mostly_stale(len(self._jobs), self.live):
            self._jobs = deque(queued for queued in self._jobs if queued.on_cancel is not None)

    def _cancelled(self, job: Job) -> None:
        self.live -= 1
        self.overdue = min(self.overdue, self.live)
        self._tidy()
        self._on_cancelled(job)


def is_queued(job: Job) -> bool:
    """Whether ``job`` is waiting in a queue: not yet taken into a batch, expired or settled."""
    return job.on_cancel is not None
