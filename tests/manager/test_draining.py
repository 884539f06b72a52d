"""Draining: a released pool with running work is lent again only once that work is done."""

from __future__ import annotations

import asyncio
import threading

from gristmill import LeasedExecutorManager
from gristmill.testing import FakeClock
from tests.helpers import stays, wait_until
from tests.manager.support import GATE_TIMEOUT, StartManager, block_on, pool_of_lease


async def release_busy(
    mgr: LeasedExecutorManager, gate: threading.Event, *, lease_seconds: float = 300.0
) -> tuple[str, asyncio.Future[str]]:
    """Acquire, start gated work, release; return the pool name and the work's future."""
    lease = await mgr.acquire(lease_seconds=lease_seconds)
    pool = await pool_of_lease(lease)
    started = threading.Event()
    work = asyncio.wrap_future(lease.executor.submit(block_on, gate, started))
    assert await asyncio.to_thread(started.wait, GATE_TIMEOUT)
    await lease.release()
    return pool, work


async def test_release_with_running_work_puts_pool_in_draining(
    start_manager: StartManager, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1)
    _, work = await release_busy(mgr, gate)
    stats = mgr.stats()
    # As in leasepool, a draining pool still counts as leased; "draining" tells them apart.
    assert (stats["draining"], stats["available"], stats["leased"]) == (1, 0, 1)
    assert (mgr.leased_count, mgr.available_count, mgr.total_count) == (1, 0, 1)
    assert (stats["total"], stats["leases"]) == (1, [])
    gate.set()
    await work
    await wait_until(lambda: mgr.stats()["draining"] == 0, what="drain finished")
    assert mgr.available_count == 1


async def test_draining_pool_goes_to_waiter_only_after_work_finishes(
    start_manager: StartManager, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1)
    pool, work = await release_busy(mgr, gate)
    waiting = asyncio.create_task(mgr.acquire(owner="next"))
    await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
    await stays(lambda: not waiting.done(), what="the waiter while the pool drains")
    gate.set()
    assert await work == pool
    lease = await waiting
    async with lease:
        assert await pool_of_lease(lease) == pool
    stats = mgr.stats()
    assert (stats["pools_created"], stats["pools_retired"]) == (1, 0)


async def test_draining_pool_is_not_lent_to_wait_false_callers(
    start_manager: StartManager, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=2)
    pool, work = await release_busy(mgr, gate)
    async with await mgr.acquire(wait=False) as other:
        assert await pool_of_lease(other) != pool
    gate.set()
    await work


async def test_draining_pool_past_hard_expiry_is_retired(
    start_manager: StartManager, clock: FakeClock, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1)
    pool, work = await release_busy(mgr, gate, lease_seconds=300.0)
    clock.advance(314.9)
    assert mgr.stats()["draining"] == 1
    clock.advance(0.1)
    stats = mgr.stats()
    assert (stats["draining"], stats["pools_retired"], stats["total"]) == (0, 1, 1)
    # The lease was returned, not taken away: only the pool is retired.
    assert (stats["leases_released"], stats["leases_revoked"]) == (1, 0)
    async with await mgr.acquire(wait=False) as fresh:
        assert await pool_of_lease(fresh) != pool
    gate.set()
    assert await work == pool
    await stays(lambda: mgr.stats()["pools_retired"] == 1, what="one retirement, not two")


async def test_drained_pool_cancels_its_expiry(
    start_manager: StartManager, clock: FakeClock, gate: threading.Event
) -> None:
    mgr = await start_manager(max_pools=1)
    pool, work = await release_busy(mgr, gate, lease_seconds=300.0)
    gate.set()
    await work
    await wait_until(lambda: mgr.available_count == 1, what="drain finished")
    clock.advance(1000.0)
    stats = mgr.stats()
    assert (stats["pools_retired"], stats["total"]) == (0, 1)
    async with await mgr.acquire() as again:
        assert await pool_of_lease(again) == pool
