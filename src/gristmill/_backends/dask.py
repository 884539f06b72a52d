"""Dask pools: leases that are slices of a Dask cluster (``backend="dask"``).

Needs the ``dask`` extra (``pip install gristmill[dask]``, which brings
``distributed``). This module imports ``distributed``, so it is imported only
when a manager asks for ``backend="dask"``.

Where the cluster comes from (the manager's executor keywords):

* ``client=``: a connected, synchronous :class:`distributed.Client` of yours.
  The backend uses it and never closes it.
* ``address=``: a scheduler address (``"tcp://host:8786"``). The backend
  connects its own client and closes it on ``stop()``.
* neither: an in-process :class:`distributed.LocalCluster` built from
  ``cluster_options=`` (its keywords; ``threads_per_worker`` defaults to 1
  and ``dashboard_address`` to a free port). The backend owns it and closes
  it on ``stop()``.

Passing both ``client`` and ``address``, or ``cluster_options`` with either,
is a ``ValueError`` raised by ``start()``.

How pools map onto workers::

    cluster:   w1   w2   w3   w4   w5   w6        (dask workers)
    pool 1:   [w1   w2]                           workers_per_pool=2
    pool 2:             [w3   w4]
    pool 3:                       [w5   w6]

``workers_per_pool`` is the number of *dask workers* in each pool; each pool
submits only to its own workers (``workers=..., allow_other_workers=False``),
so a lease really is a slice of the cluster. Run single-threaded workers for
CPU-bound Python: a grinder sends one chunk per worker of the pool. When the
cluster has fewer free workers than a new pool needs, the pool *shares* the
least-used workers (a warning is logged) instead of failing, and moves to free
workers at its first submit with nothing in flight once there are some.

Failure semantics:

* A worker of a pool leaves the cluster while the pool has work in flight:
  every pending future of that pool fails with :class:`BrokenDaskPool` (a
  :class:`~concurrent.futures.BrokenExecutor`), results not yet fetched from
  the dead worker included; the manager retires the pool and creates a fresh
  one; the grinder's items of that pool fail with that error (never hang).
  Other pools are not affected. A worker that leaves while its pool is idle
  only makes the pool choose new workers.
* The scheduler goes away: the client cancels its tasks, which breaks the
  pools the same way, and every later submit raises :class:`BrokenDaskPool`.
* Revoking a lease (hard expiry) or stopping with work in flight cancels the
  pool's futures and kills the processes of the pool's workers
  (``can_kill_workers``), which really stops the work, as for process pools;
  their nannies start fresh workers under new addresses. Workers without a
  nanny are not killed (that would shrink the cluster for good): their
  abandoned task finishes on its own.

Chunks are pickled with cloudpickle, so grinder work may be lambdas and
closures. Workers must be able to import gristmill to run grinder chunks.
The guide is ``docs/dask.md``.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import cloudpickle
import distributed

from .._clock import monotonic
from ._dask_executor import BrokenDaskPool, DaskPoolExecutor
from ._dask_roster import Roster

__all__ = ["BrokenDaskPool", "DaskBackend"]

logger = logging.getLogger("gristmill.dask")

WARM_UP_WAIT = 10.0
"""Seconds ``warm_up`` waits for a pool's workers to answer."""

CLOSE_TIMEOUT = 10.0
"""Seconds ``close()`` allows the client and the embedded cluster to shut down."""

_EMBEDDED_DEFAULTS: Mapping[str, Any] = {"threads_per_worker": 1, "dashboard_address": ":0"}
"""LocalCluster keywords the embedded cluster starts from: one thread per worker
process, and a dashboard on a free port rather than a fixed one that may be taken."""

_EVENTS = "all"
"""The scheduler's event topic that reports workers joining and leaving."""


