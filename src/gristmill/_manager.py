"""LeasedExecutorManager: lends a bounded set of executor pools through leases.

How a pool moves::

    acquire() ─► idle pool? ──yes──────────────► LEASED ─► caller submits via lease.executor
       │ no                                        │
       ├─► room under max_pools? ─yes─► new pool ──┘
       │ no                                        │ release()        hard expiry / breakage
       ▼                                           ▼                        │
    FIFO waiters ◄── handed the next pool ◄── IDLE ◄── DRAINING            ▼
                                                (running work done)   RETIRED (+ replaced)

All bookkeeping happens on the owning event loop's thread. Executor callbacks
reach it only through ``call_soon_threadsafe``. Surplus idle pools are kept
warm for ``idle_keepalive_seconds`` before they are shut down, so a busy
grinder does not churn pools.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from functools import partial
from typing import Any, final

from . import _validate as validate
from ._backends import Backend, ExecutorBackend, check_options, default_mp_context, resolve_backend
from ._clock import Clock, MonotonicClock, TimerHandle
from ._errors import LeaseUnavailableError, NotStartedError, WrongLoopError
from ._lease import ExecutorLease
from ._pool import Pool, PoolState
from ._process_logging import LogForwarder, ProcessLoggingConfig, config_from_legacy_kwargs
from ._sizing import desired_pools, surplus_idle
from ._stats import LeaseInfo, ManagerStats
from ._waiters import Waiter, WaiterQueue

__all__ = ["LeasedExecutorManager", "SizeProvider"]

SizeProvider = Callable[[], int]
"""Returns the current size signal (work units); called on the owning loop."""


class _State(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


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

    Args:
        backend: ``"thread"``, ``"process"`` or ``"interpreter"`` (3.14+).
        max_pools: Hard cap on live pools.
        min_pools: Pools kept warm even when the size signal is zero.
        units_per_pool: How many size units one pool serves.
        size_provider: Zero-argument callable returning the size signal. A
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
        **executor_kwargs: Passed to each executor: ``initializer`` and
            ``initargs`` for every backend; ``mp_context`` and
            ``max_tasks_per_child`` for ``process``.

    Raises:
        TypeError: a parameter has the wrong type, or an executor keyword is
            not accepted by the backend.
        ValueError: a size is not a whole number > 0, ``min_pools`` exceeds
            ``max_pools``, or a duration is not finite and positive (the grace
            and keep-alive may be 0).
        UnsupportedBackendError: the backend is unknown or needs a newer Python.
    """

    def __init__(
        self,
        *,
        backend: ExecutorBackend | str = ExecutorBackend.THREAD,
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
        **executor_kwargs: Any,
    ) -> None:
        self._backend_name, self._backend = resolve_backend(backend)
        self._max_pools = validate.positive_int("max_pools", max_pools)
        self._min_pools = validate.positive_int("min_pools", min_pools)
        if self._min_pools > self._max_pools:
            raise ValueError(
                f"min_pools ({min_pools}) cannot be greater than max_pools ({max_pools})"
            )
        self._units_per_pool = validate.positive_int("units_per_pool", units_per_pool)
        self._workers = validate.positive_int("workers_per_pool", workers_per_pool)
        self._check_interval = validate.duration("check_interval", check_interval)
        self._default_lease = validate.duration("default_lease_seconds", default_lease_seconds)
        self._grace = validate.duration("lease_grace_seconds", lease_grace_seconds, allow_zero=True)
        self._keepalive = validate.duration(
            "idle_keepalive_seconds", idle_keepalive_seconds, allow_zero=True
        )
        if size_provider is not None and not callable(size_provider):
            raise TypeError("size_provider must be a zero-argument callable or None")
        if not isinstance(name_prefix, str):
            raise TypeError(f"name_prefix must be a str, got {type(name_prefix).__name__}")
        if process_logging is not None and not isinstance(process_logging, ProcessLoggingConfig):
            raise TypeError("process_logging must be a ProcessLoggingConfig or None")
        check_options(self._backend, executor_kwargs)
        self._size_provider = size_provider
        self._name_prefix = name_prefix
        self._logger = logger or logging.getLogger("gristmill.manager")
        self._clock: Clock = clock or MonotonicClock()
        self._executor_kwargs: Mapping[str, Any] = executor_kwargs
        self._process_logging = process_logging or config_from_legacy_kwargs(
            forward=forward_process_logs,
            level=process_log_level,
            target_logger=process_log_target_logger,
            clear_handlers=clear_process_log_handlers,
        )
        self._state = _State.CREATED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._options: dict[str, Any] = {}
        self._forwarder: LogForwarder | None = None
        self._idle: deque[Pool] = deque()
        self._draining: set[Pool] = set()
        self._leases: dict[str, ExecutorLease] = {}
        self._expiry: dict[Pool, TimerHandle] = {}
        self._waiters = WaiterQueue()
        self._target = self._min_pools
        self._check_timer: TimerHandle | None = None
        self._trim_timer: TimerHandle | None = None
        self._pool_seq = 0
        self._lease_seq = 0
        self._pools_retired = 0
        self._pools_broken = 0
        self._leases_released = 0
        self._leases_revoked = 0

    @property
    def backend(self) -> ExecutorBackend:
        """The kind of pool this manager builds."""
        return self._backend_name

    @property
    def max_pools(self) -> int:
        """The cap on live pools."""
        return self._max_pools

    @property
    def workers_per_pool(self) -> int:
        """Threads or processes in each pool."""
        return self._workers

    @property
    def payloads_cross_process(self) -> bool:
        """Whether calls and results are pickled on their way to the workers."""
        return self._backend.payloads_cross_process

    @property
    def clock(self) -> Clock:
        """The time source for every timing rule of this manager."""
        return self._clock

    @property
    def available_count(self) -> int:
        """Idle pools ready to lend."""
        return len(self._idle)

    @property
    def leased_count(self) -> int:
        """Pools currently on loan."""
        return len(self._leases)

    @property
    def total_count(self) -> int:
        """Live pools: idle, leased and draining."""
        return len(self._idle) + len(self._leases) + len(self._draining)

    async def start(self) -> None:
        """Bind to the running loop and create the initial pools.

        Idempotent on the owning loop; the manager can be started again after
        ``stop()``.

        Raises:
            WrongLoopError: already running on another loop.
            NotStartedError: a ``stop()`` is still in progress.
        """
        loop = asyncio.get_running_loop()
        if self._state is _State.RUNNING:
            self._require_loop("start")
            return
        if self._state is _State.STOPPING:
            raise NotStartedError("LeasedExecutorManager is stopping; await stop() first")
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._options = self._start_executor_options()
        self._state = _State.RUNNING
        self._resize()
        self._logger.info(
            "manager started backend=%s pools=%d max_pools=%d",
            self._backend_name.value,
            self.total_count,
            self._max_pools,
        )

    async def stop(self) -> None:
        """Revoke every lease, fail waiting ``acquire()`` calls and shut all pools down.

        Idle pools are joined in a worker thread; pools still running work are
        shut down without waiting (their process workers are killed), so
        ``stop()`` never hangs on a stuck job. Safe to call twice or
        concurrently; a no-op before ``start()``.

        Raises:
            WrongLoopError: called from a loop other than the owning one.
        """
        if self._state in (_State.CREATED, _State.STOPPED):
            return
        self._require_loop("stop")
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
            return
        self._state = _State.STOPPING
        self._stopped = asyncio.get_running_loop().create_future()
        for timer in (self._check_timer, self._trim_timer):
            if timer is not None:
                timer.cancel()
        self._waiters.fail_all(NotStartedError("manager stopped while acquire() was waiting"))
        pools = [*self._idle, *self._draining, *(lease._pool for lease in self._leases.values())]
        quiet: list[Executor] = []
        for pool in pools:
            if self._withdraw(pool):
                _shut_down(self._backend, pool.executor, kill=True)
            else:
                quiet.append(pool.executor)
        forwarder, self._forwarder = self._forwarder, None
        try:
            await asyncio.to_thread(_join_executors, quiet, forwarder)
        finally:
            self._state = _State.STOPPED
            self._stopped.set_result(None)
            self._stopped = None
            self._logger.info("manager stopped backend=%s", self._backend_name.value)

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
        seconds = (
            self._default_lease
            if lease_seconds is None
            else validate.duration("lease_seconds", lease_seconds)
        )
        limit = validate.optional_timeout("timeout", timeout)
        if not self._waiters.has_live():
            pool = self._take_pool()
            if pool is not None:
                return self._grant(pool, seconds, owner)
        if not wait:
            raise LeaseUnavailableError(
                f"no executor is free and max_pools={self._max_pools} are in use; "
                "retry later or acquire with wait=True"
            )
        future: asyncio.Future[ExecutorLease] = loop.create_future()
        self._waiters.push(Waiter(future, seconds, owner))
        timer = (
            None
            if limit is None
            else self._clock.call_at(self._clock.time() + limit, partial(_time_out, future, limit))
        )
        try:
            lease = await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                self._release_lease(future.result())
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if self._state is not _State.RUNNING:
            # Handed a pool, but stop() revoked it before this task resumed.
            raise NotStartedError("manager stopped while acquire() was waiting")
        return lease

    async def release(self, lease_id: str) -> None:
        """Return the lease with this id; unknown or ended ids are ignored. Owning loop only."""
        lease = self._leases.get(lease_id)
        if lease is not None:
            self._release_lease(lease)

    def notify_scale_changed(self) -> None:
        """Re-read ``size_provider`` now instead of at the next check. Any thread."""
        if self._state is not _State.RUNNING or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._resize()
        else:
            self._loop.call_soon_threadsafe(self._resize)

    def desired_executor_count(self) -> int:
        """Read ``size_provider`` and return the pool count it asks for. Any thread."""
        return desired_pools(
            units=self._read_size(),
            min_pools=self._min_pools,
            max_pools=self._max_pools,
            units_per_pool=self._units_per_pool,
        )

    def stats(self) -> ManagerStats:
        """Return a snapshot of pools, leases and lifetime counters. Any thread."""
        now = self._clock.time()
        leases: list[LeaseInfo] = [
            {
                "lease_id": lease.lease_id,
                "owner": lease.owner,
                "seconds_until_soft_expiry": max(0.0, lease.soft_expires_at - now),
                "seconds_until_hard_expiry": max(0.0, lease.hard_expires_at - now),
            }
            for lease in list(self._leases.values())
        ]
        return {
            "backend": self._backend_name.value,
            "state": self._state.value,
            "desired": self._target,
            "max_pools": self._max_pools,
            "min_pools": self._min_pools,
            "available": len(self._idle),
            "leased": len(leases),
            "draining": len(self._draining),
            "total": self.total_count,
            "workers_per_pool": self._workers,
            "waiters": self._waiters.live_count(),
            "leases": leases,
            "pools_created": self._pool_seq,
            "pools_retired": self._pools_retired,
            "pools_broken": self._pools_broken,
            "leases_granted": self._lease_seq,
            "leases_released": self._leases_released,
            "leases_revoked": self._leases_revoked,
        }

    def _require_loop(self, what: str) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise WrongLoopError(
                f"LeasedExecutorManager.{what}() must be called from the event loop that "
                "started the manager"
            )
        return loop

    def _require_running(self, what: str) -> asyncio.AbstractEventLoop:
        if self._state is not _State.RUNNING:
            raise NotStartedError(
                f"LeasedExecutorManager.{what}() needs a running manager "
                f"(it is {self._state.value}); await manager.start() first"
            )
        return self._require_loop(what)

    def _start_executor_options(self) -> dict[str, Any]:
        options = dict(self._executor_kwargs)
        config = self._process_logging
        if (
            config is None
            or not config.enabled
            or self._backend_name is not ExecutorBackend.PROCESS
        ):
            return options
        context = options.get("mp_context") or default_mp_context()
        options["mp_context"] = context
        self._forwarder = LogForwarder(config, self._logger)
        self._forwarder.start(context)
        return self._forwarder.wrap_options(options)

    def _read_size(self) -> int | None:
        if self._size_provider is None:
            return None
        try:
            return int(self._size_provider())
        except Exception:
            self._logger.warning("size_provider failed; keeping the previous size", exc_info=True)
            return None

    def _new_pool(self) -> Pool:
        self._pool_seq += 1
        name = f"{self._name_prefix}-{self._backend_name.value}-{self._pool_seq}"
        executor = self._backend.create(workers=self._workers, name=name, options=self._options)
        self._logger.debug("pool created name=%s workers=%d", name, self._workers)
        return Pool(executor, name, self._signal)

    def _take_pool(self) -> Pool | None:
        if self._idle:
            return self._idle.pop()
        if self.total_count < self._max_pools:
            return self._new_pool()
        return None

    def _grant(self, pool: Pool, lease_seconds: float, owner: str | None) -> ExecutorLease:
        self._lease_seq += 1
        lease = ExecutorLease(
            host=self,
            pool=pool,
            clock=self._clock,
            lease_id=f"{self._name_prefix}-lease-{self._lease_seq}",
            owner=owner,
            lease_seconds=lease_seconds,
            grace_seconds=self._grace,
            leased_at=self._clock.time(),
        )
        pool.attach(lease)
        self._leases[lease.lease_id] = lease
        self._expiry[pool] = self._clock.call_at(lease.hard_expires_at, partial(self._expire, pool))
        self._logger.debug("lease granted id=%s owner=%s pool=%s", lease.lease_id, owner, pool.name)
        return lease

    def _release_lease(self, lease: ExecutorLease) -> None:
        if self._leases.get(lease.lease_id) is not lease:
            return
        self._require_loop("release")
        del self._leases[lease.lease_id]
        self._leases_released += 1
        pool = lease._pool
        if pool.detach():
            self._draining.add(pool)
        else:
            self._return_idle(pool)

    def _return_idle(self, pool: Pool) -> None:
        self._draining.discard(pool)
        timer = self._expiry.pop(pool, None)
        if timer is not None:
            timer.cancel()
        pool.state = PoolState.IDLE
        pool.idle_since = self._clock.time()
        self._idle.append(pool)
        self._dispatch()
        self._trim()

    def _dispatch(self) -> None:
        while self._waiters.has_live():
            pool = self._take_pool()
            if pool is None:
                return
            waiter = self._waiters.pop_live()
            waiter.future.set_result(self._grant(pool, waiter.lease_seconds, waiter.owner))

    def _expire(self, pool: Pool) -> None:
        self._expiry.pop(pool, None)
        holder = next((lease for lease in self._leases.values() if lease._pool is pool), None)
        self._logger.warning(
            "revoking pool past its hard expiry pool=%s lease=%s owner=%s",
            pool.name,
            holder.lease_id if holder else "-",
            holder.owner if holder else "-",
        )
        self._retire(pool, kill=True)
        self._replenish()

    def _signal(self, pool: Pool, broken: BaseException | None) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to update
            loop.call_soon_threadsafe(self._on_pool_signal, pool, broken)

    def _on_pool_signal(self, pool: Pool, broken: BaseException | None) -> None:
        if pool.state is PoolState.RETIRED or self._state is not _State.RUNNING:
            return
        if broken is None:
            if pool.state is PoolState.DRAINING:
                self._return_idle(pool)
            return
        self._logger.warning("retiring broken pool=%s error=%r", pool.name, broken)
        self._pools_broken += 1
        self._retire(pool, kill=True)
        self._replenish()

    def _retire(self, pool: Pool, *, kill: bool) -> None:
        """Take ``pool`` out of service for good; shut it down without waiting."""
        self._withdraw(pool)
        _shut_down(self._backend, pool.executor, kill=kill)

    def _withdraw(self, pool: Pool) -> int:
        """Take ``pool`` out of service (revoking its lease); return the work still in flight.

        Once this returns nothing can submit to the pool any more, so a result
        of 0 stays true and the executor can be joined without blocking.
        """
        for lease_id in [lid for lid, lease in self._leases.items() if lease._pool is pool]:
            del self._leases[lease_id]
            self._leases_revoked += 1
        inflight = pool.detach()
        timer = self._expiry.pop(pool, None)
        if timer is not None:
            timer.cancel()
        if pool.state is PoolState.IDLE:
            self._idle.remove(pool)
        self._draining.discard(pool)
        pool.state = PoolState.RETIRED
        self._pools_retired += 1
        return inflight

    def _replenish(self) -> None:
        """Hand new pools to waiters and restore the sizing target after a retirement."""
        self._dispatch()
        while self.total_count < self._target:
            self._return_idle(self._new_pool())

    def _resize(self) -> None:
        """Re-read the size signal, grow to the target and schedule the next check."""
        if self._state is not _State.RUNNING:
            return  # a notice from another thread that landed after stop() began
        if self._check_timer is not None:
            self._check_timer.cancel()
        units = self._read_size()
        if units is not None or self._size_provider is None:
            self._target = desired_pools(
                units=units,
                min_pools=self._min_pools,
                max_pools=self._max_pools,
                units_per_pool=self._units_per_pool,
            )
        self._replenish()
        self._trim()
        self._check_timer = self._clock.call_at(
            self._clock.time() + self._check_interval, self._resize
        )

    def _trim(self) -> None:
        """Shut down surplus idle pools whose keep-alive ran out; re-arm for the next one."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
            self._trim_timer = None
        count, next_due = surplus_idle(
            [pool.idle_since for pool in self._idle],
            total=self.total_count,
            target=self._target,
            now=self._clock.time(),
            keepalive=self._keepalive,
        )
        for pool in [self._idle[i] for i in range(count)]:
            self._logger.debug("shrinking: retiring idle pool=%s", pool.name)
            self._retire(pool, kill=False)
        if next_due is not None:
            self._trim_timer = self._clock.call_at(next_due, self._trim)


def _time_out(future: asyncio.Future[ExecutorLease], limit: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no executor became free within {limit}s"))


def _shut_down(backend: Backend, executor: Executor, *, kill: bool) -> None:
    """Shut ``executor`` down without waiting, first killing its workers if asked.

    The kill comes first: ``ProcessPoolExecutor.shutdown()`` forgets its worker
    processes, so afterwards there would be nothing left to kill.
    """
    if kill and backend.can_kill_workers:
        backend.kill_workers(executor)
    executor.shutdown(wait=False, cancel_futures=True)


def _join_executors(executors: list[Executor], forwarder: LogForwarder | None) -> None:
    """Blocking part of ``stop()``, run in a worker thread."""
    for executor in executors:
        executor.shutdown(wait=True, cancel_futures=True)
    if forwarder is not None:
        forwarder.stop()
