"""The ``"fair"`` queue (``gristmill._fair_queue.FairQueue``): who is cut next, and the books."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill._job import Job
from gristmill._owners import OwnerBook
from tests.unit.queue_kit import fair_queue, make_job
from tests.unit.queue_kit import settings as fair_settings


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def tags(jobs: list[Job]) -> list[object]:
    return [job.args[0] for job in jobs]


class TestOrder:
    def test_one_owner_is_first_come_first_served(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, _ = fair_queue()
        for i in range(5):
            queue.push(make_job(loop, i, owner="a", at=float(i)))
        assert tags(queue.take(5)) == [0, 1, 2, 3, 4]

    def test_owners_share_each_cut_in_turn_whatever_their_backlog(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue()
        for i in range(100):
            queue.push(make_job(loop, f"a{i}", owner="a"))
        queue.push(make_job(loop, "b0", owner="b"))
        queue.push(make_job(loop, "b1", owner="b"))
        assert tags(queue.take(5)) == ["a0", "b0", "a1", "b1", "a2"]

    def test_weights_set_the_shares(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, _ = fair_queue(fair_settings(weights={"heavy": 3}))
        for _i in range(30):
            queue.push(make_job(loop, "heavy", owner="heavy"))
            queue.push(make_job(loop, "light", owner="light"))
        cut = tags(queue.take(20))
        assert (cut.count("heavy"), cut.count("light")) == (15, 5)

    def test_items_without_an_owner_are_one_owner(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, _ = fair_queue()
        for i in range(3):
            queue.push(make_job(loop, f"none{i}"))
        queue.push(make_job(loop, "a", owner="a"))
        assert tags(queue.take(3)) == ["none0", "a", "none1"]

    def test_a_higher_priority_goes_first_whatever_its_owner_or_age(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue()
        queue.push(make_job(loop, "low", owner="a", at=0.0))
        queue.push(make_job(loop, "mid", owner="b", priority=1, at=1.0))
        queue.push(make_job(loop, "high", owner="a", priority=9, at=2.0))
        assert tags(queue.take(3)) == ["high", "mid", "low"]

    def test_without_aging_priority_is_strict(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, _ = fair_queue()
        queue.push(make_job(loop, "old-low", at=-1e6))
        queue.push(make_job(loop, "new-high", priority=1, at=0.0))
        assert tags(queue.take(1)) == ["new-high"]

    def test_aging_lifts_a_level_one_step_per_period_waited(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue(fair_settings(aging=10.0))
        queue.push(make_job(loop, "low", priority=0, at=0.0))
        queue.push(make_job(loop, "high-after-9s", priority=1, at=9.0))
        queue.push(make_job(loop, "high-after-11s", priority=1, at=11.0))
        # low has waited 9 s more than the first high item: less than a period.
        assert tags(queue.take(3)) == ["high-after-9s", "low", "high-after-11s"]

    @pytest.mark.parametrize("aging", [None, 1.0])
    def test_under_a_high_priority_flood_aging_alone_lets_a_low_item_through(
        self, loop: asyncio.AbstractEventLoop, aging: float | None
    ) -> None:
        queue, _ = fair_queue(fair_settings(aging=aging))
        queue.push(make_job(loop, "low", owner="quiet", priority=0, at=0.0))
        now, taken_at = 0.0, None
        while now < 20.0 and taken_at is None:
            now += 0.25
            for _ in range(2):  # the flood keeps the high level full
                queue.push(make_job(loop, "high", owner="loud", priority=2, at=now))
            if "low" in tags(queue.take(2)):
                taken_at = now
        if aging is None:
            assert taken_at is None  # strict: starved for as long as the flood lasts
        else:
            # Its key 0 - 0 beats the flood's (oldest queued at t) t - 2 once t > 2 periods.
            assert taken_at is not None
            assert taken_at <= 2 * aging + 0.5

    def test_nearest_deadline_first_within_an_owner(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, _ = fair_queue()
        queue.push(make_job(loop, "none", owner="a", at=0.0))
        queue.push(make_job(loop, "late", owner="a", at=1.0, deadline=50.0))
        queue.push(make_job(loop, "soon", owner="a", at=2.0, deadline=5.0))
        assert tags(queue.take(3)) == ["soon", "late", "none"]

    def test_deadlines_do_not_let_an_owner_jump_other_owners(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue()
        queue.push(make_job(loop, "a0", owner="a"))
        queue.push(make_job(loop, "a1", owner="a"))
        queue.push(make_job(loop, "b-urgent", owner="b", deadline=1.0))
        assert tags(queue.take(3)) == ["a0", "b-urgent", "a1"]

    def test_with_aging_an_owners_deadlines_hold_its_other_items_back_one_period_at_most(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue(fair_settings(aging=10.0))
        queue.push(make_job(loop, "plain", owner="a", at=0.0))  # order key 0 + 10
        queue.push(make_job(loop, "due-at-9", owner="a", at=5.0, deadline=9.0))
        queue.push(make_job(loop, "due-at-12", owner="a", at=6.0, deadline=12.0))
        assert tags(queue.take(3)) == ["due-at-9", "plain", "due-at-12"]

    def test_requeued_jobs_go_first_and_a_suspect_goes_alone(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue()
        queue.push(make_job(loop, "fresh", priority=5))
        back = [make_job(loop, "back"), make_job(loop, "suspect")]
        back[1].suspect = True
        queue.requeue(back)
        assert queue.overdue == 2
        assert tags(queue.take(10)) == ["suspect"]
        assert tags(queue.take(10)) == ["back", "fresh"]


class TestLeaving:
    def test_a_cancelled_job_leaves_at_once_and_is_never_cut(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        book = OwnerBook()
        queue, cancelled = fair_queue(book=book)
        jobs = [make_job(loop, i, owner="a") for i in range(3)]
        for job in jobs:
            queue.push(job)
        jobs[1].cancel()
        assert (queue.live, book.pending_of("a"), cancelled) == (2, 2, [jobs[1]])
        assert tags(queue.take(5)) == [0, 2]
        assert book.pending_of("a") == 0

    def test_an_owner_emptied_by_cancels_can_come_back(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue()
        gone = make_job(loop, "gone", owner="a")
        queue.push(gone)
        queue.push(make_job(loop, "b0", owner="b"))
        gone.cancel()
        queue.push(make_job(loop, "back", owner="a"))
        queue.push(make_job(loop, "b1", owner="b"))
        assert tags(queue.take(5)) == ["b0", "back", "b1"]

    def test_a_cancelled_requeued_job_is_not_cut(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, cancelled = fair_queue()
        job = make_job(loop, "back", owner="a")
        queue.requeue([job])
        job.cancel()
        assert (queue.live, queue.take(5), cancelled) == (0, [], [job])

    def test_expire_removes_dead_jobs_and_counts_them_out(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        book = OwnerBook()
        queue, _ = fair_queue(book=book)
        queue.push(make_job(loop, "dies", owner="a", deadline=5.0))
        queue.push(make_job(loop, "lives", owner="a", deadline=50.0))
        assert queue.next_deadline() == 5.0
        assert tags(queue.expire(5.0)) == ["dies"]
        assert (queue.live, book.pending_of("a"), queue.next_deadline()) == (1, 1, 50.0)
        assert tags(queue.take(5)) == ["lives"]

    def test_take_all_returns_requeued_then_oldest_first(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        book = OwnerBook()
        queue, _ = fair_queue(book=book)
        queue.push(make_job(loop, "low", owner="a", at=0.0))
        queue.push(make_job(loop, "high", owner="b", priority=3, at=1.0))
        queue.requeue([make_job(loop, "back", owner="c")])
        assert tags(queue.take_all()) == ["back", "low", "high"]
        assert (queue.live, queue.head(), book.rows()[0]) == (0, None, [])
        assert queue.take(5) == []

    def test_head_is_the_oldest_live_job(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, _ = fair_queue()
        first = make_job(loop, "first", at=1.0)
        queue.push(first)
        queue.push(make_job(loop, "second", priority=9, at=2.0))
        assert queue.head() is first
        first.cancel()
        assert tags([queue.head()]) == ["second"]  # type: ignore[list-item]

    def test_the_pending_books_add_up_across_owners_and_levels(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        book = OwnerBook()
        queue, _ = fair_queue(book=book)
        for owner, priority in [("a", 0), ("a", 2), ("b", 0), (None, 1)]:
            queue.push(make_job(loop, owner, owner=owner, priority=priority))
        assert [book.pending_of(key) for key in ("a", "b", None)] == [2, 1, 1]
        queue.take(4)
        assert [book.pending_of(key) for key in ("a", "b", None)] == [0, 0, 0]


class TestDeadlines:
    def test_start_by_leaves_the_expected_run_time_before_the_nearest_deadline(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue(estimate=2.0)
        assert queue.start_by() is None
        queue.push(make_job(loop, deadline=30.0))
        queue.push(make_job(loop, deadline=10.0))
        assert queue.start_by() == 8.0


class TestOwners:
    def test_a_hostile_owner_is_stored_as_a_plain_string(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        class Hostile(str):
            def __hash__(self) -> int:
                raise RuntimeError("hash")

        book = OwnerBook()
        queue, _ = fair_queue(book=book)
        job = make_job(loop, owner=Hostile("a"))
        queue.push(job)
        assert type(job.owner) is str
        assert book.pending_of("a") == 1
        job.cancel()
        assert book.pending_of("a") == 0

    def test_an_owner_that_is_not_a_string_is_refused_and_nothing_is_queued(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue()
        job = make_job(loop)
        job.owner = 42  # type: ignore[assignment]
        with pytest.raises(TypeError, match="owner must be a str or None, got int"):
            queue.push(job)
        assert (queue.live, job.on_cancel, queue.head()) == (0, None, None)

    @pytest.mark.parametrize("aging", [None, 1e6])
    def test_a_job_left_waiting_does_not_keep_every_later_job_alive(
        self, loop: asyncio.AbstractEventLoop, aging: float | None
    ) -> None:
        queue, _ = fair_queue(fair_settings(aging=aging))
        queue.push(make_job(loop, "starved", owner="quiet", priority=0, at=0.0))
        for round_ in range(200):
            for _ in range(50):
                queue.push(make_job(loop, "high", owner="loud", priority=1, at=float(round_)))
            assert "starved" not in tags(queue.take(50))
        assert len(queue._arrivals) <= 2 * queue.live + 64
        assert all(len(level.arrivals) <= 2 * level.live + 64 for level in queue._levels.values())

    def test_many_owners_leave_nothing_behind_once_gone(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        queue, _ = fair_queue()
        jobs = [make_job(loop, owner=f"owner-{i}", deadline=10.0) for i in range(5000)]
        for job in jobs:
            queue.push(job)
        for job in jobs[::2]:
            job.cancel()
        assert len(queue.take(10_000)) == 2500
        assert queue._levels == {}  # every lane and level was forgotten
        assert queue.next_deadline() is None


@settings(max_examples=60, deadline=None)
@given(
    pushes=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.integers(0, 2),
            st.none() | st.floats(1.0, 100.0),
        ),
        max_size=60,
    ),
    cuts=st.lists(st.integers(1, 9), min_size=1, max_size=12),
    aging=st.none() | st.sampled_from([1.0, 30.0]),
)
def test_a_cut_of_n_is_n_cuts_of_one(
    pushes: list[tuple[str | None, int, float | None]], cuts: list[int], aging: float | None
) -> None:
    loop = asyncio.new_event_loop()
    try:
        chosen = fair_settings(weights={"a": 2.5}, aging=aging)
        whole, _ = fair_queue(chosen)
        single, _ = fair_queue(chosen)
        for index, (owner, priority, deadline) in enumerate(pushes):
            for queue in (whole, single):
                queue.push(
                    make_job(
                        loop,
                        index,
                        owner=owner,
                        priority=priority,
                        at=float(index),
                        deadline=math.inf if deadline is None else index + deadline,
                    )
                )
        for size in cuts:
            one_by_one = [job for _ in range(size) for job in single.take(1)]
            assert tags(whole.take(size)) == tags(one_by_one)
    finally:
        loop.close()
