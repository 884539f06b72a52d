"""Scheduling through the grinder: ``scheduler="fair"``, priorities, deadlines, ``dispatch``.

Order tests run on one pool with one worker, so the order in which jobs run
is the order of the cut. A gated first job holds the pool while the others
queue up; opening the gate lets the next cut take them all.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import Gate, loop_turns
from tests.helpers import assert_grinder_settled, make_manager, wait_until

Start = Callable[..., Awaitable[WorkGrinder]]


@pytest.fixture
async def one_worker(clock: FakeClock) -> AsyncIterator[LeasedExecutorManager]:
    manager = make_manager(clock, max_pools=1, workers_per_pool=1)
    await manager.start()
    yield manager
    await manager.stop()


@pytest.fixture
async def start(one_worker: LeasedExecutorManager) -> AsyncIterator[Start]:
    """Start grinders on the one-worker manager; they are stopped and checked at teardown."""
    started: list[WorkGrinder] = []

    async def factory(**options: Any) -> WorkGrinder:
        settings: dict[str, Any] = {
            "max_wait_seconds": 10.0,
            "batch_size_threshold": 1,
            "max_concurrent_batches": 1,
        }
        settings.update(options)
        grinder = WorkGrinder(executor_manager=one_worker, **settings)
        await grinder.start()
        started.append(grinder)
        return grinder

    yield factory
    for grinder in started:
        await asyncio.wait_for(grinder.stop(), 10)
        assert_grinder_settled(grinder)


class Recorder:
    """Jobs that note their tag in the order they run."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self._lock = threading.Lock()

    def note(self, tag: str) -> str:
        with self._lock:
            self.ran.append(tag)
        return tag


@pytest.fixture
def gate() -> Iterator[Gate]:
    with Gate() as held:
        yield held


async def hold_the_pool(grinder: WorkGrinder, gate: Gate) -> asyncio.Future[None]:
    """Run a gated job, so what is queued next waits for the following cut."""
    blocker = await grinder.enqueue(gate.block)
    await wait_until(lambda: gate.arrived == 1, what="the pool is held")
    return blocker


async def run_queued(grinder: WorkGrinder, gate: Gate, futures: list[asyncio.Future[Any]]) -> None:
    gate.open()
    await asyncio.wait_for(asyncio.gather(*futures), 10)


