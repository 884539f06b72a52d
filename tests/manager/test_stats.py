"""stats() and the count properties: leasepool's keys and meanings plus gristmill's counters."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import BrokenExecutor

import pytest

from gristmill import ExecutorBackend, LeasedExecutorManager, LeaseExpiredError, ManagerStats
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until
from tests.manager.support import GATE_TIMEOUT, StartManager, block_on

LEASEPOOL_KEYS = {
    "backend",
    "desired",
    "max_pools",
    "min_pools",
    "available",
    "leased",
    "total",
    "workers_per_pool",
    "leases",
}
COUNTERS = {
    "pools_created",
    "pools_retired",
    "pools_broken",
    "leases_granted",
    "leases_released",
    "leases_revoked",
}
LEASE_KEYS = {"lease_id", "owner", "seconds_until_soft_expiry", "seconds_until_hard_expiry"}


def test_stats_keys_are_a_superset_of_leasepool_keys(clock: FakeClock) -> None:
    stats = make_manager(clock).stats()
    assert set(stats) >= LEASEPOOL_KEYS | COUNTERS
    assert all(stats[key] == 0 for key in COUNTERS)  # type: ignore[literal-required]


async def test_stats_describe_configuration(start_manager: StartManager) -> None:
    mgr = await start_manager(max_pools=3, min_pools=2, workers_per_pool=5)
    stats = mgr.stats()
    assert stats["backend"] == "thread"
    assert (stats["max_pools"], stats["min_pools"], stats["workers_per_pool"]) == (3, 2, 5)
    assert (stats["desired"], stats["total"], stats["available"], stats["leased"]) == (2, 2, 2, 0)
    assert json.loads(json.dumps(stats)) == stats


async def test_backend_property_is_a_str_enum_equal_to_thread(
    manager: LeasedExecutorManager,
) -> None:
    assert manager.backend == "thread"
    assert isinstance(manager.backend, ExecutorBackend)
    assert isinstance(manager.backend, str)
    assert f"{manager.backend}" == "thread"


async def test_counts_track_available_leased_and_total(manager: LeasedExecutorManager) -> None:
    assert (manager.available_count, manager.leased_count, manager.total_count) == (1, 0, 1)
    first = await manager.acquire()
    assert (manager.available_count, manager.leased_count, manager.total_count) == (0, 1, 1)
    second = await manager.acquire()
    assert (manager.available_count, manager.leased_count, manager.total_count) == (0, 2, 2)
    await first.release()
    stats = manager.stats()
    assert (stats["available"], stats["leased"], stats["total"]) == (1, 1, 2)
    await second.release()
    assert (manager.available_count, manager.leased_count, manager.total_count) == (2, 0, 2)


async def test_lease_entries_report_time_left_on_fake_clock(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    lease = await manager.acquire(lease_seconds=300.0, owner="alice")
    try:
        clock.advance(100.0)
        (entry,) = manager.stats()["leases"]
        assert set(entry) == LEASE_KEYS
        assert (entry["lease_id"], entry["owner"]) == (lease.lease_id, "alice")
        assert entry["seconds_until_soft_expiry"] == pytest.approx(200.0)
        assert entry["seconds_until_hard_expiry"] == pytest.approx(215.0)
    finally:
        await lease.release()


async def test_time_left_is_never_negative_during_grace(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    lease = await manager.acquire(lease_seconds=300.0)
    try:
        clock.advance(305.0)
        (entry,) = manager.stats()["leases"]
        assert entry["seconds_until_soft_expiry"] == 0.0
        assert entry["seconds_until_hard_expiry"] == pytest.approx(10.0)
    finally:
        await lease.release()


async def test_counters_add_up_over_a_lease_lifecycle(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=2)
    released = await mgr.acquire()
    revoked = await mgr.acquire(lease_seconds=10.0)
    await released.release()
    active = await mgr.acquire()
    clock.advance(25.0)
    stats = mgr.stats()
    assert stats["leases_granted"] == 3
    assert (stats["leases_released"], stats["leases_revoked"], stats["leased"]) == (1, 1, 1)
    assert [entry["lease_id"] for entry in stats["leases"]] == [active.lease_id]
    assert stats["pools_created"] - stats["pools_retired"] == stats["total"]
    assert revoked.lease_id != active.lease_id
    await active.release()


def assert_books_balance(stats: ManagerStats) -> None:
    """The two invariants ManagerStats documents."""
    assert stats["pools_created"] - stats["pools_retired"] == stats["total"], stats
    assert stats["leases_granted"] == stats["leases_released"] + stats["leases_revoked"] + len(
        stats["leases"]
    ), stats
    assert stats["available"] + stats["leased"] == stats["total"], stats


def break_pool_one(prefix: str) -> None:
    """Thread initializer that fails in pool 1 only, which breaks that executor."""
    if threading.current_thread().name.startswith(f"{prefix}-thread-1_"):
        raise RuntimeError("initializer failed on purpose")


async def test_counters_balance_through_release_expiry_breakage_and_shrink(
    start_manager: StartManager, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL + 1, logger="concurrent.futures")  # the failing initializer
    units = [3]
    mgr = await start_manager(
        max_pools=3,
        units_per_pool=1,
        size_provider=lambda: units[0],
        idle_keepalive_seconds=5.0,
        name_prefix="inv",
        initializer=break_pool_one,
        initargs=("inv",),
    )
    assert_books_balance(mgr.stats())
    # Idle pools are lent newest first: pools 3, 2 and 1.
    released, expiring, breaking = [await mgr.acquire(lease_seconds=s) for s in (300, 10, 300)]
    assert_books_balance(mgr.stats())
    await released.release()
    assert_books_balance(mgr.stats())
    clock.advance(25.0)  # 10 s lease + 15 s grace: revoked, its pool retired and replaced
    assert_books_balance(mgr.stats())
    with pytest.raises(LeaseExpiredError):
        expiring.executor.submit(int)
    with pytest.raises(BrokenExecutor):
        await breaking.run(int)
    await wait_until(lambda: mgr.stats()["pools_broken"] == 1, what="pool 1 retired as broken")
    assert_books_balance(mgr.stats())
    units[0] = 1
    mgr.notify_scale_changed()
    clock.advance(5.0)  # keep-alive over: shrink to one pool
    stats = mgr.stats()
    assert_books_balance(stats)
    assert (stats["total"], stats["leased"], stats["pools_broken"]) == (1, 0, 1)
    assert (stats["pools_created"], stats["pools_retired"]) == (5, 4)
    assert (stats["leases_released"], stats["leases_revoked"]) == (1, 2)
    await mgr.stop()
    assert_books_balance(mgr.stats())


async def test_stats_report_waiters_and_draining(
    start_manager: StartManager, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1)
    lease = await mgr.acquire()
    started = threading.Event()
    work = asyncio.wrap_future(lease.executor.submit(block_on, gate, started))
    assert await asyncio.to_thread(started.wait, GATE_TIMEOUT)
    await lease.release()
    waiting = asyncio.create_task(mgr.acquire())
    await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
    stats = mgr.stats()
    assert (stats["draining"], stats["waiters"], stats["total"]) == (1, 1, 1)
    assert (stats["available"], stats["leased"], stats["leases"]) == (0, 1, [])
    assert stats["available"] + stats["leased"] == stats["total"]
    gate.set()
    await work
    await (await waiting).release()


async def test_stats_work_from_another_thread(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire(owner="bob"):
        stats = await asyncio.to_thread(manager.stats)
        assert stats["leased"] == 1
        assert stats["leases"][0]["owner"] == "bob"


async def test_stopped_manager_reports_everything_returned(clock: FakeClock) -> None:
    mgr = make_manager(clock, max_pools=2)
    await mgr.start()
    await mgr.acquire()
    await mgr.acquire()
    await mgr.stop()
    stats = mgr.stats()
    assert (stats["state"], stats["total"], stats["leased"], stats["leases"]) == (
        "stopped",
        0,
        0,
        [],
    )
    assert stats["pools_created"] == stats["pools_retired"] == 2
    assert stats["leases_granted"] == stats["leases_revoked"] == 2
