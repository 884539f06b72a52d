"""Error messages say what went wrong and what to do, in words leasepool's users match on."""

from __future__ import annotations

import asyncio

import pytest

from gristmill import LeasedExecutorManager, LeaseExpiredError, LeaseUnavailableError
from gristmill.testing import FakeClock
from tests.helpers import wait_until
from tests.manager.support import StartManager


async def test_no_free_pool_says_no_executor_available(start_manager: StartManager) -> None:
    mgr = await start_manager(max_pools=1)
    async with await mgr.acquire():
        with pytest.raises(LeaseUnavailableError, match=r"No executor available.*wait=True"):
            await mgr.acquire(wait=False)


async def test_a_timed_out_acquire_says_timed_out_waiting(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=1)
    async with await mgr.acquire():
        waiting = asyncio.create_task(mgr.acquire(timeout=2.0))
        await wait_until(lambda: mgr.stats()["waiters"] == 1, what="a waiter")
        clock.advance(2.0)
        with pytest.raises(TimeoutError, match=r"Timed out waiting .* within 2.0s"):
            await waiting


async def test_shutting_down_a_leased_executor_says_do_not_shut_down(
    manager: LeasedExecutorManager,
) -> None:
    async with await manager.acquire() as lease:
        with pytest.raises(RuntimeError, match=r"Do not shut down .* lease\.release\(\)"):
            lease.executor.shutdown()


async def test_submitting_past_the_hard_expiry_says_expired(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(max_pools=1, lease_grace_seconds=0.0)
    lease = await mgr.acquire(lease_seconds=10.0)
    executor = lease.executor
    clock.advance(10.0)
    with pytest.raises(LeaseExpiredError, match=r"expired: it passed its hard expiry"):
        executor.submit(int)


async def test_submitting_after_release_says_no_longer_active(
    manager: LeasedExecutorManager,
) -> None:
    lease = await manager.acquire()
    await lease.release()
    with pytest.raises(LeaseExpiredError, match="no longer active"):
        lease.executor.submit(int)