class TestFairOrder:
    async def test_owners_share_the_cut_in_turn(self, start: Start, gate: Gate) -> None:
        grinder = await start(scheduler="fair")
        jobs = Recorder()
        blocker = await hold_the_pool(grinder, gate)
        futures = [await grinder.enqueue(jobs.note, f"a{i}", owner="a") for i in range(4)]
        futures += [await grinder.enqueue(jobs.note, f"b{i}", owner="b") for i in range(2)]
        await run_queued(grinder, gate, [blocker, *futures])
        assert jobs.ran == ["a0", "b0", "a1", "b1", "a2", "a3"]

    async def test_the_fifo_default_keeps_arrival_order(self, start: Start, gate: Gate) -> None:
        grinder = await start()
        jobs = Recorder()
        blocker = await hold_the_pool(grinder, gate)
        futures = [await grinder.enqueue(jobs.note, f"a{i}", owner="a") for i in range(4)]
        futures += [await grinder.enqueue(jobs.note, f"b{i}", owner="b") for i in range(2)]
        futures.append(
            await grinder.enqueue_work(Work(jobs.note, args=("due",), deadline_seconds=1.0))
        )
        await run_queued(grinder, gate, [blocker, *futures])
        assert jobs.ran == ["a0", "a1", "a2", "a3", "b0", "b1", "due"]

    async def test_weights_set_each_owners_share(self, start: Start, gate: Gate) -> None:
        grinder = await start(scheduler="fair", owner_weights={"gold": 3})
        jobs = Recorder()
        blocker = await hold_the_pool(grinder, gate)
        futures = []
        for i in range(4):
            futures.append(await grinder.enqueue(jobs.note, "gold", owner="gold"))
            futures.append(await grinder.enqueue(jobs.note, "free", owner=f"free-{i % 1}"))
        await run_queued(grinder, gate, [blocker, *futures])
        assert jobs.ran[:5] == ["gold", "gold", "gold", "free", "gold"]

    async def test_a_higher_priority_goes_first(self, start: Start, gate: Gate) -> None:
        grinder = await start(scheduler="fair")
        jobs = Recorder()
        blocker = await hold_the_pool(grinder, gate)
        futures = [await grinder.enqueue(jobs.note, "plain", owner="a")]
        futures.append(
            await grinder.enqueue_work(Work(jobs.note, args=("urgent",), owner="b", priority=5))
        )
        futures.append(
            await grinder.enqueue_work(Work(jobs.note, args=("background",), priority=-1))
        )
        await run_queued(grinder, gate, [blocker, *futures])
        assert jobs.ran == ["urgent", "plain", "background"]

    async def test_nearest_deadline_first_within_an_owner(self, start: Start, gate: Gate) -> None:
        grinder = await start(scheduler="fair")
        jobs = Recorder()
        blocker = await hold_the_pool(grinder, gate)
        futures = [
            await grinder.enqueue_work(Work(jobs.note, args=(tag,), deadline_seconds=seconds))
            for tag, seconds in [("later", 30.0), ("none", None), ("soon", 5.0)]
        ]
        await run_queued(grinder, gate, [blocker, *futures])
        assert jobs.ran == ["soon", "later", "none"]

    async def test_a_submit_from_thread_joins_its_owners_lane(
        self, start: Start, gate: Gate
    ) -> None:
        grinder = await start(scheduler="fair")
        jobs = Recorder()
        blocker = await hold_the_pool(grinder, gate)
        futures = [await grinder.enqueue(jobs.note, f"a{i}", owner="a") for i in range(3)]
        thread_future = await asyncio.to_thread(
            grinder.submit_from_thread, jobs.note, "b0", owner="b"
        )
        await wait_until(lambda: grinder.stats()["pending"] == 4, what="thread job queued")
        await run_queued(grinder, gate, [blocker, *futures, asyncio.wrap_future(thread_future)])
        assert jobs.ran == ["a0", "b0", "a1", "a2"]


class TestPriorityOnFifo:
    async def test_the_fifo_scheduler_refuses_a_priority_naming_the_option(
        self, start: Start
    ) -> None:
        grinder = await start(batch_size_threshold=100)
        with pytest.raises(ValueError, match=r"Work\.priority=2 needs .*scheduler='fair'"):
            await grinder.enqueue_work(Work(abs, args=(-1,), priority=2))
        with pytest.raises(ValueError, match="scheduler='fair'"):
            await asyncio.to_thread(grinder.submit_work_from_thread, Work(abs, priority=-1))
        zero = await grinder.enqueue_work(Work(abs, args=(-1,), priority=0))
        assert grinder.stats()["submitted"] == 1
        await grinder.stop()
        assert zero.result() == 1

    @pytest.mark.parametrize(
        ("value", "error"), [(True, ValueError), (2**31, ValueError), ("1", TypeError)]
    )
    def test_a_bad_priority_is_refused_by_work(self, value: object, error: type[Exception]) -> None:
        with pytest.raises(error, match=r"Work\.priority"):
            Work(abs, priority=value)  # type: ignore[arg-type]


