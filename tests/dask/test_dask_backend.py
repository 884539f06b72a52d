"""The dask backend on its own: options, pool-to-worker mapping, results, kill and close."""

from __future__ import annotations

import pytest
from distributed import Client

from gristmill._backends.dask import DaskBackend
from tests.dask import jobs

TIMEOUT = 20


def opened(**options: object) -> DaskBackend:
    backend = DaskBackend()
    backend.open(options)
    return backend


def _add(x: int, *, y: int) -> int:
    return x + y


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"address": "tcp://127.0.0.1:1", "client": "x"}, TypeError, "client must be"),
        ({"address": 8786}, TypeError, "address must be"),
        ({"cluster_options": ["n_workers"]}, TypeError, "cluster_options must be"),
        ({"address": "tcp://a:1", "cluster_options": {}}, ValueError, "cannot be combined"),
    ],
)
def test_bad_options_are_rejected_before_connecting(
    options: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        opened(**options)


def test_client_and_address_together_are_rejected(address: str, dask_client: Client) -> None:
    with pytest.raises(ValueError, match="either client= or address="):
        opened(client=dask_client, address=address)


def test_pools_get_disjoint_workers_and_return_results(address: str) -> None:
    backend = opened(address=address)
    try:
        first = backend.create(workers=1, name="p1", options={})
        second = backend.create(workers=1, name="p2", options={})
        ran_on = {
            first.submit(jobs.worker_address).result(TIMEOUT),
            second.submit(jobs.worker_address).result(TIMEOUT),
        }
        assert len(ran_on) == 2
        assert first.submit(_add, 2, y=3).result(TIMEOUT) == 5
        first.shutdown()
        second.shutdown()
    finally:
        backend.close()


def test_a_call_keeps_its_exception_type(address: str) -> None:
    backend = opened(address=address)
    try:
        pool = backend.create(workers=1, name="p1", options={})
        with pytest.raises(KeyError, match="lost"):
            pool.submit(jobs.fail_with_key_error, "lost").result(TIMEOUT)
        pool.shutdown()
    finally:
        backend.close()


def test_a_pool_beyond_the_cluster_shares_workers_and_warns(
    address: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = opened(address=address)
    try:
        pools = [backend.create(workers=1, name=f"p{n}", options={}) for n in range(3)]
        assert "shares workers" in caplog.text
        assert [pool.submit(lambda: 7).result(TIMEOUT) for pool in pools] == [7, 7, 7]
        for pool in pools:
            pool.shutdown()
    finally:
        backend.close()


def test_a_user_client_is_used_and_left_open(dask_client: Client, address: str) -> None:
    backend = opened(client=dask_client)
    pool = backend.create(workers=2, name="p1", options={})
    assert pool.submit(lambda: "hi").result(TIMEOUT) == "hi"
    pool.shutdown()
    backend.close()
    backend.close()  # idempotent
    assert dask_client.status == "running"
    assert dask_client.submit(lambda: 1).result(TIMEOUT) == 1


def test_an_own_client_is_closed_but_not_the_cluster(address: str) -> None:
    backend = opened(address=address)
    client = backend.client
    assert client is not None
    backend.close()
    assert client.status == "closed"
    assert backend.client is None
    with Client(address, set_as_default=False) as other:
        assert other.submit(lambda: 2).result(TIMEOUT) == 2


def test_the_embedded_cluster_is_built_and_closed() -> None:
    backend = opened(
        cluster_options={"n_workers": 1, "processes": False, "dashboard_address": ":0"}
    )
    pool = backend.create(workers=1, name="p1", options={})
    scheduler = pool.submit(jobs.scheduler_address).result(TIMEOUT)
    pool.shutdown()
    backend.close()
    with pytest.raises(OSError, match=r"Timed out|connect"):
        Client(scheduler, timeout=0.5, set_as_default=False)


def test_work_after_shutdown_is_refused(address: str) -> None:
    backend = opened(address=address)
    try:
        pool = backend.create(workers=1, name="p1", options={})
        pool.shutdown()
        with pytest.raises(RuntimeError, match="shut down"):
            pool.submit(lambda: 1)
    finally:
        backend.close()
