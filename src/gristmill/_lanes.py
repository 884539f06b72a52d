"""The containers of the ``"fair"`` scheduler: a lane per owner, a level per priority.

::

    Level (priority p) ── DeficitRing ──► Lane (owner a): deadline heap ─┐ next(): the nearer
                                    └──► Lane (owner b): FIFO list ─────┘ order key first

A lane holds one owner's jobs at one priority level. Jobs whose order key
(:func:`~gristmill._scheduling.item_order_key`) is their own deadline wait in
a heap; the others, whose keys grow with arrival, wait in a list in arrival
order (the lane itself), so a lane without deadlines costs O(1) per job. Jobs that left (taken,
cancelled, expired) are recognised by their ``on_cancel`` hook no longer being
the queue's ``hook``, dropped lazily, and compacted away when they are most
of a container. Owning loop only.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial

from ._job import Job
from ._queue import _mostly_stale
from ._scheduling import DeficitRing, item_order_key, level_key

__all__ = ["Lane", "Level"]

Hook = Callable[[Job], None]


class Lane(list[Job]):
    """One owner's jobs at one priority level: nearest order key first, first come on a tie.

    The lane *is* the list of its jobs ordered by arrival (from index
    ``head``), so a new owner costs one allocation: with many owners of a few
    jobs each, that is most of what a push costs. Build one with :meth:`new`.

    Attributes:
        owner: The owner's plain key.
        quantum: Its round-robin share per turn (weight / smallest weight).
        urgent: The jobs ordered by their own deadline (a heap), or ``None``.
        head: Index of the first job of the arrival list not yet taken.
        live: Jobs in the lane.
        deficit: Round-robin credit carried between turns.
        ringed: Whether it is in its level's ring.
        proxy: The lone item it grew from, whose place in the ring it takes.
    """

    __slots__ = ("deficit", "head", "live", "owner", "proxy", "quantum", "ringed", "urgent")

    owner: str | None
    proxy: Job | None
    quantum: float
    urgent: list[tuple[float, int, Job]] | None
    head: int
    live: int
    deficit: float
    ringed: bool

    @classmethod
    def new(cls, owner: str | None, quantum: float, proxy: Job | None = None) -> Lane:
        """Return an empty lane for ``owner``, grown from the lone item ``proxy`` if any."""
        lane = cls()
        lane.owner, lane.quantum, lane.urgent, lane.proxy = owner, quantum, None, proxy
        lane.head = lane.live = 0
        lane.deficit, lane.ringed = 0.0, False
        return lane

    def add(self, job: Job, aging: float | None, sequence: Iterator[int]) -> None:
        """Add ``job``: by its deadline if that is its order key, else at the end."""
        if job.deadline < (math.inf if aging is None else job.enqueued_at + aging):
            if self.urgent is None:
                self.urgent = []
            heapq.heappush(self.urgent, (job.deadline, next(sequence), job))
        else:
            self.append(job)
        self.live += 1

    def next_job(self, hook: Hook, aging: float | None) -> Job:
        """Remove and return the next job; call only while ``live``."""
        urgent, fifo = self.urgent, self
        while urgent and urgent[0][2].on_cancel is not hook:
            heapq.heappop(urgent)
        index, end = self.head, len(fifo)
        while index < end and fifo[index].on_cancel is not hook:
            index += 1
        if urgent and (
            index == end
            or urgent[0][0] <= item_order_key(fifo[index].deadline, fifo[index].enqueued_at, aging)
        ):
            job = heapq.heappop(urgent)[2]
            self.head = index
        else:
            job = fifo[index]
            self.head = index + 1
        if self.head == len(fifo):
            fifo.clear()
            self.head = 0
        elif self.head > 64 and 2 * self.head > len(fifo):
            del fifo[: self.head]
            self.head = 0
        self.live -= 1
        return job

    def discard(self, hook: Hook) -> None:
        """One of the lane's jobs left it other than by :meth:`next_job`: cancelled or expired."""
        self.live -= 1
        urgent = self.urgent or []
        if not self.live:
            self.urgent = None
            self.clear()
            self.head = 0
        elif _mostly_stale(len(urgent) + len(self) - self.head, self.live):
            kept = [entry for entry in urgent if entry[2].on_cancel is hook]
            heapq.heapify(kept)
            self.urgent = kept or None
            self[:] = [job for job in self[self.head :] if job.on_cancel is hook]
            self.head = 0


class Level:
    """The jobs of one priority: a lane per owner, taking turns in a :class:`DeficitRing`.

    An owner with one job here has no lane: ``lanes`` maps it to the job
    itself (a *lone* job, in the ring as it is), until a second job arrives.

    Attributes:
        priority: The level's priority.
        lanes: Each owner's lane, or its lone job.
        ring: Their round-robin.
        live: Jobs in the level.
    """

    __slots__ = ("arrivals", "lanes", "live", "priority", "ring")

    def __init__(self, priority: int) -> None:
        self.priority = priority
        self.lanes: dict[str | None, Lane | Job] = {}
        self.ring: DeficitRing[Lane, Job] = DeficitRing(
            Lane, partial(_resolve, self.lanes), partial(_drop_lane, self.lanes)
        )
        self.arrivals: deque[Job] = deque()  # oldest first; kept only with aging
        self.live = 0

    def key(self, hook: Hook, aging: float | None) -> float:
        """Return the level's order key (:func:`~gristmill._scheduling.level_key`); while live."""
        if aging is None:
            return level_key(self.priority, 0.0, None)
        arrivals = self.arrivals
        while arrivals[0].on_cancel is not hook:
            arrivals.popleft()
        return level_key(self.priority, arrivals[0].enqueued_at, aging)

    def discard(self, job: Job, hook: Hook) -> None:
        """``job`` (still live here) left the level otherwise than by a take."""
        lane = self.lanes[job.owner]
        if lane is job:
            del self.lanes[job.owner]  # a lone job: its ring entry is now stale
        else:
            assert isinstance(lane, Lane)
            lane.discard(hook)
            if not lane.live:
                del self.lanes[job.owner]  # it stays in the ring, empty, until its turn
        self.live -= 1
        if self.live:
            self.ring.prune(len(self.lanes))
            self.compact(hook)

    def compact(self, hook: Hook) -> None:
        """Rebuild ``arrivals`` if it is mostly jobs that left (from anywhere in it)."""
        if _mostly_stale(len(self.arrivals), self.live):
            self.arrivals = deque(queued for queued in self.arrivals if queued.on_cancel is hook)


def _resolve(lanes: dict[str | None, Lane | Job], lone: Job) -> Lane | Job | None:
    """What a lone ring entry stands for now: itself, the lane it grew into, or nothing."""
    current = lanes.get(lone.owner)
    if current is lone or (isinstance(current, Lane) and current.proxy is lone):
        return current
    return None


def _drop_lane(lanes: dict[str | None, Lane | Job], lane: Lane) -> None:
    """A lane left its ring empty: forget it, unless its owner has a new lane already."""
    if lanes.get(lane.owner) is lane:
        del lanes[lane.owner]
