"""The containers of the ``"fair"`` scheduler: a lane per owner, a level per priority.

::

    Level (priority p) ── DeficitRing ──► Lane (owner a): deadline heap ─┐ next(): the nearer
                                    └──► Lane (owner b): FIFO list ─────┘ order key first

A lane holds one owner's jobs at one priority level. Jobs whose order key
(:func:`~gristmill._scheduling.item_order_key`) is their own deadline wait in
a heap; the others, whose keys grow with arrival, wait in a list in arrival
order, so a lane without deadlines costs O(1) per job. Jobs that left (taken,
cancelled, expired) are recognised by their ``on_cancel`` hook no longer being
the queue's ``hook``, dropped lazily, and compacted away when they are most
of a container. Owning loop only.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from functools import partial

from ._job import Job
from ._queue import _mostly_stale
from ._scheduling import DeficitRing, item_order_key, level_key

__all__ = ["Lane", "Level"]

Hook = Callable[[Job], None]


class Lane:
    """One owner's jobs at one priority level: nearest order key first, first come on a tie.

    Attributes:
        owner: The owner's plain key.
        quantum: Its round-robin share per turn (weight / smallest weight).
        live: Jobs in the lane.
        deficit: Round-robin credit carried between turns.
        ringed: Whether it is in its level's ring.
    """

    __slots__ = ("deficit", "fifo", "head", "live", "owner", "quantum", "ringed", "urgent")

    def __init__(self, owner: str | None, quantum: float) -> None:
        self.owner = owner
        self.quantum = quantum
        self.urgent: list[tuple[float, int, Job]] = []  # ordered by the job's own deadline
        self.fifo: list[Job] = []  # ordered by arrival, from index ``head``
        self.head = 0
        self.live = 0
        self.deficit = 0.0
        self.ringed = False

    def add(self, job: Job, aging: float | None, sequence: int) -> None:
        """Add ``job``: by its deadline if that is its order key, else at the end."""
        cap = math.inf if aging is None else job.enqueued_at + aging
        if job.deadline < cap:
            heapq.heappush(self.urgent, (job.deadline, sequence, job))
        else:
            self.fifo.append(job)
        self.live += 1

    def pop(self, hook: Hook, aging: float | None) -> Job:
        """Remove and return the next job; call only while ``live``."""
        urgent, fifo = self.urgent, self.fifo
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
        """One of the lane's jobs left it otherwise than by :meth:`pop` (cancelled, expired)."""
        self.live -= 1
        if not self.live:
            self.urgent.clear()
            self.fifo.clear()
            self.head = 0
        elif _mostly_stale(len(self.urgent) + len(self.fifo) - self.head, self.live):
            self.urgent = [entry for entry in self.urgent if entry[2].on_cancel is hook]
            heapq.heapify(self.urgent)
            self.fifo = [job for job in self.fifo[self.head :] if job.on_cancel is hook]
            self.head = 0


class Level:
    """The jobs of one priority: a lane per owner, taking turns in a :class:`DeficitRing`.

    Attributes:
        priority: The level's priority.
        lanes: The lanes that hold jobs, by owner.
        ring: Their round-robin.
        live: Jobs in the level.
    """

    __slots__ = ("arrivals", "lanes", "live", "priority", "ring")

    def __init__(self, priority: int) -> None:
        self.priority = priority
        self.lanes: dict[str | None, Lane] = {}
        self.ring: DeficitRing[Lane] = DeficitRing(partial(_drop_lane, self.lanes))
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
        """``job`` (still live here) left its lane otherwise than by a take."""
        lane = self.lanes[job.owner]
        lane.discard(hook)
        if not lane.live:
            del self.lanes[job.owner]  # it stays in the ring, empty, until its turn
        self.live -= 1
        if self.live:
            self.ring.prune(len(self.lanes))
            if _mostly_stale(len(self.arrivals), self.live):
                self.arrivals = deque(
                    queued for queued in self.arrivals if queued.on_cancel is hook
                )


def _drop_lane(lanes: dict[str | None, Lane], lane: Lane) -> None:
    """A lane left its ring empty: forget it, unless its owner has a new lane already."""
    if lanes.get(lane.owner) is lane:
        del lanes[lane.owner]
