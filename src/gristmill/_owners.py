"""Per-owner books: how many items each owner has pending and has had completed.

Kept only by an owner-aware grinder (``scheduler="fair"``, or a
``max_pending_per_owner`` quota), so the default grinder pays nothing per
item. The queue tells the book when an owner's item arrives or leaves (it is
the one place that knows); the engine tells it when one completes. What the
book reports is bounded: the busiest :data:`OWNER_ROWS` owners, and one row
that sums up the others, so ``stats()`` and the metrics built on it stay
small with any number of owners. Owning loop only.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Container

from ._job import Job
from ._queue import JobQueue
from ._scheduling import owner_key
from ._stats import OtherOwnersStats, OwnerStats

__all__ = ["OWNER_ROWS", "CountingQueue", "OwnerBook"]

OWNER_ROWS = 10
"""Owners reported one by one in ``stats()["owners"]`` (and as metric labels)."""

COMPLETED_KEPT = 4096
"""Owners whose completed counts are kept exactly; the least busy of the rest are
folded into the "other" row from time to time, so the book's memory stays bounded."""


def _nobody(_: str | None) -> None:
    """The default room listener: no one waits for an owner's room."""


class OwnerBook:
    """Pending and completed counts by owner (keys are plain ``str`` or ``None``).

    Attributes:
        waiting: Owners that callers wait on for room (a quota's waiters).
        on_room: Told about an owner in ``waiting`` whose pending count dropped.
    """

    __slots__ = ("_completed", "_folded", "_pending", "_pending_total", "on_room", "waiting")

    def __init__(self) -> None:
        self._pending: dict[str | None, int] = {}
        self._pending_total = 0
        self._completed: dict[str | None, int] = {}
        self._folded = 0  # completed items of owners no longer tracked one by one
        self.waiting: Container[str | None] = frozenset()
        self.on_room: Callable[[str | None], None] = _nobody

    def added(self, key: str | None) -> None:
        """One more item of ``key`` is pending."""
        pending = self._pending
        pending[key] = pending.get(key, 0) + 1
        self._pending_total += 1

    def left(self, key: str | None) -> None:
        """An item of ``key`` left the queue (taken, cancelled, expired or drained)."""
        pending = self._pending
        self._pending_total -= 1
        count = pending[key] - 1
        if count:
            pending[key] = count
        else:
            del pending[key]
        if key in self.waiting:
            self.on_room(key)

    def pending_of(self, key: str | None) -> int:
        """Return how many items of ``key`` are pending."""
        return self._pending.get(key, 0)

    def completed(self, key: str | None) -> None:
        """An item of ``key`` returned a result."""
        completed = self._completed
        completed[key] = completed.get(key, 0) + 1
        if len(completed) > 2 * COMPLETED_KEPT:
            self._fold()

    def rows(self, limit: int = OWNER_ROWS) -> tuple[list[OwnerStats], OtherOwnersStats]:
        """Return the ``limit`` busiest owners (most pending, then most completed) and the rest.

        The "other" row counts the owners left out that the book still knows
        of; the completed items of owners folded away earlier are in its
        ``completed`` too. O(owners with items pending), on the owning loop:
        with a hundred thousand owners pending, a few tens of milliseconds.
        """
        pending, completed = self._pending, self._completed
        idle = [key for key in completed if key not in pending]  # at most 2 * COMPLETED_KEPT
        busiest = heapq.nlargest(
            limit,
            itertools.chain(pending, idle),
            key=lambda key: (pending.get(key, 0), completed.get(key, 0)),
        )
        rows: list[OwnerStats] = [
            {"owner": key, "pending": pending.get(key, 0), "completed": completed.get(key, 0)}
            for key in busiest
        ]
        other: OtherOwnersStats = {
            "owners": len(pending) + len(idle) - len(rows),
            "pending": self._pending_total - sum(row["pending"] for row in rows),
            "completed": self._folded
            + sum(completed.values())
            - sum(row["completed"] for row in rows),
        }
        return rows, other

    def _fold(self) -> None:
        """Keep the :data:`COMPLETED_KEPT` busiest completed counts; sum up the rest."""
        completed = self._completed
        kept = dict(heapq.nlargest(COMPLETED_KEPT, completed.items(), key=lambda item: item[1]))
        self._folded += sum(completed.values()) - sum(kept.values())
        self._completed = kept


class CountingQueue(JobQueue):
    """The FIFO queue, keeping an :class:`OwnerBook`: the ``"fifo"`` scheduler with a quota.

    Each job's owner is replaced by its plain key (:func:`owner_key`) as it is
    queued, so the book never hashes a caller's object.
    """

    __slots__ = ("_book",)

    def __init__(self, on_cancelled: Callable[[Job], None], book: OwnerBook) -> None:
        super().__init__(on_cancelled)
        self._book = book

    def push(self, job: Job) -> bool:
        """Queue ``job`` as :meth:`JobQueue.push` does, and count it for its owner.

        Raises:
            TypeError: its owner is neither a ``str`` nor ``None``; nothing was queued.
        """
        key = job.owner = owner_key(job.owner)
        earliest = super().push(job)
        self._book.added(key)
        return earliest

    def requeue(self, jobs: list[Job]) -> None:
        """Put ``jobs`` back at the front, as :meth:`JobQueue.requeue` does, and count them."""
        super().requeue(jobs)
        for job in jobs:
            self._book.added(job.owner)

    def take(self, size: int) -> list[Job]:
        """Take up to ``size`` jobs in arrival order, as :meth:`JobQueue.take` does."""
        return self._gone(super().take(size))

    def take_all(self) -> list[Job]:
        """Take every live job, as :meth:`JobQueue.take_all` does."""
        return self._gone(super().take_all())

    def expire(self, now: float) -> list[Job]:
        """Remove the jobs whose deadline is ``<= now``, as :meth:`JobQueue.expire` does."""
        return self._gone(super().expire(now))

    def _gone(self, jobs: list[Job]) -> list[Job]:
        left = self._book.left
        for job in jobs:
            left(job.owner)
        return jobs

    def _cancelled(self, job: Job) -> None:
        self._book.left(job.owner)
        super()._cancelled(job)
