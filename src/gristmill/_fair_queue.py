"""The pending jobs of the ``"fair"`` scheduler: priority levels, owner lanes, deadlines.

::

    push ──► level (one per priority) ──► owner: its lone job, or its lane
      │                                           (deadline heap + arrival list)
      └────► arrival order (head, take_all) and the deadline heap (expire, early starts)

    take(n): requeued jobs first (suspects alone), then, slot by slot:
             the top level (level_key) ─► its DeficitRing picks an owner ─► its next job

Like :class:`~gristmill._queue.JobQueue`, a job is queued while its
``on_cancel`` hook is set (this module and ``_queue`` are the only ones that
set and clear it), stale entries are dropped lazily when they reach the front
of a container, and containers that are mostly stale are rebuilt. Cutting
costs O(log levels) per job plus O(log n) for a job with a deadline; pushing
costs O(1), or O(log n) with a deadline. Every arrival and departure is
told to the :class:`~gristmill._owners.OwnerBook`. Owning loop only.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from typing import Protocol

from ._job import Job
from ._lanes import Lane, Level
from ._owners import CountingQueue, OwnerBook
from ._queue import JobQueue, _mostly_stale
from ._scheduler_settings import SchedulerSettings
from ._scheduling import latest_start, level_key, owner_key

__all__ = ["FairQueue", "PendingQueue", "build_queue"]


class PendingQueue(Protocol):
    """What the engine needs of its queue; :class:`JobQueue` and :class:`FairQueue` fit."""

    live: int
    overdue: int

    def push(self, job: Job) -> bool:
        """Queue ``job``; return True if its deadline is now the earliest."""

    def requeue(self, jobs: list[Job]) -> None:
        """Put ``jobs`` back at the front, due at once, free of their deadlines."""

    def head(self) -> Job | None:
        """Return the oldest live job."""

    def mark_due(self) -> None:
        """Every live job is due now."""

    def take(self, size: int) -> list[Job]:
        """Remove and return up to ``size`` live jobs, in the scheduler's order."""

    def take_all(self) -> list[Job]:
        """Remove and return every live job."""

    def expire(self, now: float) -> list[Job]:
        """Remove and return the queued jobs whose deadline is ``<= now``."""

    def next_deadline(self) -> float | None:
        """Return the earliest deadline of a queued job, or None."""


def build_queue(
    settings: SchedulerSettings,
    on_cancelled: Callable[[Job], None],
    book: OwnerBook | None,
    estimate: Callable[[Job], float | None],
) -> PendingQueue:
    """Return the queue that ``settings`` ask for.

    ``book`` is required for an owner-aware grinder; ``estimate`` gives a
    job's expected run time, for early starts before deadlines.
    """
    if settings.fair:
        return FairQueue(settings, on_cancelled, book or OwnerBook(), estimate)
    if book is not None:
        return CountingQueue(on_cancelled, book)
    return JobQueue(on_cancelled)


