"""The default (real) clock drives the same timing rules: a short real wait, outcomes only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gristmill import LeasedExecutorManager, LeaseExpiredError
from tests.helpers import wait_until


@pytest.fixture
async def real_manager() -> AsyncIterator[LeasedExecutorManager]:
    """One pool on the real clock, with no grace so a short lease is revoked promptly."""
    mgr = LeasedExecutorManager(max_pools=1, workers_per_pool=1, lease_grace_seconds=0)
    await mgr.start()
    yield mgr
    await mgr.stop()
    assert mgr.total_count == 0


async def test_real_clock_revokes_a_short_lease(real_manager: LeasedExecutorManager) -> None:
    lease = await real_manager.acquire(lease_seconds=0.1)
    assert await lease.run(lambda: "live") == "live"
    await wait_until(lambda: real_manager.stats()["leases_revoked"] == 1, what="revocation")
    with pytest.raises(LeaseExpiredError):
        lease.executor.submit(int)
    async with await real_manager.acquire(wait=False) as fresh:
        assert await fresh.run(lambda: "fresh") == "fresh"


async def test_real_clock_times_out_a_waiting_acquire(
    real_manager: LeasedExecutorManager,
) -> None:
    async with await real_manager.acquire():
        with pytest.raises(TimeoutError, match="no executor became free"):
            await real_manager.acquire(timeout=0.1)
        assert real_manager.stats()["waiters"] == 0
