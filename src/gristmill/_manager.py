"""LeasedExecutorManager: lends a bounded set of executor pools through leases.

How a pool moves::

    acquire() ─► idle pool? ──yes──────────────► LEASED ─► caller submits via lease.executor
       │ no                                        │
       ├─► room under max_pools? ─yes─► new pool ──┘
       │ no                                        │ release()        hard expiry / breakage
       ▼                                           ▼                        │
    FIFO waiters ◄── handed the next pool ◄── IDLE ◄── DRAINING            ▼
                                                (running work done)   RETIRED (+ replaced)

The manager is the public shell: it owns the lifecycle and the loop checks.
Settings are checked once into a :class:`~gristmill._manager_settings.ManagerSettings`;
the books (where each pool is, the waiters, the expiry and keep-alive timers,
the counters) are kept by :class:`~gristmill._pool_registry.PoolRegistry`; the sizing
loop is :class:`~gristmill._scaling.Scaler`.

All bookkeeping happens on the owning event loop's thread. Executor callbacks
reach it only through ``call_soon_threadsafe``: a worker thread queues what it
saw (a pool drained, or broke) before the borrower's future settles, and the
loop applies the queue on its next turn, or at once when code on the loop's
thread asks the manager anything first (``acquire()``, a count, ``stats()``).
So a job that failed because its pool broke is never seen, on the loop, before
the pool is retired and replaced. Surplus idle pools are kept
warm for ``idle_keepalive_seconds`` before they are shut down, so a busy
grinder does not churn pools.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from functools import partial
from multiprocessing.context import BaseContext
from types import TracebackType
from typing import Any, final

from . import _validate as validate
from ._backends import Backend, ExecutorBackend, backend_kind, default_mp_context
from ._backends._session import BackendSession
from ._batching import MAX_CHUNKS
from ._bridge import post
from ._clock import Clock
from ._errors import LeaseUnavailableError, NotStartedError
from ._lease import ExecutorLease
from ._lifecycle import Lifecycle, State
from ._main_guard import check_main_guard
from ._manager_settings import manager_settings
from ._pool import Pool
from ._pool_registry import PoolRegistry, log_fields
from ._process_logging import (
    LogForwarder,
    ProcessLoggingConfig,
    config_from_legacy_kwargs,
    start_forwarding,
)
from ._progress import ProgressBoard
from ._scaling import Scaler
from ._stats import ManagerStats
from ._waiters import Waiter
from .hooks import Hooks

__all__ = ["LeasedExecutorManager", "SizeProvider"]

SizeProvider = Callable[[], int]
"""Returns the current size signal (work units).