class FairQueue:
    """Pending jobs ordered by priority level, then owner (weighted round-robin), then deadline.

    Args:
        settings: The scheduling settings (weights, aging).
        on_cancelled: Told about a job its caller cancelled while it was queued.
        book: Told about every job that arrives and leaves, by owner.
        estimate: A job's expected run time in seconds, or ``None`` if unknown.

    Attributes:
        live: Queued jobs that have not been cancelled.
        overdue: Live jobs that are due whatever their age (see ``JobQueue``).
    """

    __slots__ = (
        "_again",
        "_again_hook",
        "_aging",
        "_arrivals",
        "_book",
        "_deadlines",
        "_estimate",
        "_floor",
        "_hook",
        "_levels",
        "_on_cancelled",
        "_order",
        "_quantum",
        "_scheduled",
        "_sequence",
        "_weights",
        "live",
        "overdue",
    )

    def __init__(
        self,
        settings: SchedulerSettings,
        on_cancelled: Callable[[Job], None],
        book: OwnerBook,
        estimate: Callable[[Job], float | None],
    ) -> None:
        self._aging = settings.aging
        self._weights = settings.weights
        self._floor = settings.weight_floor
        self._quantum = 1.0 / settings.weight_floor  # of an owner without a weight
        self._on_cancelled = on_cancelled
        self._book = book
        self._estimate = estimate
        self._hook = self._cancelled  # jobs in a lane
        self._again_hook = self._again_cancelled  # jobs sent back after their pool died
        self._levels: dict[int, Level] = {}
        self._order: list[tuple[float, int, int, Level]] = []  # (key, -priority, seq, level)
        self._again: deque[Job] = deque()
        self._arrivals: deque[Job] = deque()  # every lane job, oldest first
        self._deadlines: list[tuple[float, int, Job]] = []
        self._sequence = itertools.count()
        self._scheduled = 0  # live jobs in lanes; the rest are in _again
        self.live = 0
        self.overdue = 0

    # -- arrivals ----------------------------------------------------------------------------

    def push(self, job: Job) -> bool:
        """Queue ``job`` in its owner's lane at its priority; True if its deadline is the earliest.

        The per-job hot path of the ``"fair"`` scheduler, kept flat: an owner
        seen for the first time costs one lane (a list) and one dict entry.

        Raises:
            TypeError: its owner is neither a ``str`` nor ``None``; nothing was queued.
        """
        owner = job.owner
        if owner is not None and type(owner) is not str:
            owner = job.owner = owner_key(owner)
        level = self._levels.get(job.priority)
        if level is None:
            level = self._new_level(job)
        lanes, aging = level.lanes, self._aging
        lane = lanes.get(owner)
        deadline = job.deadline
        if lane is None:  # the owner's only job at this level: no lane needed
            lanes[owner] = job
            level.ring.join(job)
        elif type(lane) is Lane:
            if aging is None and deadline == math.inf:
                lane.append(job)
                lane.live += 1
            else:
                lane.add(job, aging, self._sequence)
        else:  # a second job: the lone one grows a lane, which takes its place in the ring
            assert isinstance(lane, Job)
            lanes[owner] = grown = Lane.new(owner, self._quantum_of(owner), proxy=lane)
            grown.ringed = True
            grown.add(lane, aging, self._sequence)
            grown.add(job, aging, self._sequence)
        job.on_cancel = self._hook
        if aging is not None:
            level.arrivals.append(job)
        level.live += 1
        self._arrivals.append(job)
        self.live += 1
        self._scheduled += 1
        self._book.added(owner)
        if deadline == math.inf:
            return False
        heapq.heappush(self._deadlines, (deadline, next(self._sequence), job))
        return self._deadlines[0][2] is job

    def requeue(self, jobs: list[Job]) -> None:
        """Put ``jobs`` back ahead of every lane, due at once and free of their deadlines.

        They were dispatched in time once and had their turn; suspects go first.
        """
        ordered = sorted(jobs, key=lambda job: not job.suspect)
        for job in reversed(ordered):
            job.deadline = math.inf
            job.on_cancel = self._again_hook
            self._again.appendleft(job)
            self._book.added(job.owner)
        self.live += len(jobs)
        self.overdue += len(jobs)

    # -- departures --------------------------------------------------------------------------

    def take(self, size: int) -> list[Job]:
        """Remove and return up to ``size`` live jobs: requeued ones first, then by the rules.

        A suspect job is always taken alone, as in ``JobQueue.take``.
        """
        taken: list[Job] = []
        again, hook = self._again, self._again_hook
        while again and len(taken) < size:
            job = again[0]
            if job.on_cancel is not hook:  # cancelled while queued again
                again.popleft()
                continue
            if job.suspect and taken:
                return self._took(taken)
            again.popleft()
            job.on_cancel = None
            self._book.left(job.owner)
            taken.append(job)
            if job.suspect:
                return self._took(taken)
        while len(taken) < size and self._scheduled:
            taken.append(self._take_next())
        self._compact()
        return self._took(taken)

    def take_all(self) -> list[Job]:
        """Remove and return every live job: requeued ones, then the rest oldest first."""
        taken = [job for job in self._again if job.on_cancel is self._again_hook]
        taken += [job for job in self._arrivals if job.on_cancel is self._hook]
        for job in taken:
            job.on_cancel = None
            self._book.left(job.owner)
        self._again.clear()
        self._arrivals.clear()
        self._deadlines.clear()
        self._levels.clear()
        self._order.clear()
        self._scheduled = 0
        return self._took(taken)

    def expire(self, now: float) -> list[Job]:
        """Remove and return the queued jobs whose deadline is ``<= now``."""
        heap, hook = self._deadlines, self._hook
        due: list[Job] = []
        while heap and heap[0][0] <= now:
            job = heapq.heappop(heap)[2]
            if job.on_cancel is hook and job.deadline <= now:
                job.on_cancel = None
                self._out_of_lane(job)
                due.append(job)
        if due:
            self._took(due)
            self._tidy()
        return due

    # -- what the runner asks ----------------------------------------------------------------

    def head(self) -> Job | None:
        """Return the oldest live job (a requeued one first), dropping stale entries in front."""
        again = self._again
        while again and again[0].on_cancel is not self._again_hook:
            again.popleft()
        if again:
            return again[0]
        arrivals = self._arrivals
        while arrivals and arrivals[0].on_cancel is not self._hook:
            arrivals.popleft()
        return arrivals[0] if arrivals else None

    def mark_due(self) -> None:
        """Every live job is due now: the next cuts take them whatever their age."""
        self.overdue = self.live

    def next_deadline(self) -> float | None:
        """Return the earliest deadline of a job still in a lane, or None."""
        heap, hook = self._deadlines, self._hook
        if _mostly_stale(len(heap), self._scheduled):
            self._deadlines = heap = [entry for entry in heap if entry[2].on_cancel is hook]
            heapq.heapify(heap)
        while heap and heap[0][2].on_cancel is not hook:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def start_by(self) -> float | None:
        """Return when a batch must start for the job nearest its deadline to make it, or None.

        See :func:`~gristmill._scheduling.latest_start`.
        """
        if self.next_deadline() is None:
            return None
        job = self._deadlines[0][2]
        return latest_start(job.deadline, self._estimate(job))

    # -- inside ------------------------------------------------------------------------------

    def _quantum_of(self, owner: str | None) -> float:
        weights = self._weights
        return self._quantum if not weights else weights.get(owner, 1.0) / self._floor

    def _new_level(self, job: Job) -> Level:
        """Open the level of ``job``'s priority and rank it, ``job`` being its oldest."""
        level = self._levels[job.priority] = Level(job.priority)
        key = level_key(job.priority, job.enqueued_at, self._aging)
        heapq.heappush(self._order, (key, -job.priority, next(self._sequence), level))
        return level

    def _top(self) -> Level:
        """Return the level to serve next; call only while some lane holds a job.

        Keys only grow (a level's oldest job can only be replaced by a younger
        one), so a key found larger than its entry is pushed back, and the
        first entry that is current is the smallest.
        """
        order, levels = self._order, self._levels
        while True:
            key, _, _, level = order[0]
            if levels.get(level.priority) is not level:  # emptied and forgotten
                heapq.heappop(order)
                continue
            current = level.key(self._hook, self._aging)
            if current > key:
                heapq.heapreplace(order, (current, -level.priority, next(self._sequence), level))
                continue
            return level

    def _take_next(self) -> Job:
        level = self._top()
        ring = level.ring
        turn = ring.next_turn()
        if isinstance(turn, Lane):
            job = turn.next_job(self._hook, self._aging)
            ring.served(turn)
        else:  # a lone job
            job = turn
            del level.lanes[job.owner]
        job.on_cancel = None
        level.live -= 1
        if not level.live:
            del self._levels[level.priority]
        elif self._aging is not None:
            level.compact(self._hook)
        self._scheduled -= 1
        self._book.left(job.owner)
        return job

    def _out_of_lane(self, job: Job) -> None:
        """Account for a lane job that left other than by ``take`` (cancelled or expired)."""
        level = self._levels[job.priority]
        level.discard(job, self._hook)
        if not level.live:
            del self._levels[job.priority]
        self._scheduled -= 1
        self._book.left(job.owner)

    def _took(self, jobs: list[Job]) -> list[Job]:
        self.live -= len(jobs)
        self.overdue = max(0, min(self.overdue - len(jobs), self.live))
        return jobs

    def _tidy(self) -> None:
        self.head()
        self._compact()

    def _compact(self) -> None:
        """Rebuild the arrival order if it is mostly jobs that left.

        Jobs leave from anywhere in it (a fair cut takes them out of order), and
        one old job left waiting would otherwise keep every later one alive.
        """
        if _mostly_stale(len(self._arrivals), self._scheduled):
            hook = self._hook
            self._arrivals = deque(queued for queued in self._arrivals if queued.on_cancel is hook)

    def _cancelled(self, job: Job) -> None:
        self._out_of_lane(job)
        self._left_on_cancel(job)

    def _again_cancelled(self, job: Job) -> None:
        self._book.left(job.owner)
        self._left_on_cancel(job)

    def _left_on_cancel(self, job: Job) -> None:
        self.live -= 1
        self.overdue = min(self.overdue, self.live)
        self._tidy()
        self._on_cancelled(job)
