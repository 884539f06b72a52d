"""backend="dask" through LeasedExecutorManager: options, slices of the cluster, expiry, stop."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from distributed import Client, Event

from gristmill import LeasedExecutorManager
from gristmill.testing import FakeClock
from tests.dask import jobs
from tests.helpers import assert_manager_empty, make_manager, wait_until

WAIT = 20.0


def dask_manager(clock: FakeClock, **options: object) -> LeasedExecutorManager:
    """Two pools of one dask worker each, unless ``options`` say otherwise."""
    settings: dict[str, object] = {"backend": "dask", "max_pools": 2, "workers_per_pool": 1}
    settings.update(options)
    return make_manager(clock, **settings)


async def test_each_lease_runs_on_its_own_dask_worker(clock: FakeClock, address: str) -> None:
    manager = dask_manager(clock, address=address, min_pools=2)
    await manager.start()
    try:
        first, second = await manager.acquire(), await manager.acquire()
        ran_on = await asyncio.gather(
            first.run(jobs.worker_address), second.run(jobs.worker_address)
        )
        assert ran_on[0] != ran_on[1]
        assert await first.run(jobs.worker_address) == ran_on[0]
        with pytest.raises(KeyError, match="gone"):
            await second.run(jobs.fail_with_key_error, "gone")
        assert manager.stats()["backend"] == "dask"
    finally:
        await manager.stop()
    assert_manager_empty(manager)


async def test_a_user_client_serves_the_manager_and_stays_open(
    clock: FakeClock, dask_client: Client, address: str
) -> None:
    manager = dask_manager(clock, client=dask_client)
    await manager.start()
    try:
        async with await manager.acquire() as lease:
            assert await lease.run(pow, 2, 10) == 1024
    finally:
        await manager.stop()
    assert dask_client.status == "running"


async def test_client_and_address_together_fail_start(
    clock: FakeClock, dask_client: Client, address: str
) -> None:
    manager = dask_manager(clock, client=dask_client, address=address)
    with pytest.raises(ValueError, match="not both"):
        await manager.start()
    assert manager.stats()["total"] == 0


def test_an_option_dask_does_not_take_is_refused(clock: FakeClock) -> None:
    with pytest.raises(TypeError, match="does not accept executor option"):
        dask_manager(clock, initializer=print)


async def test_an_expired_lease_kills_its_dask_worker(
    clock: FakeClock, address: str, dask_client: Client
) -> None:
    manager = dask_manager(
        clock, address=address, default_lease_seconds=300.0, lease_grace_seconds=15.0
    )
    started, release = f"started-{uuid.uuid4()}", f"release-{uuid.uuid4()}"
    await manager.start()
    try:
        lease = await manager.acquire()
        worker = await lease.run(jobs.worker_address)
        running = lease.executor.submit(jobs.block, started, release)
        assert await asyncio.to_thread(Event(started, client=dask_client).wait, WAIT)

        clock.advance(315.0)

        await wait_until(running.done, what="the revoked job's future to settle")
        assert running.cancelled()
        await wait_until(
            lambda: worker not in dask_client.scheduler_info()["workers"],
            timeout=WAIT,
            what=f"worker {worker} to be killed",
        )
        stats = manager.stats()
        assert (stats["leases_revoked"], stats["pools_broken"]) == (1, 0), stats
    finally:
        Event(release, client=dask_client).set()
        await manager.stop()


async def test_stop_closes_the_embedded_cluster(clock: FakeClock) -> None:
    manager = dask_manager(clock, cluster_options={"n_workers": 1, "processes": False}, max_pools=1)
    await manager.start()
    try:
        scheduler = await (await manager.acquire()).run(jobs.scheduler_address)
    finally:
        await manager.stop()
    with pytest.raises(OSError, match=r"Timed out|connect"):
        await asyncio.to_thread(Client, scheduler, timeout=0.5, set_as_default=False)