Called on the owning loop for the periodic check and after
``notify_scale_changed()``, and on the caller's thread, whichever that is, by
``desired_executor_count()``; so it must be safe to call from any thread.
"""


@final
class LeasedExecutorManager:
    """Owns up to ``max_pools`` executor pools and lends them out as leases.

    Like a tool library: borrowers take a pool for a while (``acquire``), use
    it through ``lease.executor`` and bring it back (``release``). Borrowers
    queue first come, first served. Overdue pools (past ``lease_seconds`` plus
    ``lease_grace_seconds``) are revoked: the pool is retired, its process
    workers are killed, and a fresh pool takes its place. A pool whose executor
    breaks is retired the same way. The number of warm pools follows
    ``size_provider``: ``max(min_pools, ceil(size / units_per_pool))``, capped
    at ``max_pools``; a leased pool is never taken away to shrink.

    ``start()`` opens the backend, creates the first pools and, off the event
    loop, does their start-up work (for process pools: the fork server and
    the worker processes), so the first submit does not stall the loop.
    ``async with manager:`` starts it and stops it on the way out.

    Args:
        backend: ``"thread"``, ``"process"``, ``"interpreter"`` (3.14+),
            ``"loky"`` (``pip install 'gristmill[loky]'``), another name given
            to :func:`~gristmill.register_backend` (in any letter case; the
            manager gets its own instance from the registered factory), or a
            :class:`~gristmill.Backend` instance, used as is.
        max_pools: Hard cap on live pools.
        min_pools: Pools kept warm even when the size signal is zero.
        units_per_pool: How many size units one pool serves.
        size_provider: Zero-argument callable returning the size signal,
            called on the owning loop for the periodic and notified checks,
            and on the caller's thread by ``desired_executor_count()``. A
            failing call is logged and the previous signal is kept.
        check_interval: Seconds between size checks; ``notify_scale_changed()``
            checks at once.
        default_lease_seconds: Lease length when ``acquire`` does not say.
        lease_grace_seconds: Extra time before an overdue lease is revoked.
        workers_per_pool: Threads or processes in each pool.
        name_prefix: Prefix for pool and lease names.
        logger: Logger for lifecycle events; defaults to ``gristmill.manager``.
        process_logging: Forward process-worker logs to the parent.
        idle_keepalive_seconds: How long a pool above the sizing target stays
            warm once idle. 0 shuts surplus pools down as soon as they return.
        clock: Time source; inject :class:`gristmill.testing.FakeClock` in tests.
        forward_process_logs: leasepool-style spelling of ``process_logging``;
            with ``process_log_level``, ``process_log_target_logger`` and
            ``clear_process_log_handlers``.
        hooks: Observer told about every lease granted, released, expired
            or revoked (see :class:`gristmill.Hooks`).
        **executor_kwargs: Passed to each executor: ``initializer`` and
            ``initargs`` for every backend; ``mp_context`` and
            ``max_tasks_per_child`` for ``process``.

    Raises:
        TypeError: a parameter has the wrong type, or an executor keyword is
            not accepted by the backend.
        ValueError: a size is not a whole number > 0, ``min_pools`` exceeds
            ``max_pools``, or a duration is not finite and positive (the grace
            and keep-alive may be 0).
        UnsupportedBackendError: the backend is unknown, or cannot run here
            (it needs a newer Python or a package that is not installed).
    """

    def __init__(
        self,
        *,
        backend: ExecutorBackend | str | Backend = ExecutorBackend.THREAD,
        max_pools: int,
        min_pools: int = 1,
        units_per_pool: int = 10,
        size_provider: SizeProvider | None = None,
        check_interval: float = 120.0,
        default_lease_seconds: float = 300.0,
        lease_grace_seconds: float = 15.0,
        workers_per_pool: int = 4,
        name_prefix: str = "gristmill",
        logger: logging.Logger | None = None,
        process_logging: ProcessLoggingConfig | None = None,
        idle_keepalive_seconds: float = 5.0,
        clock: Clock | None = None,
        forward_process_logs: bool = False,
        process_log_level: int | str = logging.INFO,
        process_log_target_logger: logging.Logger | None = None,
        clear_process_log_handlers: bool = True,
        hooks: Hooks | None = None,
        **executor_kwargs: Any,
    ) -> None:
        self._config = manager_settings(
            backend=backend,
            max_pools=max_pools,
            min_pools=min_pools,
            units_per_pool=units_per_pool,
            size_provider=size_provider,
            check_interval=check_interval,
            default_lease_seconds=default_lease_seconds,
            lease_grace_seconds=lease_grace_seconds,
            workers_per_pool=workers_per_pool,
            name_prefix=name_prefix,
            logger=logger,
            process_logging=process_logging,
            idle_keepalive_seconds=idle_keepalive_seconds,
            clock=clock,
            legacy_logging=partial(
                config_from_legacy_kwargs,
                forward=forward_process_logs,
                level=process_log_level,
                target_logger=process_log_target_logger,
                clear_handlers=clear_process_log_handlers,
            ),
            executor_kwargs=executor_kwargs,
            hooks=hooks,
        )
        self._logger = self._config.logger
        self._life = Lifecycle(
            "LeasedExecutorManager", "from other threads use stats() or notify_scale_changed()"
        )
        self._stopped: asyncio.Future[None] | None = None
        self._forwarder: LogForwarder | None = None
        self._board: ProgressBoard | None = None
        self._signals: deque[tuple[Pool, BaseException | None]] = deque()
        self._applying = False
        self._pools = PoolRegistry(self._config, host=self, signal=self._signal)
        self._session = BackendSession(self._config.backend, self._logger)
        self._scaler = Scaler(self._config, self._pools)

    @property
    def backend(self) -> ExecutorBackend | str:
        """The kind of pool this manager builds.

        An :class:`ExecutorBackend` member for the built-in thread, process
        and interpreter backends; otherwise the backend's ``name``.
        """
        return backend_kind(self._config.backend)

    @property
    def max_pools(self) -> int:
        """The cap on live pools."""
        return self._config.max_pools

    @property
    def workers_per_pool(self) -> int:
        """Threads or processes in each pool."""
        return self._config.workers

    @property
    def payloads_cross_process(self) -> bool:
        """Whether calls and results are pickled on their way to the workers."""
        return self._config.backend.payloads_cross_process

    @property
    def payload_dumps(self) -> Callable[[Any], bytes]:
        """The backend's pickler for chunks of calls that cross to its workers."""
        return self._config.backend.dumps

    @property
    def supports_run_timeout(self) -> bool:
        """Whether the grinder can find and stop a job that overruns its run timeout.

        The backend's ability (:attr:`Backend.supports_run_timeout`): true for
        process pools, whose workers post progress to a shared board and can
        be killed.
        """
        return self._config.backend.supports_run_timeout

    @property
    def progress_board(self) -> ProgressBoard | None:
        """The board process workers post progress to while the manager runs; else ``None``."""
        return self._board

    @property
    def mp_context(self) -> BaseContext | None:
        """The multiprocessing context, so the start method, of the process pools. Any thread.

        The ``mp_context`` given to the constructor, else ``forkserver``
        (``spawn`` where that is missing): gristmill never forks unless asked
        to, unlike leasepool on Linux. ``manager.mp_context.get_start_method()``
        says which. ``None`` for backends other than ``process``.
        """
        if self.backend is not ExecutorBackend.PROCESS:
            return None
        given: BaseContext | None = self._config.executor_kwargs.get("mp_context")
        return given or default_mp_context()

    @property
    def _process_log_mp_context(self) -> BaseContext | None:
        # leasepool's private name for the context of its log-forwarding process
        # pools, which leasepool programs read to check their start method.
        return self.mp_context

    @property
    def clock(self) -> Clock:
        """The time source for every timing rule of this manager."""
        return self._config.clock

    @property
    def running(self) -> bool:
        """Whether the manager is running: started, and not stopping or stopped. Any thread.

        :meth:`WorkGrinder.start() <gristmill.WorkGrinder.start>` checks it,
        so a grinder cannot start on a manager that has not.
        """
        return self._life.state is State.RUNNING

    @property
    def available_count(self) -> int:
        """Idle pools, ready to lend at once. Any thread."""
        self._catch_up()
        return len(self._pools.idle)

    @property
    def leased_count(self) -> int:
        """Pools not free because of a lease: on loan, or released and still draining. Any thread.

        As in leasepool, a pool released while its work still runs counts
        here until that work is done; ``stats()["draining"]`` tells how many.
        """
        self._catch_up()
        return self._pools.leased

    @property
    def total_count(self) -> int:
        """Live pools: ``available_count + leased_count``. Any thread."""
        self._catch_up()
        return self._pools.total

    async def start(self) -> None:
        """Bind to the running loop, open the backend, create the initial pools and warm them up.

        The backend's ``open()`` runs in a worker thread before any pool is
        created; ``acquire()`` meanwhile raises ``NotStartedError``. The
        warm-up (for process pools: starting the fork server and the worker
        processes) runs in a worker thread too, but the pools can already be
        leased while it runs. Idempotent once running, on
        the owning loop; the manager can be started again after ``stop()``.
        A ``start()`` that fails or is cancelled stops the manager again
        before the error propagates, so nothing is left running.

        Raises:
            WrongLoopError: already running on another loop.
            NotStartedError: a ``start()`` or ``stop()`` is still in progress,
                or ``stop()`` was called while this start was opening the
                backend or warming up its pools.
            MissingMainGuardError: process workers would import the main
                module again and re-run the code calling ``start()``, which
                is not under ``if __name__ == "__main__":``.
            Exception: whatever the backend's ``open()`` raised.
        """
        if self._life.state is State.RUNNING:
            self._life.require_loop("start")
            return
        check_main_guard(self._process_start_method())
        if self._life.state in (State.STARTING, State.STOPPING):
            raise NotStartedError(
                f"LeasedExecutorManager is {self._life.state.value}; "
                "await the start() or stop() in progress first"
            )
        self._life.bind()
        self._pools.options, self._forwarder = start_forwarding(
            self._config.process_logging if self.backend is ExecutorBackend.PROCESS else None,
            self._config.executor_kwargs,
            default_context=default_mp_context,
            logger=self._logger,
        )
        if self.supports_run_timeout:
            context = self._pools.options.get("mp_context") or default_mp_context()
            self._board = ProgressBoard(context, 2 * MAX_CHUNKS * self._config.max_pools)
            self._pools.options = self._board.wrap_options(self._pools.options)
        self._life.state = State.STARTING
        try:
            await self._open_backend()
            self._scaler.start()
            await self._warm_up(list(self._pools.idle))
        except BaseException:
            await self.stop()
            raise
        self._logger.info(
            "manager started backend=%s pools=%d max_pools=%d",
            self._config.backend.name,
            self.total_count,
            self._config.max_pools,
        )

    async def stop(self) -> None:
        """Revoke every lease, fail waiting ``acquire()`` calls, shut all pools down, close.

        Idle pools are joined in a worker thread; pools still running work are
        shut down without waiting (their process workers are killed), so
        ``stop()`` never hangs on a stuck job. Then the backend's ``close()``
        runs in the same worker thread. Safe to call twice or
        concurrently; a no-op before ``start()``.

        A cancellation (Ctrl-C under ``asyncio.run``) does not leave the
        manager half-stopped: the pools, which no longer run anything, are
        still shut down, and then ``CancelledError`` propagates.

        Raises:
            WrongLoopError: called from a loop other than the owning one.
            CancelledError: the task awaiting ``stop()`` was cancelled; the
                manager has stopped all the same.
        """
        if self._life.state in (State.CREATED, State.STOPPED):
            return
        self._life.require_loop("stop")
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
            return
        self._life.state = State.STOPPING
        self._stopped = asyncio.get_running_loop().create_future()
        self._scaler.cancel()
        self._pools.waiters.fail_all(NotStartedError("manager stopped while acquire() was waiting"))
        quiet = self._pools.withdraw_all()
        forwarder, self._forwarder = self._forwarder, None
        try:
            await _despite_cancellation(
                asyncio.to_thread(_join_executors, quiet, forwarder, self._session)
            )
        finally:
            self._life.state = State.STOPPED
            self._stopped.set_result(None)
            self._stopped = None
            self._logger.info("manager stopped backend=%s", self._config.backend.name)

    async def __aenter__(self) -> LeasedExecutorManager:
        """Start the manager (see :meth:`start`) and return it."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the manager (see :meth:`stop`), whatever ended the block.

        ``stop()`` never waits for running work, so this is prompt after a
        clean exit, an exception or a cancellation alike.
        """
        await self.stop()

    def __repr__(self) -> str:
        stats = self.stats()
        waiters = f" waiters={stats['waiters']}" if stats["waiters"] else ""
        return (
            f"<LeasedExecutorManager {stats['state']} backend={stats['backend']} "
            f"total={stats['total']} available={stats['available']} leased={stats['leased']} "
            f"draining={stats['draining']} max_pools={stats['max_pools']}{waiters}>"
        )

    def _process_start_method(self) -> str | None:
        """The start method of this manager's stdlib process pools; ``None`` if it builds none."""
        if self.backend is not ExecutorBackend.PROCESS:
            return None
        context = self._config.executor_kwargs.get("mp_context") or default_mp_context()
        method: str = context.get_start_method()
        return method

    async def acquire(
        self,
        *,
        lease_seconds: float | None = None,
        owner: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> ExecutorLease:
        """Borrow a pool. Owning loop only.

        Waiters are served first come, first served. A caller cancelled after
        being handed a lease gives it straight back.

        Args:
            lease_seconds: Lease length; defaults to ``default_lease_seconds``.
            owner: Label shown in logs and stats.
            wait: If false, fail at once instead of queueing.
            timeout: Give up after this many seconds of waiting.

        Raises:
            NotStartedError: the manager is not running, or stopped while waiting.
            WrongLoopError: called from a loop other than the owning one.
            LeaseUnavailableError: ``wait=False`` and nothing is free.
            TimeoutError: ``timeout`` ran out.
            ValueError: ``lease_seconds`` or ``timeout`` is out of range.
        """
        loop = self._require_running("acquire")
        self._catch_up()
        seconds = (
            self._config.default_lease
            if lease_seconds is None
            else validate.duration("lease_seconds", lease_seconds)
        )
        limit = validate.optional_timeout("timeout", timeout)
        if not self._pools.waiters.has_live():
            pool = self._pools.take()
            if pool is not None:
                return self._pools.grant(pool, lease_seconds=seconds, owner=owner)
        if not wait:
            raise LeaseUnavailableError(
                f"No executor available: all max_pools={self._config.max_pools} pools are "
                "in use; retry later or acquire with wait=True"
            )
        lease = await self._pools.waiters.wait(
            Waiter(loop.create_future(), seconds, owner),
            clock=self._config.clock,
            limit=limit,
            give_back=self._release_lease,
        )
        if self._life.state is not State.RUNNING:
            # Handed a pool, but stop() revoked it before this task resumed.
            raise NotStartedError("manager stopped while acquire() was waiting")
        return lease

    async def release(self, lease_id: str) -> None:
        """Return the lease with this id; unknown or ended ids are ignored. Owning loop only."""
        lease = self._pools.leases.get(lease_id)
        if lease is not None:
            self._release_lease(lease)

    def notify_scale_changed(self) -> None:
        """Re-read ``size_provider`` now instead of at the next check. Any thread."""
        life = self._life
        if life.state is not State.RUNNING or life.loop is None:
            return
        if life.on_loop_thread():
            self._resize()
        else:
            post(life.loop, self._resize)

    def desired_executor_count(self) -> int:
        """Read ``size_provider`` on the calling thread and return the pool count it asks for.

        Any thread; ``size_provider`` runs on the caller's thread.
        """
        return self._scaler.desired()

    def stats(self) -> ManagerStats:
        """Return a snapshot of pools, leases and lifetime counters. Any thread."""
        self._catch_up()
        return self._pools.snapshot(
            state=self._life.state.value, sizing_failures=self._scaler.failures
        )

    async def _open_backend(self) -> None:
        """Run the backend's ``open()`` off the loop, then become RUNNING."""
        await self._session.open(self._config.executor_kwargs)
        if self._life.state is not State.STARTING:
            raise NotStartedError("manager was stopped while start() was opening its backend")
        self._life.state = State.RUNNING

    async def _warm_up(self, pools: list[Pool]) -> None:
        """Do the start-up work of the pools ``start()`` created, off the loop.

        Pools created later, inside ``acquire()``, are not warmed: acquiring
        stays synchronous.
        """
        if pools:
            await asyncio.to_thread(self._pools.warm_up, pools, self._pools.options)
        if self._life.state is not State.RUNNING:
            raise NotStartedError("manager was stopped while start() was warming up its pools")

    def _require_running(self, what: str) -> asyncio.AbstractEventLoop:
        if self._life.state is not State.RUNNING:
            raise NotStartedError(
                f"LeasedExecutorManager.{what}() needs a running manager "
                f"(it is {self._life.state.value}); await manager.start() first"
            )
        return self._life.require_loop(what)

    def _release_lease(self, lease: ExecutorLease) -> None:
        if not self._pools.holds(lease):
            return
        self._life.require_loop("release")
        self._pools.release(lease)

    def _retire_lease(self, lease: ExecutorLease) -> None:
        if not self._pools.holds(lease):
            return
        self._life.require_loop("retire")
        self._logger.warning(
            "retiring pool on request lease=%s owner=%s",
            lease.lease_id,
            lease.owner,
            extra=log_fields(lease),
        )
        self._pools.retire(lease._pool, kill=True)
        self._pools.replenish()

    def _signal(self, pool: Pool, broken: BaseException | None) -> None:
        loop = self._life.loop
        if loop is None:
            return
        if broken is not None and self._life.on_loop_thread():
            # A submit refused on the loop: retire the pool before its lease can give
            # it back as idle (and lend it again) later in this same turn.
            self._on_pool_signal(pool, broken)
            return
        self._signals.append((pool, broken))  # deque.append is thread-safe
        post(loop, self._apply_signals)  # a closed loop has nothing left to update

    def _catch_up(self) -> None:
        """On the owning loop's thread, apply queued pool signals now, not on the next turn.

        A caller on the loop that blocked on a job's ``result()`` has not let
        the loop turn since the job's pool broke; it still sees the manager
        as it is after the break. Not from inside a lease hook, which may run
        while the books are half updated: the loop's turn applies them then.
        """
        if self._signals and not self._pools.telling and self._life.on_loop_thread():
            self._apply_signals()

    def _apply_signals(self) -> None:
        """Apply the pool signals worker threads queued, in order (owning loop)."""
        if self._applying:  # asked again from a hook while applying: the loop below goes on
            return
        self._applying = True
        try:
            while self._signals:
                self._on_pool_signal(*self._signals.popleft())
        finally:
            self._applying = False

    def _on_pool_signal(self, pool: Pool, broken: BaseException | None) -> None:
        if self._life.state is State.RUNNING:
            self._pools.on_signal(pool, broken)

    def _resize(self) -> None:
        if self._life.state is State.RUNNING:  # a notice from another thread may land after stop()
            self._scaler.check()


async def _despite_cancellation(work: Awaitable[None]) -> None:
    """Await ``work`` to its end even if the caller is cancelled meanwhile, then re-raise.

    A second cancellation stops the wait, not the work.
    """
    running = asyncio.ensure_future(work)
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        await asyncio.shield(running)
        raise


def _join_executors(
    executors: list[Executor], forwarder: LogForwarder | None, session: BackendSession
) -> None:
    """Blocking part of ``stop()``, run in a worker thread; the backend closes last."""
    try:
        for executor in executors:
            executor.shutdown(wait=True, cancel_futures=True)
        if forwarder is not None:
            forwarder.stop()
    finally:
        session.close()
