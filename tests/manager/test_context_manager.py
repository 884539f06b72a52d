"""``async with`` on the manager, and its ``running`` flag."""

from __future__ import annotations

import pytest

from gristmill import LeasedExecutorManager
from gristmill.testing import FakeClock
from tests.helpers import assert_manager_empty, make_manager


async def test_running_is_true_only_between_start_and_stop(clock: FakeClock) -> None:
    manager = make_manager(clock)
    assert manager.running is False
    await manager.start()
    assert manager.running is True
    await manager.stop()
    assert manager.running is False


async def test_async_with_starts_the_manager_and_stops_it_on_exit(clock: FakeClock) -> None:
    manager = make_manager(clock)
    async with manager as entered:
        assert entered is manager
        assert manager.running
        async with await manager.acquire() as lease:
            assert await lease.run(max, 2, 5) == 5
    assert manager.stats()["state"] == "stopped"
    assert_manager_empty(manager)


async def test_async_with_stops_the_manager_when_the_block_raises(clock: FakeClock) -> None:
    manager = make_manager(clock)

    async def acquire_then_fail() -> None:
        async with manager:
            await manager.acquire(owner="left behind")
            raise LookupError("the block failed")

    with pytest.raises(LookupError):
        await acquire_then_fail()
    assert manager.stats()["state"] == "stopped"
    assert manager.stats()["leases_revoked"] == 1
    assert_manager_empty(manager)


def test_running_is_a_read_only_property() -> None:
    manager = LeasedExecutorManager(max_pools=1)
    with pytest.raises(AttributeError):
        manager.running = True  # type: ignore[misc]
