"""acquire(): lease terms, wait=False, timeouts on the fake clock, argument checks, the cap."""

from __future__ import annotations

import asyncio
import math

import pytest

from gristmill import ExecutorLease, LeasedExecutorManager, LeaseUnavailableError
from gristmill.testing import FakeClock
from tests.helpers import stays, wait_until
from tests.manager.support import StartManager


async def test_acquire_applies_lease_seconds_and_owner(manager: LeasedExecutorManager) -> None:
    lease = await manager.acquire(lease_seconds=42.5, owner="report-job")
    try:
        assert (lease.lease_seconds, lease.owner) == (42.5, "report-job")
    finally:
        await lease.release()


async def test_acquire_defaults_to_default_lease_seconds(start_manager: StartManager) -> None:
    mgr = await start_manager(default_lease_seconds=90.0)
    async with await mgr.acquire() as lease:
        assert lease.lease_seconds == 90.0
        assert lease.owner is None


async def test_acquire_wait_false_raises_when_nothing_is_free(start_manager: StartManager) -> None:
    mgr = await start_manager(max_pools=1)
    async with await mgr.acquire():
        with pytest.raises(LeaseUnavailableError, match="max_pools=1"):
            await mgr.acquire(wait=False)
        assert mgr.stats()["waiters"] == 0


async def test_acquire_wait_false_succeeds_when_a_pool_is_free(
    manager: LeasedExecutorManager,
) -> None:
    async with await manager.acquire(wait=False) as lease:
        assert await lease.run(lambda: "ok") == "ok"


async def test_acquire_wait_false_creates_a_pool_while_under_max(
    manager: LeasedExecutorManager,
) -> None:
    async with await manager.acquire(), await manager.acquire(wait=False):
        assert manager.total_count == 2


async def test_acquire_timeout_raises_timeout_error_on_fake_clock(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=1)
    async with await mgr.acquire():
        waiting = asyncio.create_task(mgr.acquire(timeout=30.0))
        await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
        clock.advance(29.9)
        await stays(lambda: not waiting.done(), what="the waiter before its timeout")
        clock.advance(0.1)
        with pytest.raises(TimeoutError, match="30"):
            await waiting
        assert mgr.stats()["waiters"] == 0


async def test_acquire_timeout_does_not_fire_once_a_lease_is_granted(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=1)
    first = await mgr.acquire()
    waiting = asyncio.create_task(mgr.acquire(timeout=30.0))
    await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
    await first.release()
    lease = await waiting
    clock.advance(60.0)
    assert await lease.run(lambda: 1) == 1
    await lease.release()


async def test_zero_timeout_fails_at_once_when_nothing_is_free(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=1)
    async with await mgr.acquire():
        waiting = asyncio.create_task(mgr.acquire(timeout=0))
        await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
        clock.advance(0)
        with pytest.raises(TimeoutError):
            await waiting


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, True])
async def test_bad_lease_seconds_raise_value_error(
    manager: LeasedExecutorManager, value: float
) -> None:
    with pytest.raises(ValueError, match="lease_seconds"):
        await manager.acquire(lease_seconds=value)
    assert manager.leased_count == 0


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf, False])
async def test_bad_timeout_raises_value_error(manager: LeasedExecutorManager, value: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await manager.acquire(timeout=value)
    assert manager.leased_count == 0


@pytest.mark.parametrize("value", ["ten", [10], b"10"])
async def test_lease_seconds_of_wrong_type_raise_an_error_both_type_and_value(
    manager: LeasedExecutorManager, value: object
) -> None:
    for caught in (TypeError, ValueError):  # gristmill's and leasepool's except clauses
        with pytest.raises(caught, match="lease_seconds must be a finite number > 0"):
            await manager.acquire(lease_seconds=value)  # type: ignore[arg-type]
    assert manager.leased_count == 0


async def test_lease_seconds_given_as_a_numeric_string_are_read_as_seconds(
    manager: LeasedExecutorManager,
) -> None:
    lease = await manager.acquire(lease_seconds="10")  # type: ignore[arg-type]
    assert lease.lease_seconds == 10.0
    await lease.release()


async def test_many_concurrent_acquirers_never_exceed_max_pools(
    start_manager: StartManager,
) -> None:
    mgr = await start_manager(max_pools=3, workers_per_pool=1)
    held = 0
    peak = 0
    totals: list[int] = []

    async def borrow(index: int) -> int:
        nonlocal held, peak
        lease: ExecutorLease = await mgr.acquire(owner=f"worker-{index}")
        async with lease:
            held += 1
            peak = max(peak, held)
            stats = mgr.stats()
            totals.extend((stats["total"], mgr.total_count))
            result = await lease.run(pow, index, 2)
            held -= 1
            return result

    results = await asyncio.gather(*(borrow(i) for i in range(40)))
    assert results == [i * i for i in range(40)]
    assert peak == 3
    assert max(totals) <= 3
    stats = mgr.stats()
    assert stats["pools_created"] == 3
    assert (stats["leases_granted"], stats["leases_released"]) == (40, 40)
