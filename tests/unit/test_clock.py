"""FakeClock semantics: due timers run in order inside advance(), cancelled ones never run."""

from __future__ import annotations

import math
from functools import partial

import pytest

from gristmill.testing import Clock, FakeClock


def test_fake_clock_satisfies_the_clock_protocol() -> None:
    assert isinstance(FakeClock(), Clock)


def test_time_starts_at_start_and_moves_only_on_advance() -> None:
    clock = FakeClock(start=100.0)
    assert clock.time() == 100.0
    assert clock.time() == 100.0
    clock.advance(2.5)
    assert clock.time() == 102.5


def test_advance_runs_due_timers_in_deadline_order() -> None:
    clock = FakeClock()
    ran: list[str] = []
    clock.call_at(3.0, lambda: ran.append("c"))
    clock.call_at(1.0, lambda: ran.append("a"))
    clock.call_at(2.0, lambda: ran.append("b"))
    clock.advance(10.0)
    assert ran == ["a", "b", "c"]


def test_timers_with_equal_deadlines_run_in_scheduling_order() -> None:
    clock = FakeClock()
    ran: list[int] = []
    for index in range(5):
        clock.call_at(1.0, partial(ran.append, index))
    clock.advance(1.0)
    assert ran == [0, 1, 2, 3, 4]


def test_each_timer_sees_its_own_deadline_as_now() -> None:
    clock = FakeClock()
    seen: list[float] = []
    clock.call_at(4.0, lambda: seen.append(clock.time()))
    clock.call_at(7.0, lambda: seen.append(clock.time()))
    clock.advance(10.0)
    assert seen == [4.0, 7.0]
    assert clock.time() == 10.0


def test_timers_not_yet_due_do_not_run() -> None:
    clock = FakeClock()
    ran: list[str] = []
    clock.call_at(5.0, lambda: ran.append("late"))
    clock.advance(4.999)
    assert ran == []
    assert clock.pending_timers == 1
    clock.advance(0.001)
    assert ran == ["late"]
    assert clock.pending_timers == 0


def test_timer_exactly_at_the_target_runs() -> None:
    clock = FakeClock()
    ran: list[str] = []
    clock.call_at(5.0, lambda: ran.append("due"))
    clock.advance(5.0)
    assert ran == ["due"]


def test_cancelled_timers_do_not_run() -> None:
    clock = FakeClock()
    ran: list[str] = []
    keep = clock.call_at(1.0, lambda: ran.append("kept"))
    drop = clock.call_at(2.0, lambda: ran.append("dropped"))
    drop.cancel()
    drop.cancel()
    assert clock.pending_timers == 1
    clock.advance(5.0)
    keep.cancel()  # cancelling after it ran is harmless
    assert ran == ["kept"]


def test_timer_cancelled_by_an_earlier_timer_does_not_run() -> None:
    clock = FakeClock()
    ran: list[str] = []
    later = clock.call_at(2.0, lambda: ran.append("later"))
    clock.call_at(1.0, later.cancel)
    clock.advance(5.0)
    assert ran == []


def test_timer_scheduled_during_advance_runs_if_due_within_it() -> None:
    clock = FakeClock()
    ran: list[float] = []

    def tick() -> None:
        ran.append(clock.time())
        if clock.time() < 3.0:
            clock.call_at(clock.time() + 1.0, tick)

    clock.call_at(1.0, tick)
    clock.advance(10.0)
    assert ran == [1.0, 2.0, 3.0]


def test_periodic_timer_only_runs_up_to_the_target() -> None:
    clock = FakeClock()
    ran: list[float] = []

    def tick() -> None:
        ran.append(clock.time())
        clock.call_at(clock.time() + 1.0, tick)

    clock.call_at(1.0, tick)
    clock.advance(3.5)
    assert ran == [1.0, 2.0, 3.0]
    assert clock.pending_timers == 1


def test_past_deadline_runs_on_next_advance_without_moving_time_back() -> None:
    clock = FakeClock(start=10.0)
    seen: list[float] = []
    clock.call_at(5.0, lambda: seen.append(clock.time()))
    clock.advance(0)
    assert seen == [10.0]
    assert clock.time() == 10.0


@pytest.mark.parametrize("seconds", [-1.0, -1e-9, -math.inf])
def test_negative_advance_is_rejected_and_time_unchanged(seconds: float) -> None:
    clock = FakeClock(start=3.0)
    ran: list[str] = []
    clock.call_at(3.0, lambda: ran.append("due"))
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(seconds)
    assert clock.time() == 3.0
    assert ran == []


@pytest.mark.parametrize("seconds", [math.nan, math.inf])
def test_non_finite_advance_is_rejected(seconds: float) -> None:
    clock = FakeClock()
    clock.call_at(1.0, lambda: None)
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(seconds)
    assert clock.time() == 0.0
    assert clock.pending_timers == 1


def test_advance_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match="seconds"):
        FakeClock().advance("one")  # type: ignore[arg-type]
