"""Stateful property test of the ``"fair"`` queue and the per-owner quota in front of it.

Hypothesis drives pushes (admitted only if the admission gate has room for the
owner), cuts of one item, time jumps, cancels and expiries, and after every
step checks the promises of the scheduling guide:

- **quota**: no owner ever has more than ``max_pending_per_owner`` items pending;
- **FIFO within an owner**: an item leaves its lane before every item of the
  same owner and level with a later order key (for items without deadlines,
  every later item);
- **priority order**: the level served has the smallest level key (without
  aging: the highest priority) among all pending items;
- **fair share**: over any run of cuts in which one set of owners stays
  backlogged at the level served, each owner's count stays within
  ``weight / smallest weight + 1`` items of its weighted share;
- **no starvation with aging**: an item X is overtaken by at most
  ``(old + levels) × cycle`` items queued after ``T = queued_at + (top
  priority - priority + 1) × aging``, where ``old`` counts the items queued by
  ``T`` that X ever waited beside and ``cycle`` bounds one round-robin turn
  of every owner; once nothing old is left, X goes before anything newer;
- every item leaves exactly once, and the queue's counts match a model.
"""

from __future__ import annotations

import asyncio
import math

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from gristmill._admission import Admission, OwnerQuota
from gristmill._fair_queue import FairQueue
from gristmill._job import Job
from gristmill._owners import OwnerBook
from tests.unit.queue_kit import make_job
from tests.unit.queue_kit import settings as fair_settings

OWNERS = ("a", "b", "c", None)
TOP_PRIORITY = 2
LEVELS = TOP_PRIORITY + 1


