"""One real dask cluster (two single-threaded worker processes) for the whole directory.

Starting a cluster takes seconds, so it is shared. Tests that kill a worker
leave the cluster to its nannies, which start a replacement; the ``address``
fixture waits for both workers to be up again before the next test runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster

WORKERS = 2


@pytest.fixture(scope="package")
def cluster() -> Iterator[LocalCluster]:
    """A LocalCluster with two nanny-run worker processes of one thread each."""
    with LocalCluster(
        n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


@pytest.fixture(scope="package")
def dask_client(cluster: LocalCluster) -> Iterator[Client]:
    """The tests' own client, for looking at the cluster (never passed to gristmill)."""
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        yield client


@pytest.fixture
def address(cluster: LocalCluster, dask_client: Client) -> Iterator[str]:
    """The scheduler address, with both workers up before and after the test."""
    dask_client.wait_for_workers(WORKERS, timeout=30)
    yield cluster.scheduler_address
    dask_client.wait_for_workers(WORKERS, timeout=30)
