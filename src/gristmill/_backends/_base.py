"""The contract every executor backend fulfils, built-in or brought by a user.

One backend instance serves one manager, for the manager's whole life::

    manager.start()  ── open(options) ─────────── worker thread, before any pool
         │
         ├─ create(...)  ×N ── one executor per pool ── owning loop
         ├─ warm_up(...)      ── pools made by start() ─ worker thread
         ├─ dumps(chunk)      ── grinder chunks ────── any thread
         ├─ kill_workers(...) ── revoked/broken pool ── owning loop, then shutdown()
         │
    manager.stop()   ── close() ───────────────── worker thread, after every pool
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any, Protocol, runtime_checkable

__all__ = ["Backend", "check_options"]


@runtime_checkable
class Backend(Protocol):
    """How one manager builds its pools, and what their payloads and workers allow.

    Pass a registered name as ``LeasedExecutorManager(backend=...)`` (see
    :func:`gristmill.register_backend`) and the manager calls the registered
    factory for a fresh instance; or pass an instance, which the manager then
    uses as is. Either way an instance belongs to one manager, so it may keep
    per-manager state (a cluster, a connection) between :meth:`open` and
    :meth:`close`.

    The executors :meth:`create` returns must behave like
    :class:`concurrent.futures.Executor`: ``submit`` returns a
    :class:`concurrent.futures.Future`, and ``shutdown(wait=..., cancel_futures=...)``
    takes both keywords. An executor that breaks says so with
    :class:`concurrent.futures.BrokenExecutor` (or a subclass), raised by
    ``submit`` or set on a future: the manager then retires the pool, kills its
    workers and builds a replacement.

    Attributes:
        name: The backend's label in pool names, logs and ``stats()["backend"]``;
            normally the name it is registered under.
        payloads_cross_process: Calls and results are pickled on their way to
            and from the workers. The grinder then pre-pickles each chunk with
            :meth:`dumps` and turns an item that will not pickle into an error
            for that item alone.
        can_kill_workers: :meth:`kill_workers` really stops running work, so a
            revoked or broken pool does not keep burning CPU.
        supports_run_timeout: A grinder may give items a run timeout here: the
            executors run the ``initializer`` option in worker processes of a
            :mod:`multiprocessing` context (``mp_context``, else the default),
            so the manager's progress board reaches them, and
            :meth:`kill_workers` stops an item that overruns. Only the process
            backend says so; with ``False`` a run timeout is refused when the
            grinder is built.
        accepted_options: The executor keywords (``LeasedExecutorManager(**kwargs)``)
            this backend takes; any other keyword is refused with ``TypeError``
            when the manager is built. ``max_workers`` is never accepted: the
            manager sets it from ``workers_per_pool``.
    """

    name: str
    payloads_cross_process: bool
    can_kill_workers: bool
    supports_run_timeout: bool
    accepted_options: frozenset[str]

    def open(self, options: Mapping[str, Any]) -> None:
        """Acquire what this backend needs for one manager run, before its first pool.

        Blocking: ``manager.start()`` runs it in a worker thread, once per
        start, before any call to :meth:`create`. ``options`` are the
        manager's executor keywords. Raising makes ``start()`` fail: the
        manager stops again and the error propagates. Backends that need
        nothing do nothing.
        """

    def close(self) -> None:
        """Release what :meth:`open` acquired.

        Blocking: ``manager.stop()`` runs it in a worker thread after every
        pool has been shut down, once after each :meth:`open`, also one that
        raised or was abandoned by a cancelled ``start()`` (it waits for that
        ``open`` to finish first). So it must cope with a half-done open. It
        must not raise (an error is logged and ignored) and must be idempotent.
        """

    def dumps(self, obj: Any) -> bytes:
        """Pickle a chunk of calls for the workers (used when ``payloads_cross_process``).

        Any thread (the grinder calls it on its loop), so keep it stateless.
        Workers read the bytes back with :func:`pickle.loads`, so
        a serializer that pickles more than the stdlib (cloudpickle) works as
        long as the workers can import it.
        """

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build one executor with ``workers`` workers, labelled ``name``.

        Owning loop: called from ``start()``, ``acquire()`` and the sizing
        loop, so it should return quickly; slow start-up belongs in
        :meth:`warm_up` or :meth:`open`. ``options`` are the manager's executor
        keywords (for the process backend, possibly wrapped to forward worker
        logs). An exception propagates to the caller that needed the pool.
        """

    def kill_workers(self, executor: Executor) -> None:
        """Stop the executor's workers now, abandoning whatever they run.

        Owning loop, so it must not block; the manager calls
        ``executor.shutdown(wait=False, cancel_futures=True)`` right after it.
        Called only when ``can_kill_workers``; a backend that cannot kill
        does nothing.
        """

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Do now, off the event loop, the start-up work a first ``submit`` would do.

        Blocking: the manager runs it in a worker thread for the pools it
        creates in ``start()``. ``workers`` and ``options`` are what
        ``executor`` was created with. Best effort: a backend with nothing to
        warm does nothing, and an error is logged and only means the work
        happens later.
        """


def check_options(backend: Backend, options: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` for an executor keyword the backend does not take."""
    if "max_workers" in options:
        raise TypeError("max_workers is set by workers_per_pool; pass workers_per_pool instead")
    unknown = sorted(set(options) - backend.accepted_options)
    if unknown:
        accepted = ", ".join(sorted(backend.accepted_options)) or "none"
        raise TypeError(
            f"backend {backend.name!r} does not accept executor option(s) "
            f"{', '.join(unknown)}; it accepts: {accepted}"
        )