class TestDeadlinesUnderFair:
    async def test_a_batch_starts_early_rather_than_let_an_item_miss_its_deadline(
        self, start: Start, clock: FakeClock
    ) -> None:
        grinder = await start(scheduler="fair", batch_size_threshold=10)
        future = await grinder.enqueue_work(Work(abs, args=(-4,), deadline_seconds=5.0))
        await loop_turns(5)
        clock.advance(4.85)
        await loop_turns(5)
        assert not future.done()  # no run time known: it starts just before the deadline
        clock.advance(0.1495)  # a moment before the deadline: max_wait (10 s) would miss it
        assert await asyncio.wait_for(future, 10) == 4
        assert grinder.stats()["timed_out"] == 0

    async def test_the_fifo_scheduler_keeps_the_spec_and_lets_the_deadline_pass(
        self, start: Start, clock: FakeClock
    ) -> None:
        grinder = await start(batch_size_threshold=10)
        future = await grinder.enqueue_work(Work(abs, args=(-4,), deadline_seconds=5.0))
        await loop_turns(5)
        clock.advance(4.9995)
        await loop_turns(5)
        assert not future.done()
        clock.advance(0.001)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(future, 10)

    async def test_the_early_start_leaves_the_expected_run_time(
        self, start: Start, clock: FakeClock
    ) -> None:
        grinder = await start(scheduler="fair", batch_size_threshold=10)
        learn = await grinder.enqueue(time.sleep, 0.2)  # the grinder learns: about 0.2 s a call
        clock.advance(10.0)
        await asyncio.wait_for(learn, 10)
        future = await grinder.enqueue_work(Work(time.sleep, args=(0.0,), deadline_seconds=5.0))
        await loop_turns(5)
        clock.advance(4.85)  # 5 s less the expected 0.2 s has passed; a guess-free start waits
        await asyncio.wait_for(future, 10)
        assert grinder.stats()["timed_out"] == 0


class TestEager:
    async def test_a_lone_item_starts_at_once(self, start: Start, clock: FakeClock) -> None:
        grinder = await start(dispatch="eager", batch_size_threshold=20)
        assert await asyncio.wait_for(grinder.submit(abs, -3), 10) == 3  # no clock advance
        assert grinder.stats()["dispatch"] == "eager"

    async def test_items_gather_while_every_slot_is_busy(self, start: Start, gate: Gate) -> None:
        grinder = await start(dispatch="eager", batch_size_threshold=20)
        blocker = await hold_the_pool(grinder, gate)
        futures = [await grinder.enqueue(abs, -i) for i in range(5)]
        await loop_turns(5)
        assert grinder.stats()["pending"] == 5
        await run_queued(grinder, gate, [blocker, *futures])
        assert grinder.stats()["batches"] == 2  # the blocker's, then one of five

    async def test_wait_dispatch_still_waits_for_max_wait(
        self, start: Start, clock: FakeClock
    ) -> None:
        grinder = await start(batch_size_threshold=20)
        future = await grinder.enqueue(abs, -3)
        await loop_turns(5)
        clock.advance(9.99)
        await loop_turns(5)
        assert not future.done()
        clock.advance(0.01)
        assert await asyncio.wait_for(future, 10) == 3


class TestStats:
    async def test_settings_and_owner_rows_appear_in_stats(self, start: Start, gate: Gate) -> None:
        grinder = await start(
            scheduler="fair", priority_aging_seconds=30.0, max_pending_per_owner=50
        )
        blocker = await hold_the_pool(grinder, gate)
        futures = []
        for index in range(12):
            futures += [await grinder.enqueue(abs, -1, owner=f"t{index}") for _ in range(index + 1)]
        stats = grinder.stats()
        assert (stats["scheduler"], stats["dispatch"]) == ("fair", "wait")
        assert (stats["priority_aging_seconds"], stats["max_pending_per_owner"]) == (30.0, 50)
        assert [row["owner"] for row in stats["owners"]] == [f"t{i}" for i in range(11, 1, -1)]
        assert stats["other_owners"] == {"owners": 2, "pending": 3, "completed": 0}
        await run_queued(grinder, gate, [blocker, *futures])
        stats = grinder.stats()
        assert stats["owners"][0] == {"owner": "t11", "pending": 0, "completed": 12}
        assert stats["other_owners"]["completed"] == 3 + 1  # t0, t1 and the blocker (None)

    async def test_the_default_grinder_keeps_no_owner_books(self, start: Start) -> None:
        grinder = await start(batch_size_threshold=5)
        await grinder.enqueue(abs, -1, owner="a")
        stats = grinder.stats()
        assert (stats["scheduler"], stats["dispatch"], stats["max_pending_per_owner"]) == (
            "fifo",
            "wait",
            None,
        )
        assert stats["owners"] == []
        assert stats["other_owners"] == {"owners": 0, "pending": 0, "completed": 0}


class Hostile(str):
    """An owner whose hash, equality and str() all raise."""

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __str__(self) -> str:
        raise RuntimeError("str")


