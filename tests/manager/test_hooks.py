"""Lease events reach the manager's hooks: granted, released, expired, revoked."""

from __future__ import annotations

import logging
from concurrent.futures import BrokenExecutor

import pytest

from gristmill import Hooks, LeasedExecutorManager, LeaseEvent
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until


class Recorder(Hooks):
    def __init__(self) -> None:
        self.events: list[LeaseEvent] = []

    def on_lease(self, event: LeaseEvent) -> None:
        self.events.append(event)


def _break() -> None:
    raise BrokenExecutor("simulated breakage")


async def test_grant_and_release_are_reported_with_the_lease_and_its_pool(
    clock: FakeClock,
) -> None:
    hooks = Recorder()
    manager = make_manager(clock, hooks=hooks)
    await manager.start()
    try:
        lease = await manager.acquire(owner="alice")
        await lease.release()
        await lease.release()  # idempotent: reported once
    finally:
        await manager.stop()
    assert [event.kind for event in hooks.events] == ["granted", "released"]
    assert {event.lease_id for event in hooks.events} == {lease.lease_id}
    assert {event.owner for event in hooks.events} == {"alice"}
    assert hooks.events[0].pool.startswith("gristmill-thread-")


async def test_hard_expiry_is_reported_as_expired_and_counted(clock: FakeClock) -> None:
    hooks = Recorder()
    manager = make_manager(clock, hooks=hooks)
    await manager.start()
    try:
        lease = await manager.acquire(lease_seconds=300.0)
        clock.advance(300.0 + 15.0)
        stats = manager.stats()
        assert (stats["leases_expired"], stats["leases_revoked"]) == (1, 1)
    finally:
        await manager.stop()
    assert [(event.kind, event.lease_id) for event in hooks.events] == [
        ("granted", lease.lease_id),
        ("expired", lease.lease_id),
    ]


async def test_broken_pool_retire_and_stop_are_reported_as_revoked(clock: FakeClock) -> None:
    hooks = Recorder()
    manager = make_manager(clock, hooks=hooks)
    await manager.start()
    try:
        broken = await manager.acquire()
        with pytest.raises(BrokenExecutor):
            await broken.run(_break)
        await wait_until(lambda: manager.stats()["pools_broken"] == 1, what="pool retired")
        retired = await manager.acquire()
        await retired.retire()
        await retired.retire()  # a no-op once the lease has ended
        held = await manager.acquire()
    finally:
        await manager.stop()
    kinds = {event.lease_id: event.kind for event in hooks.events if event.kind != "granted"}
    assert kinds == {
        broken.lease_id: "revoked",
        retired.lease_id: "revoked",
        held.lease_id: "revoked",
    }
    assert manager.stats()["leases_expired"] == 0


async def test_a_raising_hook_is_logged_and_leasing_goes_on(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Faulty(Hooks):
        def on_lease(self, event: LeaseEvent) -> None:
            raise RuntimeError("observer bug")

    manager = make_manager(clock, hooks=Faulty())
    await manager.start()
    try:
        with caplog.at_level(logging.ERROR, logger="gristmill.manager"):
            lease = await manager.acquire()
            assert await lease.run(sum, [1, 2]) == 3
            await lease.release()
    finally:
        await manager.stop()
    failures = [
        record
        for record in caplog.records
        if record.exc_info and isinstance(record.exc_info[1], RuntimeError)
    ]
    assert len(failures) == 2  # granted and released
    assert all("failed; ignoring" in record.getMessage() for record in failures)


def test_hooks_must_be_a_hooks_instance() -> None:
    with pytest.raises(TypeError, match=r"hooks must be a gristmill\.Hooks"):
        LeasedExecutorManager(max_pools=1, hooks=object())  # type: ignore[arg-type]
