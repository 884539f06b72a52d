"""One real dask cluster (two single-threaded worker processes) for the whole directory.

Starting a cluster takes seconds, so it is shared. Tests that kill a worker
leave the cluster to its nannies, which start a replacement; the ``address``
fixture waits for both workers to be up again before the next test runs.
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterator

import pytest

# Importing distributed installs tblib's exception reducers into copyreg for the
# whole process, and those drop attributes set by C __init__s (SystemExit.code).
# Keep that side effect away from the rest of the suite, which pickles
# exceptions through gristmill's own worker code.
_PICKLE_REDUCERS = dict(copyreg.dispatch_table)
pytest.importorskip("distributed")
from distributed import Client, LocalCluster  # noqa: E402


def _restore_reducers() -> None:
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(_PICKLE_REDUCERS)


_restore_reducers()

WORKERS = 2


@pytest.fixture(scope="package")
def cluster() -> Iterator[LocalCluster]:
    """A LocalCluster with two nanny-run worker processes of one thread each."""
    with LocalCluster(
        n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local
    _restore_reducers()  # the in-process scheduler may have installed more


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
