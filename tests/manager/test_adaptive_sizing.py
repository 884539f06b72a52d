"""Adaptive sizing: size_provider target, scale notifications, periodic checks, shrinking."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from gristmill import LeasedExecutorManager
from gristmill.testing import FakeClock
from tests.helpers import make_manager, stays, wait_until
from tests.manager.support import GATE_TIMEOUT, StartManager


class Signal:
    """A settable size signal that counts how often it was read."""

    def __init__(self, units: int = 0) -> None:
        self.units = units
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.units


async def sized(
    start_manager: StartManager, signal: Signal, **overrides: object
) -> LeasedExecutorManager:
    options: dict[str, object] = {
        "max_pools": 4,
        "units_per_pool": 10,
        "size_provider": signal,
        "check_interval": 120.0,
        "idle_keepalive_seconds": 5.0,
    }
    options.update(overrides)
    return await start_manager(**options)


@pytest.mark.parametrize(
    ("units", "min_pools", "expected"),
    [(0, 1, 1), (0, 2, 2), (1, 1, 1), (10, 1, 1), (11, 1, 2), (25, 1, 3), (40, 1, 4), (999, 1, 4)],
)
def test_desired_executor_count_follows_size_signal(
    clock: FakeClock, units: int, min_pools: int, expected: int
) -> None:
    mgr = make_manager(
        clock, max_pools=4, min_pools=min_pools, units_per_pool=10, size_provider=Signal(units)
    )
    assert mgr.desired_executor_count() == expected


def test_desired_executor_count_without_provider_is_min_pools(clock: FakeClock) -> None:
    assert make_manager(clock, max_pools=4, min_pools=3).desired_executor_count() == 3


async def test_start_creates_the_target_pool_count(start_manager: StartManager) -> None:
    mgr = await sized(start_manager, Signal(25))
    stats = mgr.stats()
    assert (stats["desired"], stats["total"], stats["available"]) == (3, 3, 3)


async def test_start_without_provider_creates_min_pools(start_manager: StartManager) -> None:
    mgr = await start_manager(max_pools=4, min_pools=2)
    assert (mgr.total_count, mgr.stats()["desired"]) == (2, 2)


async def test_notify_scale_changed_applies_at_once_on_loop_thread(
    start_manager: StartManager,
) -> None:
    signal = Signal(0)
    mgr = await sized(start_manager, signal)
    assert mgr.total_count == 1
    signal.units = 31
    mgr.notify_scale_changed()
    assert (mgr.stats()["desired"], mgr.total_count) == (4, 4)


async def test_notify_scale_changed_from_another_thread(start_manager: StartManager) -> None:
    signal = Signal(0)
    mgr = await sized(start_manager, signal)
    signal.units = 20
    await asyncio.to_thread(mgr.notify_scale_changed)
    await wait_until(lambda: mgr.total_count == 2, what="growth to 2 pools")
    assert mgr.stats()["desired"] == 2


async def test_notify_scale_changed_is_ignored_when_not_running(clock: FakeClock) -> None:
    signal = Signal(30)
    mgr = make_manager(clock, max_pools=4, size_provider=signal)
    mgr.notify_scale_changed()
    assert (signal.reads, mgr.total_count) == (0, 0)


async def test_periodic_check_runs_every_check_interval(
    start_manager: StartManager, clock: FakeClock
) -> None:
    signal = Signal(0)
    mgr = await sized(start_manager, signal)
    signal.units = 20
    clock.advance(119.9)
    assert mgr.total_count == 1
    clock.advance(0.1)
    assert mgr.total_count == 2
    signal.units = 40
    clock.advance(119.9)
    assert mgr.total_count == 2
    clock.advance(0.1)
    assert mgr.total_count == 4


async def test_notify_restarts_the_check_interval(
    start_manager: StartManager, clock: FakeClock
) -> None:
    signal = Signal(0)
    mgr = await sized(start_manager, signal)
    clock.advance(100.0)
    mgr.notify_scale_changed()
    reads = signal.reads
    clock.advance(119.9)
    assert signal.reads == reads
    clock.advance(0.1)
    assert signal.reads == reads + 1


async def test_surplus_idle_pools_shut_down_after_keepalive_not_before(
    start_manager: StartManager, clock: FakeClock
) -> None:
    signal = Signal(40)
    mgr = await sized(start_manager, signal)
    assert mgr.total_count == 4
    signal.units = 0
    mgr.notify_scale_changed()
    assert (mgr.stats()["desired"], mgr.total_count) == (1, 4)
    clock.advance(4.9)
    assert mgr.total_count == 4
    clock.advance(0.1)
    stats = mgr.stats()
    assert (stats["total"], stats["available"], stats["pools_retired"]) == (1, 1, 3)


async def test_zero_keepalive_shrinks_at_once(start_manager: StartManager) -> None:
    signal = Signal(40)
    mgr = await sized(start_manager, signal, idle_keepalive_seconds=0)
    signal.units = 0
    mgr.notify_scale_changed()
    assert mgr.total_count == 1


async def test_growth_again_before_keepalive_keeps_warm_pools(
    start_manager: StartManager, clock: FakeClock
) -> None:
    signal = Signal(40)
    mgr = await sized(start_manager, signal)
    signal.units = 0
    mgr.notify_scale_changed()
    clock.advance(3.0)
    signal.units = 40
    mgr.notify_scale_changed()
    clock.advance(10.0)
    stats = mgr.stats()
    assert (stats["total"], stats["pools_created"], stats["pools_retired"]) == (4, 4, 0)


async def test_shrink_never_revokes_active_leases(
    start_manager: StartManager, clock: FakeClock
) -> None:
    signal = Signal(30)
    mgr = await sized(start_manager, signal)
    leases = [await mgr.acquire(lease_seconds=300.0) for _ in range(3)]
    signal.units = 0
    mgr.notify_scale_changed()
    clock.advance(60.0)
    stats = mgr.stats()
    assert (stats["desired"], stats["leased"], stats["total"]) == (1, 3, 3)
    assert stats["leases_revoked"] == 0
    for lease in leases:
        assert await lease.run(lambda: "alive") == "alive"
        await lease.release()
    assert mgr.total_count == 3
    clock.advance(5.0)
    stats = mgr.stats()
    assert (stats["total"], stats["available"], stats["pools_retired"]) == (1, 1, 2)


async def test_pools_grow_on_demand_above_target_and_age_out(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    first, second = await manager.acquire(), await manager.acquire()
    assert (manager.stats()["desired"], manager.total_count) == (1, 2)
    await first.release()
    await second.release()
    clock.advance(5.0)
    assert manager.total_count == 1


async def test_failing_size_provider_is_logged_and_checker_keeps_running(
    start_manager: StartManager, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    readings: list[int | Exception] = [20, RuntimeError("metrics down"), 40]

    def provider() -> int:
        value = readings.pop(0) if len(readings) > 1 else readings[0]
        if isinstance(value, Exception):
            raise value
        return value

    mgr = await start_manager(max_pools=4, size_provider=provider, check_interval=120.0)
    assert mgr.total_count == 2
    with caplog.at_level(logging.WARNING, logger="gristmill.manager"):
        clock.advance(120.0)
    failures = [r for r in caplog.records if "size_provider failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert "metrics down" in str(failures[0].exc_info[1])
    assert (mgr.stats()["desired"], mgr.total_count) == (2, 2)
    clock.advance(120.0)
    assert (mgr.stats()["desired"], mgr.total_count) == (4, 4)


async def test_size_provider_failing_at_start_falls_back_to_min_pools(
    start_manager: StartManager, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> int:
        raise ValueError("no signal yet")

    with caplog.at_level(logging.WARNING, logger="gristmill.manager"):
        mgr = await start_manager(max_pools=4, min_pools=2, size_provider=broken)
    assert (mgr.stats()["desired"], mgr.total_count) == (2, 2)
    assert any("size_provider failed" in r.getMessage() for r in caplog.records)


async def test_scale_notice_from_thread_landing_during_stop_creates_no_pools(
    clock: FakeClock,
) -> None:
    signal = Signal(30)
    mgr = make_manager(clock, max_pools=4, size_provider=signal)
    await mgr.start()
    notifier = threading.Thread(target=mgr.notify_scale_changed)
    notifier.start()
    notifier.join(GATE_TIMEOUT)
    # The re-check is now queued on the loop and runs while stop() is joining pools.
    await mgr.stop()
    await stays(lambda: mgr.stats()["total"] == 0, what="no pool after stop")
    stats = mgr.stats()
    assert (stats["state"], stats["total"]) == ("stopped", 0)
    assert stats["pools_created"] == stats["pools_retired"]
    assert clock.pending_timers == 0