class DaskBackend:
    """Each pool is a set of workers of one Dask cluster; see the module docstring.

    One instance serves one manager: ``open()`` connects (or builds the
    embedded cluster) and ``close()`` lets go of what ``open()`` created.
    """

    name = "dask"
    payloads_cross_process = True
    can_kill_workers = True
    supports_run_timeout = False
    accepted_options = frozenset({"address", "client", "cluster_options"})

    def __init__(self) -> None:
        self._client: distributed.Client | None = None
        self._cluster: distributed.LocalCluster | None = None
        self._owns_client = False
        self._roster = Roster()
        self._killer: ThreadPoolExecutor | None = None

    @property
    def client(self) -> distributed.Client | None:
        """The client pools submit through; None before ``open()`` and after ``close()``."""
        return self._client

    def dumps(self, obj: Any) -> bytes:
        """Pickle with cloudpickle, so lambdas and closures reach the workers."""
        blob: bytes = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return blob

    def open(self, options: Mapping[str, Any]) -> None:
        """Connect to the cluster (building the embedded one if asked) and watch its workers.

        Blocking; the manager runs it in a worker thread from ``start()``.

        Raises:
            ValueError: ``client`` and ``address`` both given, or
                ``cluster_options`` given with either; or the client is closed.
            TypeError: an option has the wrong type, or the client is asynchronous.
            OSError: the scheduler at ``address`` cannot be reached.
        """
        client, address, cluster_options = _check_options(options)
        try:
            if client is not None:
                self._client = client
            elif address is not None:
                self._client, self._owns_client = (
                    distributed.Client(address, set_as_default=False),
                    True,
                )
            else:
                settings = {**_EMBEDDED_DEFAULTS, **cluster_options}
                self._cluster = distributed.LocalCluster(**settings)
                self._client = distributed.Client(self._cluster, set_as_default=False)
                self._owns_client = True
            self._watch(self._client)
        except BaseException:
            self.close()
            raise
        self._killer = ThreadPoolExecutor(1, thread_name_prefix="gristmill-dask-kill")

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build a pool on ``workers`` dask workers (shared ones if the cluster is short).

        Raises:
            RuntimeError: the backend is not open.
        """
        if self._client is None:
            raise RuntimeError("the dask backend is not open; start the manager first")
        executor = DaskPoolExecutor(self._client, self._roster, workers=workers, name=name)
        if executor.shared:
            logger.warning(
                "dask pool %s shares workers: the cluster has %d workers up, pools need %d "
                "each; add workers or lower max_pools/workers_per_pool",
                name,
                len(self._roster.live_workers()),
                workers,
            )
        return executor

    def kill_workers(self, executor: Executor) -> None:
        """Kill the processes of the pool's workers, without waiting; their nannies restart them.

        Their running tasks stop at once, as a process pool's do; dask brings
        the workers back under new addresses. Workers without a nanny are
        left running (their abandoned task finishes on its own).
        """
        killer, client = self._killer, self._client
        if not isinstance(executor, DaskPoolExecutor) or killer is None or client is None:
            return
        live = self._roster.live_workers()
        doomed = [address for address in executor.workers if address in live]
        if doomed:
            killer.submit(_kill, client, doomed)

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Wait until each of the pool's workers has imported gristmill and answered.

        Blocking; best effort (up to :data:`WARM_UP_WAIT` seconds).
        """
        client = self._client
        if not isinstance(executor, DaskPoolExecutor) or client is None:
            return
        pings = [
            client.submit(_ready, workers=[address], allow_other_workers=False, pure=False)
            for address in executor.workers
        ]
        deadline = monotonic() + WARM_UP_WAIT
        for ping in pings:
            ping.result(timeout=max(0.0, deadline - monotonic()))

    def close(self) -> None:
        """Stop watching the cluster; close the client and cluster if the backend made them.

        Never raises; idempotent. A user's client stays open.
        """
        killer, self._killer = self._killer, None
        if killer is not None:
            killer.shutdown(wait=True)
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        owns_client, self._owns_client = self._owns_client, False
        if client is not None and client.status == "running":
            # Also for our own client: the scheduler would report its own departure to it.
            _quietly(client.unsubscribe_topic, _EVENTS)
        if client is not None and owns_client:
            _quietly(client.close, timeout=CLOSE_TIMEOUT)
        if cluster is not None:
            _quietly(cluster.close, timeout=CLOSE_TIMEOUT)

    def _watch(self, client: distributed.Client) -> None:
        """Follow workers joining and leaving, then take the current list."""
        client.subscribe_topic(_EVENTS, self._on_event)
        info = client.scheduler_info(n_workers=-1)
        self._roster.reset(info.get("workers", {}))

    def _on_event(self, event: tuple[float, Any]) -> None:
        """Client loop thread: keep the roster in step with the cluster."""
        message = event[1]
        if not isinstance(message, dict):
            return
        action, address = message.get("action"), message.get("worker")
        if not isinstance(address, str):
            return
        if action == "add-worker":
            self._roster.joined(address)
        elif action == "remove-worker":
            self._roster.left(address)


def _check_options(
    options: Mapping[str, Any],
) -> tuple[distributed.Client | None, str | None, Mapping[str, Any]]:
    """Return ``(client, address, cluster_options)`` after checking them."""
    client = options.get("client")
    address = options.get("address")
    cluster_options = options.get("cluster_options")
    if client is not None and not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    if address is not None and not isinstance(address, str):
        raise TypeError(f"address must be a scheduler address str, got {type(address).__name__}")
    if cluster_options is not None and not isinstance(cluster_options, Mapping):
        raise TypeError(
            f"cluster_options must be a mapping of LocalCluster keywords, "
            f"got {type(cluster_options).__name__}"
        )
    if client is not None and address is not None:
        raise ValueError("pass either client= or address= for the dask backend, not both")
    if cluster_options is not None and (client is not None or address is not None):
        raise ValueError(
            "cluster_options configures the embedded LocalCluster; it cannot be combined "
            "with client= or address="
        )
    if client is not None and client.asynchronous:
        raise TypeError("client must be a synchronous distributed.Client (asynchronous=False)")
    if client is not None and client.status != "running":
        raise ValueError(f"client is not connected (status {client.status!r}); pass a running one")
    return client, address, cluster_options or {}


def _kill(client: distributed.Client, addresses: list[str]) -> None:
    """Killer thread: end the processes of the nanny-run workers among ``addresses``.

    Never raises. Each nanny starts a fresh worker (under a new address), as
    it does after a crash; a worker without a nanny is left alone, since
    killing it would shrink the cluster for good.
    """
    try:
        if client.status != "running":
            return
        info = client.scheduler_info(n_workers=-1).get("workers", {})
        nannied = [address for address in addresses if info.get(address, {}).get("nanny")]
        if nannied:
            client.run(_exit_process, workers=nannied, wait=False)
        if len(nannied) < len(addresses):
            logger.debug("dask workers without a nanny not killed workers=%s", addresses)
    except Exception as exc:  # the cluster is going away
        logger.debug("could not kill dask workers=%s error=%r", addresses, exc)


async def _exit_process() -> None:
    """Runs on a worker's event loop: end its process at once, as ``Process.kill`` would.

    A coroutine, because only those can be started on workers without waiting.
    """
    os._exit(1)


def _ready() -> None:
    """The no-op each worker runs during warm-up (importing gristmill on its way)."""


def _quietly(close: Any, *args: Any, **kwargs: Any) -> None:
    """Run a clean-up step of ``close()``; log instead of raising."""
    try:
        close(*args, **kwargs)
    except Exception as exc:
        logger.debug("dask clean-up step failed step=%r error=%r", close, exc)