class TestHostileOwners:
    async def test_a_hostile_owner_string_is_scheduled_under_its_plain_value(
        self, start: Start
    ) -> None:
        grinder = await start(scheduler="fair", owner_weights={"x": 2}, batch_size_threshold=5)
        future = await grinder.enqueue(abs, -1, owner=Hostile("x"))
        assert [row["owner"] for row in grinder.stats()["owners"]] == ["x"]
        await grinder.stop()
        assert future.result() == 1

    async def test_an_owner_that_is_not_a_string_fails_that_call_only(self, start: Start) -> None:
        grinder = await start(scheduler="fair", batch_size_threshold=5)
        with pytest.raises(TypeError, match="owner must be a str or None, got tuple"):
            await grinder.enqueue(abs, -1, owner=("a",))  # type: ignore[call-overload]
        not_an_owner: Any = 3
        thread_future = await asyncio.to_thread(
            grinder.submit_from_thread, abs, -1, owner=not_an_owner
        )
        with pytest.raises(TypeError, match="owner must be a str or None"):
            await asyncio.to_thread(thread_future.result, 10)
        fine = await grinder.enqueue(abs, -2, owner="a")
        stats = grinder.stats()
        assert (stats["submitted"], stats["pending"], stats["state"]) == (1, 1, "running")
        await grinder.stop()
        assert fine.result() == 2


class BrokenMapping(Mapping[str, float]):
    """Owner weights whose every read raises."""

    def __getitem__(self, key: str) -> float:
        raise RuntimeError("lookup")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iteration")

    def __len__(self) -> int:
        return 1


class TestConstruction:
    @pytest.mark.parametrize(
        ("options", "error", "match"),
        [
            ({"scheduler": "lottery"}, ValueError, "scheduler must be one of 'fifo', 'fair'"),
            ({"scheduler": 1}, TypeError, "scheduler must be a str"),
            ({"dispatch": "soon"}, ValueError, "dispatch must be one of 'wait', 'eager'"),
            ({"dispatch": None}, TypeError, "dispatch must be a str"),
            ({"owner_weights": {"a": 2}}, ValueError, "owner_weights needs scheduler='fair'"),
            (
                {"priority_aging_seconds": 5.0},
                ValueError,
                "priority_aging_seconds needs scheduler='fair'",
            ),
            ({"scheduler": "fair", "owner_weights": [("a", 1)]}, TypeError, "owner_weights"),
            ({"scheduler": "fair", "owner_weights": {"a": 0}}, ValueError, r"owner_weights\['a'\]"),
            ({"scheduler": "fair", "owner_weights": {"a": -1}}, ValueError, "> 0"),
            ({"scheduler": "fair", "owner_weights": {"a": math.nan}}, ValueError, "finite"),
            ({"scheduler": "fair", "owner_weights": {"a": math.inf}}, ValueError, "finite"),
            ({"scheduler": "fair", "owner_weights": {"a": True}}, TypeError, "must be a number"),
            ({"scheduler": "fair", "owner_weights": {"a": "2"}}, TypeError, "must be a number"),
            ({"scheduler": "fair", "owner_weights": {3: 1.0}}, TypeError, "keys must be str"),
            (
                {"scheduler": "fair", "owner_weights": BrokenMapping()},
                ValueError,
                "owner_weights could not be read",
            ),
            ({"scheduler": "fair", "priority_aging_seconds": 0}, ValueError, "priority_aging"),
            ({"scheduler": "fair", "priority_aging_seconds": "soon"}, TypeError, "priority_aging"),
        ],
    )
    def test_bad_scheduling_options_name_the_field(
        self,
        one_worker: LeasedExecutorManager,
        options: dict[str, Any],
        error: type[Exception],
        match: str,
    ) -> None:
        with pytest.raises(error, match=match):
            WorkGrinder(executor_manager=one_worker, **options)

    def test_the_weights_are_copied_once(self, one_worker: LeasedExecutorManager) -> None:
        weights = {"a": 2.0}
        grinder = WorkGrinder(executor_manager=one_worker, scheduler="fair", owner_weights=weights)
        weights["a"] = -5.0  # too late to matter, and never read again
        assert grinder.stats()["scheduler"] == "fair"
