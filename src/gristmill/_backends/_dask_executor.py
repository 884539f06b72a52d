"""One dask pool: a ``concurrent.futures`` executor pinned to a set of dask workers.

::

    submit(fn, *args) ──► client.submit(partial(fn, *args), workers=<the pool's set>,
       │                                 allow_other_workers=False)
       ▼
    concurrent Future ◄── gathered on the client's loop: the result or the call's error
       ▲
       └── worker of the set left while work was in flight, or the client lost the
           scheduler: every pending future fails with BrokenDaskPool, later submits too

A pool is *broken* once work it had in flight can no longer be trusted to
finish: one of its workers left the cluster (killed, crashed, restarted by its
nanny, retired), or a task was cancelled behind its back (the client lost its
scheduler connection). The manager's pool gate sees the
:class:`BrokenDaskPool` (a :class:`~concurrent.futures.BrokenExecutor`) and
retires the pool. A worker that leaves while the pool is idle does not break
it: the pool picks other workers at its next submit.

Workers are (re)chosen at a submit with nothing in flight when the set is
shared with another pool or lost a worker, so a pool that had to share moves
to free workers as soon as there are some.

Threading: ``submit``, ``shutdown`` and ``cancel`` may come from any thread;
outcomes are gathered, and departed workers reported, on the dask client's
event-loop thread. A gather can wait for good (the worker holding the result
died); it then waits there without holding up anything, and the pool breaking
settles its future. The lock guards only the executor's own state; no dask
call that waits on the network runs under it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import BrokenExecutor, Future, InvalidStateError
from concurrent.futures import Executor as _Executor
from concurrent.futures import wait as wait_all
from functools import partial
from typing import Any

import distributed
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from ._dask_roster import Roster

__all__ = ["BrokenDaskPool", "DaskPoolExecutor"]

logger = logging.getLogger("gristmill.dask")


class BrokenDaskPool(BrokenExecutor):
    """A dask pool lost a worker or its scheduler while it had work in flight.

    Like :class:`concurrent.futures.process.BrokenProcessPool`: every future
    still pending on the pool fails with it, and the pool takes no more work.
    """


class DaskPoolExecutor(_Executor):
    """Runs calls on the dask workers assigned to one gristmill pool."""

    def __init__(self, client: distributed.Client, roster: Roster, *, workers: int, name: str):
        self.name = name
        self._client = client
        self._roster = roster
        self._count = workers
        self._lock = threading.Lock()
        self._pending: dict[Future[Any], distributed.Future[Any]] = {}
        self._broken: str | None = None
        self._closed = False
        self._workers, self._shared = roster.assign(self, workers)

    @property
    def workers(self) -> tuple[str, ...]:
        """Addresses of the dask workers this pool runs on now."""
        return self._workers

    @property
    def shared(self) -> bool:
        """Whether another pool uses some of these workers, or the pool has fewer than asked."""
        return self._shared

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on one of the pool's workers.

        Raises:
            RuntimeError: the executor was shut down.
            BrokenDaskPool: the pool broke, the client is not connected to its
                scheduler, or the cluster has no worker for it.
        """
        call = partial(fn, *args, **kwargs)
        with self._lock:
            self._check_usable_locked()
            remote = self._client.submit(
                call, workers=list(self._workers), allow_other_workers=False, pure=False
            )
            future: Future[Any] = Future()
            self._pending[future] = remote
        future.add_done_callback(self._on_local_done)
        self._on_loop(self._follow, future, remote)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more work; with ``cancel_futures`` cancel what is pending.

        With ``wait`` this blocks until the pending futures are done. The
        pool's workers stay up: they belong to the cluster.
        """
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        self._roster.drop(self)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            wait_all(pending)

    def worker_left(self, address: str) -> None:
        """Roster callback: break the pool if it had work in flight on that worker's set."""
        with self._lock:
            busy = bool(self._pending)
        if busy:
            self._break(
                f"dask worker {address} of pool {self.name} left the cluster while the pool "
                "had work in flight (killed, crashed, restarted or retired)"
            )

    def _check_usable_locked(self) -> None:
        """Raise if no new work may start; (re)choose the workers when the pool is idle."""
        if self._closed:
            raise RuntimeError(f"dask pool {self.name} is shut down; it takes no new work")
        if self._broken is None and self._client.status != "running":
            self._broken = (
                f"the dask client is not connected to its scheduler (status "
                f"{self._client.status!r}); the cluster went away or is unreachable"
            )
        if self._broken is None and not self._pending:
            if self._shared or not self._roster.is_live(self._workers) or not self._workers:
                self._workers, self._shared = self._roster.assign(self, self._count)
            if not self._workers:
                self._broken = "the dask cluster has no workers; start workers for it"
        if self._broken is not None:
            raise BrokenDaskPool(f"dask pool {self.name} is broken: {self._broken}")

    def _on_local_done(self, future: Future[Any]) -> None:
        """A cancelled local future cancels its dask task."""
        if future.cancelled():
            with self._lock:
                remote = self._pending.pop(future, None)
            if remote is not None:
                self._cancel_remote([remote])

    async def _follow(self, future: Future[Any], remote: distributed.Future[Any]) -> None:
        """Client loop: wait for the task and copy its outcome onto the local future.

        Runs on dask's event loop, never on a thread of its own: fetching a
        result whose worker died waits until the task is cancelled, and that
        wait must not hold up anything else.
        """
        try:
            result = await self._client.gather(remote, asynchronous=True)
        except FutureCancelledError:
            self._lost(
                future,
                "a task was cancelled outside gristmill (the client lost its scheduler "
                f"connection? status {self._client.status!r})",
            )
        except KilledWorker as error:
            self._lost(future, f"dask gave up on a task whose workers kept dying ({error})")
        except Exception as error:
            if remote.status == "error":
                self._settle(future, error=error)
            else:
                self._lost(future, f"fetching a result from dask failed ({error!r})")
        else:
            self._settle(future, result=result)

    def _settle(
        self, future: Future[Any], *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """Resolve ``future`` with the task's outcome, unless it was settled already."""
        with self._lock:
            if self._pending.pop(future, None) is None:
                return  # cancelled, or failed when the pool broke
        _resolve(future, result=result, error=error)

    def _lost(self, future: Future[Any], reason: str) -> None:
        """The task's outcome is lost: break the pool, unless ``future`` was settled already."""
        with self._lock:
            if self._pending.pop(future, None) is None:
                return
        self._break(reason, [future])

    def _break(self, reason: str, extra: Iterable[Future[Any]] = ()) -> None:
        """Mark the pool broken and fail every pending future (and ``extra``) with it."""
        with self._lock:
            if self._broken is None:
                self._broken = reason
            pending, self._pending = self._pending, {}
        logger.debug("dask pool broken name=%s reason=%s", self.name, reason)
        error = BrokenDaskPool(f"dask pool {self.name} is broken: {reason}")
        for future in [*extra, *pending]:
            _resolve(future, error=error)
        self._cancel_remote(pending.values())

    def _cancel_remote(self, remotes: Iterable[distributed.Future[Any]]) -> None:
        """Cancel dask tasks without waiting (safe on the client's own loop thread)."""
        remotes = list(remotes)
        if remotes and self._client.status == "running":
            self._on_loop(self._client.cancel, remotes, asynchronous=True)

    def _on_loop(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn`` (a coroutine function too) on the client's event loop; any thread."""
        loop = self._client.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the client's loop already closed
                loop.add_callback(partial(fn, *args, **kwargs))


def _resolve(
    future: Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    """Complete ``future`` unless it was cancelled meanwhile."""
    with contextlib.suppress(InvalidStateError):
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
