"""Per-owner books (``gristmill._owners``): bounded rows, and the FIFO queue that keeps them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gristmill._owners import COMPLETED_KEPT, OWNER_ROWS, CountingQueue, OwnerBook
from tests.unit.queue_kit import make_job


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


class TestRows:
    def test_the_busiest_owners_come_first_and_the_rest_are_summed_up(self) -> None:
        book = OwnerBook()
        for index in range(OWNER_ROWS + 5):
            for _ in range(index + 1):
                book.added(f"owner-{index}")
        book.completed(None)
        rows, other = book.rows()
        assert len(rows) == OWNER_ROWS
        assert rows[0] == {"owner": f"owner-{OWNER_ROWS + 4}", "pending": OWNER_ROWS + 5,
                           "completed": 0}  # fmt: skip
        left_out = range(5)
        assert other == {
            "owners": 6,  # five quiet owners and None
            "pending": sum(index + 1 for index in left_out),
            "completed": 1,
        }

    def test_completed_counts_rank_owners_with_equal_backlogs(self) -> None:
        book = OwnerBook()
        for _ in range(3):
            book.completed("busy")
        book.completed("idle")
        rows, _ = book.rows(limit=1)
        assert rows == [{"owner": "busy", "pending": 0, "completed": 3}]

    def test_completed_counts_stay_bounded_and_nothing_is_lost_in_the_sums(self) -> None:
        book = OwnerBook()
        total = 3 * COMPLETED_KEPT
        for index in range(total):
            book.completed(f"owner-{index}")
        book.completed("owner-0")
        rows, other = book.rows()
        assert len(book._completed) <= 2 * COMPLETED_KEPT
        assert sum(row["completed"] for row in rows) + other["completed"] == total + 1

    def test_an_owner_whose_count_drops_wakes_its_waiters(self) -> None:
        book = OwnerBook()
        woken: list[str | None] = []
        book.waiting = {"a"}
        book.on_room = woken.append
        book.added("a")
        book.added("b")
        book.left("b")
        book.left("a")
        assert woken == ["a"]
        assert (book.pending_of("a"), book.pending_of("b")) == (0, 0)


class TestCountingQueue:
    def test_it_keeps_arrival_order_and_counts_every_way_out(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        book = OwnerBook()
        queue = CountingQueue(lambda job: None, book)
        jobs = [make_job(loop, i, owner="b" if i % 2 else "a", deadline=10.0) for i in range(6)]
        for job in jobs:
            queue.push(job)
        assert (book.pending_of("a"), book.pending_of("b")) == (3, 3)
        jobs[0].cancel()
        assert [job.args[0] for job in queue.take(2)] == [1, 2]
        queue.requeue([jobs[1]])
        assert [job.args[0] for job in queue.expire(10.0)] == [3, 4, 5]
        assert (book.pending_of("a"), book.pending_of("b")) == (0, 1)
        assert queue.take_all() == [jobs[1]]
        assert book.pending_of("b") == 0

    def test_a_hostile_owner_is_counted_under_a_plain_copy(
        self, loop: asyncio.AbstractEventLoop
    ) -> None:
        class Hostile(str):
            def __eq__(self, other: object) -> bool:
                raise RuntimeError("eq")

            __hash__ = str.__hash__

        book = OwnerBook()
        queue = CountingQueue(lambda job: None, book)
        job = make_job(loop, owner=Hostile("x"))
        queue.push(job)
        assert type(job.owner) is str
        assert book.pending_of("x") == 1
