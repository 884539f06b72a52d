"""Broken executors: a pool whose executor breaks is retired, replaced and never lent again."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import BrokenExecutor

import pytest

from gristmill import LeaseExpiredError
from tests.helpers import wait_until
from tests.manager.support import StartManager, current_pool, pool_of_lease


def break_first_pool(prefix: str) -> None:
    """Thread initializer that fails only in the first pool, which breaks that executor."""
    if threading.current_thread().name.startswith(f"{prefix}-thread-1_"):
        raise RuntimeError("initializer failed on purpose")


@pytest.fixture(autouse=True)
def _quiet_initializer_failure(caplog: pytest.LogCaptureFixture) -> None:
    """The stdlib logs the failing initializer at CRITICAL; keep the test output readable."""
    caplog.set_level(logging.CRITICAL + 1, logger="concurrent.futures")


async def test_broken_executor_is_retired_and_replaced(start_manager: StartManager) -> None:
    mgr = await start_manager(
        max_pools=1, name_prefix="brk", initializer=break_first_pool, initargs=("brk",)
    )
    lease = await mgr.acquire()
    with pytest.raises(BrokenExecutor):
        await lease.run(int)
    await wait_until(lambda: mgr.stats()["pools_broken"] == 1, what="pool marked broken")
    stats = mgr.stats()
    assert (stats["pools_retired"], stats["pools_created"], stats["total"]) == (1, 2, 1)
    assert (stats["leased"], stats["available"], stats["leases"]) == (0, 1, [])
    # The broken pool's lease was taken from its holder: it counts as revoked.
    assert (stats["leases_granted"], stats["leases_revoked"]) == (1, 1)
    with pytest.raises(LeaseExpiredError):
        lease.executor.submit(int)
    async with await mgr.acquire(wait=False) as fresh:
        assert await pool_of_lease(fresh) == "brk-thread-2"


async def test_broken_pool_is_never_recycled(start_manager: StartManager) -> None:
    mgr = await start_manager(
        max_pools=2, name_prefix="brk", initializer=break_first_pool, initargs=("brk",)
    )
    lease = await mgr.acquire()
    with pytest.raises(BrokenExecutor):
        await lease.run(int)
    await wait_until(lambda: mgr.stats()["pools_broken"] == 1, what="pool marked broken")
    await lease.release()
    seen = set()
    for _ in range(3):
        first, second = await mgr.acquire(), await mgr.acquire()
        seen.update([await first.run(current_pool), await second.run(current_pool)])
        await first.release()
        await second.release()
    assert "brk-thread-1" not in seen
    assert mgr.stats()["pools_broken"] == 1


async def test_submit_to_broken_executor_raises_and_retires(
    start_manager: StartManager,
) -> None:
    mgr = await start_manager(
        max_pools=1, name_prefix="brk", initializer=break_first_pool, initargs=("brk",)
    )
    lease = await mgr.acquire()
    first = lease.executor.submit(int)
    with pytest.raises(BrokenExecutor):
        first.result(timeout=10)
    # Whether the retirement has landed yet or not, this lease can no longer submit.
    with pytest.raises((BrokenExecutor, LeaseExpiredError)):
        lease.executor.submit(int)
    await wait_until(lambda: mgr.stats()["pools_broken"] == 1, what="pool marked broken")
    assert mgr.stats()["pools_broken"] == 1


async def test_a_failure_from_a_broken_pool_is_seen_only_after_the_pool_is_retired(
    start_manager: StartManager,
) -> None:
    # leasepool regression test 6: the loop's thread blocks on result(), so the loop
    # cannot turn in between; the manager must already show the pool retired and replaced.
    mgr = await start_manager(
        max_pools=1, name_prefix="brk", initializer=break_first_pool, initargs=("brk",)
    )
    lease = await mgr.acquire()
    future = lease.executor.submit(int)
    with pytest.raises(BrokenExecutor):
        future.result(timeout=10)
    assert (mgr.leased_count, mgr.available_count, mgr.total_count) == (0, 1, 1)
    assert mgr.stats()["pools_broken"] == 1
    await lease.release()  # a no-op: the broken pool is not put back
    assert (mgr.leased_count, mgr.available_count) == (0, 1)
    async with await mgr.acquire(wait=False) as fresh:
        assert await pool_of_lease(fresh) == "brk-thread-2"


async def test_an_awaited_failure_from_a_broken_pool_resumes_after_the_retirement(
    start_manager: StartManager,
) -> None:
    mgr = await start_manager(
        max_pools=1, name_prefix="brk", initializer=break_first_pool, initargs=("brk",)
    )
    lease = await mgr.acquire()
    seen: list[tuple[int, int, int]] = []

    async def observe_on_failure() -> None:
        try:
            await lease.run(int)
        except BrokenExecutor:
            seen.append((mgr.stats()["pools_broken"], mgr.leased_count, mgr.available_count))

    await observe_on_failure()
    assert seen == [(1, 0, 1)]
