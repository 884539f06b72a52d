"""Pure scheduling policy of the ``"fair"`` scheduler: who goes next, and when to start early.

::

    level order    highest key first: priority, or priority lifted by waiting (aging)
        │
        ▼
    owner order    weighted deficit round-robin among the owners of that level
        │
        ▼
    item order     nearest deadline first, then first come first served

Nothing here reads a clock or touches a job queue: the functions take what
they need (``now`` included) and :class:`DeficitRing` is a small deterministic
state machine over lanes it does not own. :mod:`gristmill._fair_queue` keeps
the items and calls these rules.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = [
    "MIN_LEAD_SECONDS",
    "DeficitRing",
    "Lane",
    "item_order_key",
    "latest_start",
    "level_key",
    "owner_key",
]

MIN_LEAD_SECONDS = 0.001
"""Least head start an early batch gets before an item's deadline: a lease and a
cut take a moment, and a batch started at the deadline itself would be late."""


def owner_key(owner: object) -> str | None:
    """Return ``owner`` as a plain ``str`` (or ``None``) that is safe to hash and compare.

    A ``str`` subclass is copied into a plain ``str`` without calling any of
    its methods, so an owner whose ``__hash__``, ``__eq__`` or ``__str__``
    raises cannot break the grinder's bookkeeping.

    Raises:
        TypeError: ``owner`` is neither a ``str`` nor ``None``.
    """
    if owner is None or type(owner) is str:
        return owner
    try:
        is_str = isinstance(owner, str)
    except Exception as exc:  # a hostile __class__
        raise TypeError("owner must be a str or None") from exc
    if not is_str:
        raise TypeError(f"owner must be a str or None, got {type(owner).__name__}")
    return str.__str__(owner)  # the base slot: an exact copy, no user code runs


def level_key(priority: int, oldest_at: float, aging: float | None) -> float:
    """Return the order key of a priority level: the level with the smallest key is served first.

    Without aging the key is ``-priority``: priority is strict. With aging,
    an item's effective priority is ``priority + waited / aging``; it grows
    by one for every ``aging`` seconds waited. Comparing two effective
    priorities at the same moment, the moment cancels out, so a level is
    ordered by ``oldest_at - priority * aging``, a key that does not change
    with time: the level whose oldest item has the highest effective
    priority goes first.
    """
    if aging is None:
        return -float(priority)
    return oldest_at - priority * aging


def item_order_key(deadline: float, enqueued_at: float, aging: float | None) -> float:
    """Return the deadline that orders an item among its owner's items at its level.

    Nearest first (EDF). An item without a deadline has an infinite one, so it
    goes after the items that have one. With aging, no key is later than one
    aging period after the item was queued: an owner's own stream of items with
    deadlines can hold back its other items for at most that long, and no
    level is kept old (and ahead of others) by an item that never moves.
    """
    if aging is None:
        return deadline
    return min(deadline, enqueued_at + aging)


def latest_start(deadline: float, run_seconds: float | None) -> float:
    """Return when a batch must start for an item with ``deadline`` to be dispatched in time.

    The item's expected run time (if known) is the head start: started then,
    the item is not only dispatched before its deadline but, at its usual
    pace, done by it. Never less than :data:`MIN_LEAD_SECONDS`.
    """
    lead = MIN_LEAD_SECONDS if run_seconds is None else max(run_seconds, MIN_LEAD_SECONDS)
    return deadline - lead


class Lane(Protocol):
    """What :class:`DeficitRing` needs of a lane: its size, its credit and its share."""

    live: int
    deficit: float
    quantum: float
    ringed: bool


L = TypeVar("L", bound=Lane)


class DeficitRing(Generic[L]):
    """Weighted deficit round-robin over the lanes (owners) of one priority level.

    Lanes take turns in ring order. A lane starting its turn is credited its
    ``quantum`` (its weight divided by the smallest weight, so at least 1) and
    hands out one item per unit of credit; the remainder, always below 1, is
    carried to its next turn, so over many turns each lane gets its weighted
    share however the quanta round. A lane that runs dry leaves the ring and
    forgets its credit, and a lane that fills again joins at the end. A turn
    may span several cuts: the next cut resumes it.

    Each lane served costs O(1): every turn hands out at least one item.

    Args:
        on_idle: Told about a lane that left the ring because it had nothing
            left.
    """

    __slots__ = ("_credited", "_on_idle", "_ring")

    def __init__(self, on_idle: Callable[[L], None]) -> None:
        self._ring: deque[L] = deque()
        self._credited = False  # whether ring[0] has had this turn's quantum
        self._on_idle = on_idle

    def __len__(self) -> int:
        return len(self._ring)

    def join(self, lane: L) -> None:
        """Put a lane that has just gained items at the end of the ring."""
        lane.ringed = True
        self._ring.append(lane)

    def next_lane(self) -> L:
        """Return the lane whose item goes next, and charge it one unit of credit.

        The caller must take exactly one item from it and then call
        :meth:`served`. Call only while some lane in the ring has items.
        """
        ring = self._ring
        while True:
            lane = ring[0]
            if lane.live <= 0:  # emptied while it waited for its turn
                self._leave()
                continue
            if not self._credited:
                lane.deficit += lane.quantum
                self._credited = True
            if lane.deficit >= 1.0:
                lane.deficit -= 1.0
                return lane
            ring.rotate(-1)
            self._credited = False

    def served(self, lane: L) -> None:
        """``lane`` (the one :meth:`next_lane` returned) gave up an item; it leaves if empty."""
        if lane.live <= 0:
            self._leave()

    def prune(self, alive: int) -> None:
        """Drop lanes left empty by cancellations if they are most of the ring.

        ``alive`` is how many lanes still have items; the check is O(1) and the
        rebuild, when due, is paid for by the cancellations that emptied them.
        """
        ring = self._ring
        if len(ring) <= 2 * alive + 64:
            return
        head_alive = bool(ring) and ring[0].live > 0
        for lane in ring:
            if lane.live <= 0:
                lane.ringed = False
                lane.deficit = 0.0
        self._ring = deque(lane for lane in ring if lane.live > 0)
        if not head_alive:
            self._credited = False

    def _leave(self) -> None:
        lane = self._ring.popleft()
        lane.ringed = False
        lane.deficit = 0.0
        self._credited = False
        self._on_idle(lane)
