"""A backend written against the public protocol drives a manager end to end.

Leases and the grinder run work on its pools; an overdue lease and a broken
executor retire their pool through ``kill_workers`` and ``shutdown``; ``open``
and ``close`` bracket every pool of a run, also when ``start()`` fails.
"""

from __future__ import annotations

import logging
from concurrent.futures import BrokenExecutor

import pytest

from gristmill import LeaseExpiredError, WorkGrinder, register_backend
from gristmill.testing import FakeClock
from tests.backends.support import RecordingBackend
from tests.helpers import assert_manager_empty, make_manager, wait_until

POOL_1 = "gristmill-recording-1"
POOL_2 = "gristmill-recording-2"


def _before(events: list[str], first: str, then: str) -> bool:
    return events.index(first) < events.index(then)


async def test_leases_and_the_grinder_run_work_on_a_registered_backend(clock: FakeClock) -> None:
    made: list[RecordingBackend] = []

    def factory() -> RecordingBackend:
        made.append(RecordingBackend())
        return made[-1]

    register_backend("recording", factory)
    manager = make_manager(clock, backend="recording", max_pools=1, tag="blue")
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1)
    await manager.start()
    await grinder.start()
    try:
        async with await manager.acquire() as lease:
            assert await lease.run(divmod, 17, 5) == (3, 2)
        assert await grinder.submit(sum, [1, 2, 3]) == 6
    finally:
        await grinder.stop()
        await manager.stop()
    assert_manager_empty(manager)
    [backend] = made
    assert backend.options == [{"tag": "blue"}]
    assert backend.events == [
        "open",
        "opened",
        f"create:{POOL_1}",
        f"warm_up:{POOL_1}",
        f"shutdown:{POOL_1}",
        "close",
    ]


async def test_open_and_close_bracket_every_run_of_a_restarted_manager(clock: FakeClock) -> None:
    backend = RecordingBackend()
    manager = make_manager(clock, backend=backend, max_pools=1)
    for _ in range(2):
        await manager.start()
        await manager.start()  # idempotent: no second open
        await manager.stop()
        await manager.stop()  # idempotent: no second close
    runs = [event for event in backend.events if event in ("open", "close")]
    assert runs == ["open", "close", "open", "close"]


async def test_an_overdue_lease_is_revoked_by_killing_its_pool(clock: FakeClock) -> None:
    backend = RecordingBackend()
    manager = make_manager(clock, backend=backend, max_pools=1, lease_grace_seconds=15.0)
    await manager.start()
    try:
        lease = await manager.acquire(lease_seconds=300.0)
        pool = backend.executors[0]
        stuck = lease.executor.submit(pool.killed.wait, 10)  # runs until the pool is killed
        clock.advance(300.0 + 15.0)
        assert stuck.result(timeout=10) is True
        assert _before(backend.events, f"kill:{POOL_1}", f"shutdown:{POOL_1}")
        with pytest.raises(LeaseExpiredError):
            lease.executor.submit(sum, [1])
        stats = manager.stats()
        assert (stats["leases_revoked"], stats["pools_retired"], stats["total"]) == (1, 1, 1)
        async with await manager.acquire() as fresh:
            assert await fresh.run(max, 1, 2) == 2
        assert not backend.executors[1].killed.is_set()
    finally:
        await manager.stop()
    assert f"kill:{POOL_2}" not in backend.events  # an idle pool is shut down, not killed


async def test_a_broken_executor_is_killed_retired_and_replaced(clock: FakeClock) -> None:
    backend = RecordingBackend()
    manager = make_manager(clock, backend=backend, max_pools=1)
    await manager.start()
    try:
        lease = await manager.acquire()
        backend.executors[0].break_()
        with pytest.raises(BrokenExecutor, match="broken by the test"):
            await lease.run(sum, [1])
        await wait_until(lambda: manager.stats()["pools_broken"] == 1, what="retirement")
        assert backend.executors[0].killed.is_set()
        assert _before(backend.events, f"kill:{POOL_1}", f"shutdown:{POOL_1}")
        async with await manager.acquire() as fresh:
            assert await fresh.run(sum, [2, 3]) == 5
        assert len(backend.executors) == 2
    finally:
        await manager.stop()


async def test_close_runs_when_start_fails_after_open(clock: FakeClock) -> None:
    backend = RecordingBackend(create_error=RuntimeError("no pools today"))
    manager = make_manager(clock, backend=backend)
    with pytest.raises(RuntimeError, match="no pools today"):
        await manager.start()
    assert backend.events == ["open", "opened", "close"]
    assert manager.stats()["state"] == "stopped"


async def test_a_failing_open_fails_start_before_any_pool_and_still_gets_close(
    clock: FakeClock,
) -> None:
    backend = RecordingBackend(open_error=OSError("cluster unreachable"))
    manager = make_manager(clock, backend=backend)
    with pytest.raises(OSError, match="cluster unreachable"):
        await manager.start()
    assert backend.events == ["open", "close"]
    stats = manager.stats()
    assert (stats["state"], stats["pools_created"]) == ("stopped", 0)


async def test_an_error_from_close_is_logged_and_stop_completes(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RecordingBackend(close_error=OSError("already gone"))
    manager = make_manager(clock, backend=backend)
    await manager.start()
    with caplog.at_level(logging.WARNING, logger="gristmill.manager"):
        await manager.stop()
    assert manager.stats()["state"] == "stopped"
    [record] = [r for r in caplog.records if "closing backend=recording failed" in r.message]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], OSError)
