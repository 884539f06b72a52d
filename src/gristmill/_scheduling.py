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
from typing import Generic, Protocol, TypeVar, cast

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
S = TypeVar("S")


class DeficitRing(Generic[L, S]):
    """Weighted deficit round-robin over the lanes (owners) of one priority level.

    Lanes take turns in ring order. A lane starting its turn is credited its
    ``quantum`` (its weight divided by the smallest weight, so at least 1) and
    hands out one item per unit of credit; the remainder, always below 1, is
    carried to its next turn, so over many turns each lane gets its weighted
    share however the quanta round. A lane that runs dry leaves the ring and
    forgets its credit, and a lane that fills again joins at the end. A turn
    may span several cuts: the next cut resumes it.

    An owner with a single item needs no lane: the ring may hold the item
    itself, a *lone* entry, whose turn hands out that one item (as a fresh
    lane of one would: its quantum is at least 1). When a second item arrives
    the owner gets a lane, which takes the lone entry's place in the ring when
    its turn comes. So many owners of one item each cost no lane at all.

    Each lane served costs O(1): every turn hands out at least one item.

    Args:
        lane_type: The class of lanes; any other entry is a lone item.
        resolve: Given a lone entry, returns what it stands for now: the lane
            that replaced it, itself if it is still waiting alone, or
            ``None`` if it left (cancelled, expired).
        on_idle: Told about a lane that left the ring because it had nothing
            left.
    """

    __slots__ = ("_credited", "_lane_type", "_on_idle", "_resolve", "_ring")

    def __init__(
        self,
        lane_type: type[L],
        resolve: Callable[[S], L | S | None],
        on_idle: Callable[[L], None],
    ) -> None:
        self._ring: deque[L | S] = deque()
        self._credited = False  # whether ring[0] has had this turn's quantum
        self._lane_type = lane_type
        self._resolve = resolve
        self._on_idle = on_idle

    def __len__(self) -> int:
        return len(self._ring)

    def join(self, entry: L | S) -> None:
        """Put a lane that has just gained items, or a lone item, at the end of the ring."""
        if isinstance(entry, self._lane_type):
            entry.ringed = True
        self._ring.append(entry)

    def next_turn(self) -> L | S:
        """Return the lane whose item goes next, charged one unit of credit, or a lone item.

        A lane's caller must take exactly one item from it and then call
        :meth:`served`; a lone item has already left the ring. Call only while
        some entry in the ring has an item.
        """
        ring, lane_type = self._ring, self._lane_type
        while True:
            entry = ring[0]
            if not isinstance(entry, lane_type):
                current = self._resolve(cast(S, entry))  # not a lane: a lone item
                if current is None:  # it left while it waited for its turn
                    ring.popleft()
                    self._credited = False
                    continue
                if not isinstance(current, lane_type):
                    ring.popleft()
                    self._credited = False
                    return current
                ring[0] = entry = current  # it has a lane now, which takes its turn
            if entry.live <= 0:  # emptied while it waited for its turn
                self._leave()
                continue
            if not self._credited:
                entry.deficit += entry.quantum
                self._credited = True
            if entry.deficit >= 1.0:
                entry.deficit -= 1.0
                return entry
            ring.rotate(-1)
            self._credited = False

    def served(self, lane: L) -> None:
        """``lane`` (the one :meth:`next_turn` returned) gave up an item; it leaves if empty."""
        if lane.live <= 0:
            self._leave()

    def prune(self, alive: int) -> None:
        """Drop entries left empty by cancellations if they are most of the ring.

        ``alive`` is how many owners still have items; the check is O(1) and the
        rebuild, when due, is paid for by the cancellations that emptied them.
        """
        ring = self._ring
        if len(ring) <= 2 * alive + 64:
            return
        kept: deque[L | S] = deque()
        for entry in ring:
            if isinstance(entry, self._lane_type):
                if entry.live > 0:
                    kept.append(entry)
                else:
                    entry.ringed = False
                    entry.deficit = 0.0
            elif self._resolve(cast(S, entry)) is not None:
                kept.append(entry)
        if not kept or not ring or kept[0] is not ring[0]:
            self._credited = False
        self._ring = kept

    def _leave(self) -> None:
        lane = self._ring.popleft()
        assert isinstance(lane, self._lane_type)
        lane.ringed = False
        lane.deficit = 0.0
        self._credited = False
        self._on_idle(lane)
