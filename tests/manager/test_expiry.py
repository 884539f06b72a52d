"""Lease expiry: revocation past lease_seconds + grace, pool retirement and replacement."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gristmill import LeasedExecutorManager, LeaseExpiredError
from gristmill.testing import FakeClock
from tests.helpers import wait_until
from tests.manager.support import GATE_TIMEOUT, StartManager, block_on, pool_of_lease


async def test_lease_is_usable_through_its_grace_period(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    lease = await manager.acquire(lease_seconds=300.0)
    try:
        clock.advance(300.0)
        assert await lease.run(lambda: "soft-expired but live") == "soft-expired but live"
        clock.advance(14.9)
        assert await lease.run(lambda: "still in grace") == "still in grace"
        assert manager.stats()["leases_revoked"] == 0
    finally:
        await lease.release()


async def test_lease_past_hard_expiry_is_revoked_and_pool_replaced(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=1)
    lease = await mgr.acquire(lease_seconds=300.0, owner="slow")
    old_pool = await pool_of_lease(lease)
    before = mgr.stats()
    clock.advance(315.0)
    stats = mgr.stats()
    assert stats["leases_revoked"] == before["leases_revoked"] + 1
    assert stats["pools_retired"] == before["pools_retired"] + 1
    assert stats["pools_created"] == before["pools_created"] + 1
    assert (stats["leased"], stats["available"], stats["total"], stats["leases"]) == (0, 1, 1, [])
    with pytest.raises(LeaseExpiredError):
        lease.executor.submit(int)
    async with await mgr.acquire() as fresh:
        assert await pool_of_lease(fresh) != old_pool


async def test_revoked_pool_is_never_lent_again(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=2)
    doomed = await mgr.acquire(lease_seconds=10.0)
    old_pool = await pool_of_lease(doomed)
    clock.advance(25.0)
    seen = set()
    for _ in range(4):
        first, second = await mgr.acquire(), await mgr.acquire()
        seen.update([await pool_of_lease(first), await pool_of_lease(second)])
        await first.release()
        await second.release()
    assert old_pool not in seen
    assert len(seen) == 2


async def test_expiry_uses_the_lease_seconds_given_to_acquire(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    short = await manager.acquire(lease_seconds=10.0)
    long = await manager.acquire(lease_seconds=300.0)
    try:
        clock.advance(25.0)
        with pytest.raises(LeaseExpiredError):
            short.executor.submit(int)
        assert await long.run(lambda: "unaffected") == "unaffected"
        assert manager.stats()["leases_revoked"] == 1
    finally:
        await long.release()


async def test_zero_grace_revokes_at_lease_seconds(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(lease_grace_seconds=0)
    lease = await mgr.acquire(lease_seconds=60.0)
    assert lease.hard_expires_at == lease.soft_expires_at
    clock.advance(59.9)
    assert await lease.run(lambda: 1) == 1
    clock.advance(0.1)
    assert mgr.stats()["leases_revoked"] == 1
    with pytest.raises(LeaseExpiredError):
        lease.executor.submit(int)


async def test_submit_at_hard_expiry_fails_before_the_revoke_timer_runs(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    outcome: list[BaseException | None] = []
    revoked_first: list[int] = []

    def probe() -> None:
        revoked_first.append(manager.stats()["leases_revoked"])
        try:
            lease.executor.submit(int)
        except LeaseExpiredError as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    # Scheduled before the lease exists, so it runs before the manager's timer
    # for the same instant: time has reached the hard expiry, the revoke has not.
    clock.call_at(clock.time() + 300.0 + 15.0, probe)
    lease = await manager.acquire(lease_seconds=300.0)
    clock.advance(315.0)
    assert revoked_first == [0]
    assert len(outcome) == 1
    assert isinstance(outcome[0], LeaseExpiredError)
    assert manager.stats()["leases_revoked"] == 1


async def test_expired_pool_replacement_goes_to_a_waiter(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=1)
    overdue = await mgr.acquire(lease_seconds=30.0)
    old_pool = await pool_of_lease(overdue)
    waiting = asyncio.create_task(mgr.acquire(owner="next"))
    await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
    clock.advance(45.0)
    lease = await waiting
    async with lease:
        assert lease.owner == "next"
        assert await pool_of_lease(lease) != old_pool
    assert mgr.stats()["total"] == 1


async def test_revoked_lease_release_is_a_no_op(
    manager: LeasedExecutorManager, clock: FakeClock
) -> None:
    lease = await manager.acquire(lease_seconds=10.0)
    clock.advance(25.0)
    await lease.release()
    await manager.release(lease.lease_id)
    stats = manager.stats()
    assert (stats["leases_released"], stats["leases_revoked"]) == (0, 1)


async def test_revoking_a_busy_pool_does_not_wait_for_its_work(
    start_manager: StartManager, clock: FakeClock, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1)
    lease = await mgr.acquire(lease_seconds=30.0)
    started = threading.Event()
    stuck = asyncio.wrap_future(lease.executor.submit(block_on, gate, started))
    assert await asyncio.to_thread(started.wait, GATE_TIMEOUT)
    clock.advance(45.0)
    assert not stuck.done()
    async with await mgr.acquire(wait=False) as fresh:
        assert await fresh.run(lambda: "served while old work runs") == "served while old work runs"
    gate.set()
    await stuck
    assert mgr.stats()["total"] == 1
