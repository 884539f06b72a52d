"""No user code runs under a lock: callbacks that call back into the manager do not deadlock."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from gristmill import ExecutorLease, LeasedExecutorManager, ManagerStats
from gristmill.testing import FakeClock
from tests.manager.support import GATE_TIMEOUT, StartManager


async def test_size_provider_may_read_stats_and_counts(
    start_manager: StartManager, clock: FakeClock
) -> None:
    seen: list[tuple[int, int, int]] = []
    box: list[LeasedExecutorManager] = []

    def provider() -> int:
        if box:
            mgr = box[0]
            stats = mgr.stats()
            seen.append((stats["total"], mgr.available_count, mgr.leased_count))
        return 30

    mgr = await start_manager(max_pools=4, size_provider=provider)
    box.append(mgr)
    mgr.notify_scale_changed()
    await asyncio.to_thread(mgr.notify_scale_changed)
    clock.advance(120.0)
    assert await asyncio.to_thread(mgr.desired_executor_count) == 3
    assert len(seen) >= 3
    assert all(total == 3 for total, _, _ in seen)


async def test_worker_may_submit_to_its_own_lease(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire() as lease:

        def outer() -> str:
            inner = lease.executor.submit(lambda: "inner")
            return "outer+" + inner.result(timeout=GATE_TIMEOUT)

        assert await lease.run(outer) == "outer+inner"


async def test_done_callback_may_submit_to_the_lease(manager: LeasedExecutorManager) -> None:
    followups: list[Future[str]] = []
    scheduled = threading.Event()

    async with await manager.acquire() as lease:

        def chain(_: Future[str]) -> None:
            followups.append(lease.executor.submit(lambda: "follow-up"))
            scheduled.set()

        first = lease.executor.submit(lambda: "first")
        first.add_done_callback(chain)
        assert await asyncio.wrap_future(first) == "first"
        assert await asyncio.to_thread(scheduled.wait, GATE_TIMEOUT)
        assert await asyncio.wrap_future(followups[0]) == "follow-up"


async def test_worker_may_read_stats(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire(owner="reader") as lease:

        def read() -> ManagerStats:
            return manager.stats()

        stats = await lease.run(read)
        assert stats["leased"] == 1
        assert stats["leases"][0]["owner"] == "reader"


async def test_worker_submitting_after_release_gets_lease_expired(
    manager: LeasedExecutorManager,
) -> None:
    released = threading.Event()
    outcome: list[str] = []
    lease: ExecutorLease = await manager.acquire()

    def late_submit() -> None:
        if not released.wait(GATE_TIMEOUT):
            raise TimeoutError("release never happened")
        try:
            lease.executor.submit(int)
        except Exception as exc:
            outcome.append(type(exc).__name__)

    work = asyncio.wrap_future(lease.executor.submit(late_submit))
    await lease.release()
    released.set()
    await work
    assert outcome == ["LeaseExpiredError"]
