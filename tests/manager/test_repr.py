"""``repr()`` of the manager and of a lease: state and counts, like asyncio's ``Queue``."""

from __future__ import annotations

import asyncio
import threading

from gristmill import LeasedExecutorManager
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until
from tests.manager.support import block_on


async def test_manager_repr_shows_state_backend_and_pool_counts(clock: FakeClock) -> None:
    manager = make_manager(clock)
    assert repr(manager) == (
        "<LeasedExecutorManager created backend=thread total=0 available=0 leased=0 "
        "draining=0 max_pools=2>"
    )
    await manager.start()
    lease = await manager.acquire()
    assert repr(manager) == (
        "<LeasedExecutorManager running backend=thread total=1 available=0 leased=1 "
        "draining=0 max_pools=2>"
    )
    await lease.release()
    await manager.stop()
    assert repr(manager).startswith("<LeasedExecutorManager stopped backend=thread total=0 ")


async def test_manager_repr_shows_waiters_only_when_there_are_some(
    manager: LeasedExecutorManager,
) -> None:
    held = [await manager.acquire(), await manager.acquire()]
    waiting = asyncio.create_task(manager.acquire())
    try:
        await wait_until(lambda: manager.stats()["waiters"] == 1, what="a waiter")
        assert repr(manager).endswith(" max_pools=2 waiters=1>")
    finally:
        for lease in held:
            await lease.release()
    await (await waiting).release()
    assert "waiters" not in repr(manager)


async def test_lease_repr_shows_live_overdue_and_ended_with_work_in_flight(
    manager: LeasedExecutorManager, clock: FakeClock, gate: threading.Event
) -> None:
    lease = await manager.acquire(owner="bob", lease_seconds=30.0)
    pool = repr(lease).rsplit("pool=", 1)[1]  # the pool's name and the closing ">"
    assert (
        repr(lease) == f"<ExecutorLease {lease.lease_id} live owner='bob' in_flight=0 pool={pool}"
    )
    started = threading.Event()
    future = lease.executor.submit(block_on, gate, started)
    assert await asyncio.to_thread(started.wait, 10)
    assert " live owner='bob' in_flight=1 " in repr(lease)
    clock.advance(30.0)  # past the due date, inside the grace period
    assert " overdue owner='bob' in_flight=1 " in repr(lease)
    gate.set()
    await asyncio.wrap_future(future)
    await lease.release()
    assert repr(lease) == f"<ExecutorLease {lease.lease_id} ended owner='bob' pool={pool}"
