"""Pure sizing policy: the desired pool count and which surplus idle pools to shut down."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill._sizing import desired_pools, surplus_idle


@pytest.mark.parametrize(
    ("units", "expected"),
    [(None, 2), (0, 2), (-5, 2), (1, 2), (20, 2), (21, 3), (30, 3), (31, 4), (50, 5), (10_000, 5)],
)
def test_desired_pools_is_ceil_of_units_clamped_to_bounds(units: int | None, expected: int) -> None:
    assert desired_pools(units=units, min_pools=2, max_pools=5, units_per_pool=10) == expected


@settings(max_examples=60, deadline=None)
@given(
    units=st.none() | st.integers(-100, 10_000),
    min_pools=st.integers(1, 20),
    extra=st.integers(0, 20),
    units_per_pool=st.integers(1, 50),
)
def test_desired_pools_stays_within_min_and_max(
    units: int | None, min_pools: int, extra: int, units_per_pool: int
) -> None:
    max_pools = min_pools + extra
    got = desired_pools(
        units=units, min_pools=min_pools, max_pools=max_pools, units_per_pool=units_per_pool
    )
    assert min_pools <= got <= max_pools
    if units is not None and units > 0:
        assert got >= min(max_pools, -(-units // units_per_pool))


def test_no_surplus_when_total_is_at_target() -> None:
    assert surplus_idle([0.0, 0.0], total=2, target=2, now=100.0, keepalive=5.0) == (0, None)


def test_surplus_waits_for_keepalive_and_reports_when_due() -> None:
    assert surplus_idle([10.0, 12.0], total=3, target=1, now=14.0, keepalive=5.0) == (0, 15.0)


def test_surplus_shuts_down_oldest_pools_whose_keepalive_ran_out() -> None:
    assert surplus_idle([10.0, 12.0, 13.0], total=3, target=1, now=17.0, keepalive=5.0) == (2, None)


def test_surplus_reports_next_due_after_shutting_some_down() -> None:
    assert surplus_idle([10.0, 12.0, 13.0], total=4, target=1, now=15.0, keepalive=5.0) == (
        1,
        17.0,
    )


def test_keepalive_boundary_is_inclusive() -> None:
    assert surplus_idle([10.0], total=2, target=1, now=15.0, keepalive=5.0) == (1, None)
    assert surplus_idle([10.0], total=2, target=1, now=14.999, keepalive=5.0) == (0, 15.0)


def test_leased_pools_count_toward_total_but_are_never_shut_down() -> None:
    # 1 idle pool, 3 leased, target 1: only the idle one can go.
    assert surplus_idle([0.0], total=4, target=1, now=100.0, keepalive=5.0) == (1, None)


def test_no_idle_pools_means_nothing_to_shut_down() -> None:
    assert surplus_idle([], total=4, target=1, now=100.0, keepalive=5.0) == (0, None)


def test_zero_keepalive_shuts_surplus_down_at_once() -> None:
    assert surplus_idle([7.0, 7.0], total=2, target=1, now=7.0, keepalive=0.0) == (1, None)


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0, 50), max_size=8),
    leased=st.integers(0, 5),
    target=st.integers(1, 10),
    now=st.floats(0, 500),
    keepalive=st.floats(0, 60),
)
def test_surplus_never_cuts_below_target_or_before_keepalive(
    gaps: list[float], leased: int, target: int, now: float, keepalive: float
) -> None:
    idle_since: list[float] = []
    moment = 0.0
    for gap in gaps:
        moment += gap
        idle_since.append(moment)
    total = len(idle_since) + leased
    count, next_due = surplus_idle(
        idle_since, total=total, target=target, now=now, keepalive=keepalive
    )
    assert 0 <= count <= len(idle_since)
    assert total - count >= min(total, target)
    assert all(since + keepalive <= now for since in idle_since[:count])
    if next_due is not None:
        assert next_due > now
        assert next_due == idle_since[count] + keepalive
