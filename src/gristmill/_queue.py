"""The grinder's pending jobs: FIFO, with a live count that a cancel updates at once."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ._job import Job

__all__ = ["JobQueue"]


class JobQueue:
    """Pending jobs, oldest first.

    A job cancelled while queued stays in the deque until it reaches the front
    (or the deque is compacted), but leaves ``live`` at once, so batch
    triggers and ``stats()`` never count it. A queued job is one whose
    ``on_cancel`` hook is set. Owning loop only.

    Attributes:
        live: Queued jobs that have not been cancelled.
        overdue: Live jobs that are due whatever their age: left behind by a
            cut that was already due, or sent back after their pool died.
            They keep their turn instead of waiting ``max_wait_seconds`` again.
    """

    __slots__ = ("_hook", "_jobs", "_on_cancelled", "live", "overdue")

    def __init__(self, on_cancelled: Callable[[Job], None]) -> None:
        self._jobs: deque[Job] = deque()
        self._on_cancelled = on_cancelled
        self._hook = self._cancelled  # one bound method, shared by every job
        self.live = 0
        self.overdue = 0

    def push(self, job: Job) -> int:
        """Queue ``job`` behind the others; return the new live count."""
        job.on_cancel = self._hook
        self._jobs.append(job)
        self.live += 1
        return self.live

    def requeue(self, jobs: list[Job]) -> None:
        """Put ``jobs`` back at the front, in order, due at once.

        Suspects go first, so they are retried soonest.
        """
        ordered = sorted(jobs, key=lambda job: not job.suspect)
        for job in reversed(ordered):
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
        self._left(len(taken))
        return taken

    def discard(self, job: Job) -> bool:
        """Take a live ``job`` out of the queue (it is about to be failed); False if not queued."""
        if job.on_cancel is None:
            return False
        job.on_cancel = None
        self._left(1)
        self._tidy()
        return True

    def _left(self, count: int) -> None:
        self.live -= count
        self.overdue = max(0, min(self.overdue - count, self.live))

    def _tidy(self) -> None:
        self.head()
        if len(self._jobs) > 2 * self.live + 64:  # many gone from the middle: compact
            self._jobs = deque(queued for queued in self._jobs if queued.on_cancel is not None)

    def _cancelled(self, job: Job) -> None:
        self.live -= 1
        self.overdue = min(self.overdue, self.live)
        self._tidy()
        self._on_cancelled(job)
