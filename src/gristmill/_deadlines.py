"""Deadlines of queued jobs: which expire first, and which have expired by ``now``.

A heap of ``(deadline, sequence, job)``. Jobs leave the queue in many ways
(dispatched, cancelled, expired) without telling the heap, so entries are
dropped lazily when they reach the top, and the heap is rebuilt when most of
it is stale. Owning loop only.
"""

from __future__ import annotations

import heapq
import itertools

from ._job import Job

__all__ = ["Deadlines"]


class Deadlines:
    """The deadlines of queued jobs, earliest first."""

    __slots__ = ("_heap", "_sequence")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Job]] = []
        self._sequence = itertools.count()

    def add(self, job: Job) -> bool:
        """Track ``job``'s deadline; return True if it is now the earliest."""
        heapq.heappush(self._heap, (job.deadline, next(self._sequence), job))
        return self._heap[0][2] is job

    def expired(self, now: float) -> list[Job]:
        """Remove and return the queued jobs whose deadline is ``<= now``."""
        heap = self._heap
        due: list[Job] = []
        while heap and heap[0][0] <= now:
            job = heapq.heappop(heap)[2]
            if job.on_cancel is not None and job.deadline <= now:  # queued, not requeued
                due.append(job)
        return due

    def next_at(self, queued: int) -> float | None:
        """Return the earliest deadline of a still-queued job, or None.

        ``queued`` is the queue's live count; when the heap holds many more
        entries than that, the stale ones are swept out first.
        """
        heap = self._heap
        if len(heap) > 2 * queued + 64:
            self._heap = heap = [entry for entry in heap if entry[2].on_cancel is not None]
            heapq.heapify(heap)
        while heap and heap[0][2].on_cancel is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None
