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
    triggers and ``stats()`` never count it. Owning loop only.

    Attributes:
        live: Queued jobs that have not been cancelled.
        overdue: Live jobs left behind by a cut that was already due; they keep
            their turn instead of waiting ``max_wait_seconds`` again.
    """

    __slots__ = ("_hook", "_jobs", "_on_cancelled", "live", "overdue")

    def __init__(self, on_cancelled: Callable[[], None]) -> None:
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

    def head(self) -> Job | None:
        """Return the oldest live job, dropping cancelled ones in front of it."""
        jobs = self._jobs
        while jobs and jobs[0].done():
            jobs.popleft()
        return jobs[0] if jobs else None

    def mark_due(self) -> None:
        """Every live job is due now: the next cuts take them whatever their age."""
        self.overdue = self.live

    def take(self, size: int) -> list[Job]:
        """Remove and return up to ``size`` live jobs, oldest first."""
        jobs = self._jobs
        taken: list[Job] = []
        while jobs and len(taken) < size:
            job = jobs.popleft()
            if not job.done():
                job.on_cancel = None
                taken.append(job)
        self.live -= len(taken)
        self.overdue = max(0, self.overdue - len(taken))
        return taken

    def _cancelled(self, job: Job) -> None:
        self.live -= 1
        self.overdue = min(self.overdue, self.live)
        self.head()
        if len(self._jobs) > 2 * self.live + 64:  # many cancelled in the middle: compact
            self._jobs = deque(queued for queued in self._jobs if not queued.done())
        self._on_cancelled()