class FairQueueMachine(RuleBasedStateMachine):
    """A model of the queue's pending items, checked against the real queue after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.now = 0.0
        self.pending: dict[int, Job] = {}  # id(job) -> job
        self.left: set[int] = set()
        self.made: list[Job] = []  # keeps every job alive, so no id is ever reused
        self.old: dict[int, int] = {}
        self.late: dict[int, int] = {}
        self.window: tuple[int, frozenset[str | None]] | None = None
        self.window_served: dict[str | None, int] = {}

    @initialize(
        weights=st.dictionaries(st.sampled_from(OWNERS), st.sampled_from([0.5, 1.0, 2.0, 3.5])),
        aging=st.none() | st.sampled_from([1.0, 10.0]),
        quota=st.integers(1, 6),
    )
    def build(self, weights: dict[str | None, float], aging: float | None, quota: int) -> None:
        chosen = fair_settings(weights=weights, aging=aging, per_owner=quota)
        self.settings = chosen
        self.aging = aging
        self.quota = quota
        self.book = OwnerBook()
        self.queue = FairQueue(chosen, lambda job: None, self.book, lambda job: None)
        self.admission = Admission(
            None, "reject", lambda: self.queue.live, OwnerQuota(quota, self.book)
        )
        self.cycle = sum(math.floor(chosen.quantum(owner)) + 1 for owner in OWNERS)

    def teardown(self) -> None:
        try:
            if hasattr(self, "queue"):
                for job in self.queue.take_all():
                    self._gone(job)
                assert not self.pending
        finally:
            self.loop.close()

    # -- rules -------------------------------------------------------------------------------

    @rule(
        owner=st.sampled_from(OWNERS),
        priority=st.integers(0, TOP_PRIORITY),
        deadline=st.none() | st.sampled_from([0.5, 3.0, 30.0]),
        count=st.integers(1, 4),
    )
    def push(self, owner: str | None, priority: int, deadline: float | None, count: int) -> None:
        for _ in range(count):
            if not self.admission.has_room(owner=owner):
                assert self.book.pending_of(owner) == self.quota
                return
            job = make_job(
                self.loop,
                owner=owner,
                priority=priority,
                at=self.now,
                deadline=math.inf if deadline is None else self.now + deadline,
            )
            for other in self.pending.values():
                if self.now <= self._horizon(other):
                    self.old[id(other)] += 1
            self.queue.push(job)
            self.made.append(job)
            self.pending[id(job)] = job
            self.old[id(job)] = len(self.pending)  # itself and all it waits beside
            self.late[id(job)] = 0

    @rule(count=st.integers(1, 8))
    def cut(self, count: int) -> None:
        for _ in range(count):
            if not self.pending:
                return
            context = self._context()
            [job] = self.queue.take(1)
            self._check_order(job)
            self._check_share(context, job)
            self._gone(job)
            for other in self.pending.values():
                if job.enqueued_at > self._horizon(other):
                    self.late[id(other)] += 1

    @rule(seconds=st.sampled_from([0.0, 0.25, 1.0, 4.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        for job in self.queue.expire(self.now):
            assert job.deadline <= self.now
            self._gone(job)
        self.window = None  # expiries change the backlog

    @rule(pick=st.integers(0, 10_000))
    def cancel(self, pick: int) -> None:
        if self.pending:
            job = list(self.pending.values())[pick % len(self.pending)]
            assert job.cancel()
            self._gone(job)
            self.window = None

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def counts_match_the_model(self) -> None:
        if not hasattr(self, "queue"):
            return
        assert self.queue.live == len(self.pending)
        for owner in OWNERS:
            mine = sum(1 for job in self.pending.values() if job.owner == owner)
            assert self.book.pending_of(owner) == mine
            assert mine <= self.quota

    @invariant()
    def nothing_starves_with_aging(self) -> None:
        if getattr(self, "aging", None) is None:
            return
        for key, late in self.late.items():
            if key in self.pending:
                assert late <= (self.old[key] + LEVELS) * self.cycle, (late, self.old[key])

    # -- checks ------------------------------------------------------------------------------

    def _check_order(self, job: Job) -> None:
        others = list(self.pending.values())
        mine = [other for other in others if other.priority == job.priority]
        level = min(self._level_key(other) for other in mine)
        for other in others:
            assert (self._level_key(other), -other.priority) >= (level, -job.priority)
            if other is not job and other.owner == job.owner and other.priority == job.priority:
                assert self._order_key(other) >= self._order_key(job)

    def _context(self) -> tuple[int, frozenset[str | None]]:
        """The level that will be served next and the owners backlogged there."""
        top = min(self.pending.values(), key=lambda job: (self._level_key(job), -job.priority))
        owners = {job.owner for job in self.pending.values() if job.priority == top.priority}
        return (top.priority, frozenset(owners))

    def _check_share(self, context: tuple[int, frozenset[str | None]], job: Job) -> None:
        if context != self.window:
            self.window, self.window_served = context, dict.fromkeys(context[1], 0)
        served = self.window_served
        served[job.owner] += 1
        total = sum(served.values())
        weight = {owner: self.settings.quantum(owner) for owner in served}
        whole = sum(weight.values())
        for owner, count in served.items():
            share = total * weight[owner] / whole
            assert abs(count - share) < weight[owner] + 1, (owner, count, share, served)

    def _level_key(self, job: Job) -> float:
        """The job's key among levels, worked out here rather than by the code under test."""
        if self.aging is None:
            return float(-job.priority)
        return job.enqueued_at - job.priority * self.aging

    def _order_key(self, job: Job) -> float:
        """The job's key within its lane: its deadline, but never later than a period (aging)."""
        if self.aging is None:
            return job.deadline
        return min(job.deadline, job.enqueued_at + self.aging)

    def _horizon(self, job: Job) -> float:
        aging = self.aging or 0.0
        return job.enqueued_at + (TOP_PRIORITY - job.priority + 1) * aging

    def _gone(self, job: Job) -> None:
        assert id(job) not in self.left, "an item left the queue twice"
        self.left.add(id(job))
        del self.pending[id(job)]


FairQueueMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None
)
TestFairQueue = FairQueueMachine.TestCase
