"""The manager's books: every live pool and lease, and the timers that move them.

Each live pool is in exactly one place::

    idle (deque) ──grant──► leased (by lease id) ──release──► draining (set)
      ▲                            │ nothing running               │ last job done
      └────────────────────────────┴───────────────────────────────┘
    any of them ──withdraw──► RETIRED: counted, shut down, never lent again

The registry owns the hard-expiry timer of every lease and the keep-alive
timer of surplus idle pools, and keeps the lifetime counters that ``stats()``
reports. A pool that comes back goes to the oldest ``acquire()`` waiter first;
a pool taken away (expiry, breakage) is replaced up to ``target``, which the
sizing loop sets. Owning loop only, except :meth:`PoolRegistry.snapshot` (any
thread) and :meth:`PoolRegistry.warm_up`, which blocks and runs in a worker
thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Executor
from functools import partial
from typing import Any

from ._backends import Backend
from ._clock import TimerHandle
from ._lease import ExecutorLease, LeaseHost
from ._manager_settings import ManagerSettings
from ._pool import Pool, PoolState, Signal
from ._sizing import surplus_idle
from ._stats import LeaseInfo, ManagerStats
from ._waiters import WaiterQueue
from .hooks import LeaseEvent, LeaseKind, notify

__all__ = ["PoolRegistry", "log_fields"]


class PoolRegistry:
    """Where each pool of one manager is, who holds it, and what happened so far.

    Counters (all only grow): ``pools_created``, ``pools_retired``,
    ``pools_broken``, ``leases_granted``, ``leases_released`` and
    ``leases_revoked``; see :class:`~gristmill.ManagerStats`.
    """

    def __init__(self, config: ManagerSettings, *, host: LeaseHost, signal: Signal) -> None:
        self._config = config
        self._host = host
        self._signal = signal
        self.waiters = WaiterQueue()
        self.options: Mapping[str, Any] = {}
        self.target = config.min_pools
        self.idle: deque[Pool] = deque()
        self.draining: set[Pool] = set()
        self.leases: dict[str, ExecutorLease] = {}
        self._expiry: dict[Pool, TimerHandle] = {}
        self._trim_timer: TimerHandle | None = None
        self.pools_created = 0
        self.pools_retired = 0
        self.pools_broken = 0
        self.leases_granted = 0
        self.leases_released = 0
        self.leases_revoked = 0
        self.leases_expired = 0
        self.telling = False  # a lease hook runs: the books may be half updated

    @property
    def leased(self) -> int:
        """Pools held by a lease, or released and still draining."""
        return len(self.leases) + len(self.draining)

    @property
    def total(self) -> int:
        """Live pools: idle, leased and draining."""
        return len(self.idle) + len(self.leases) + len(self.draining)

    def new_pool(self) -> Pool:
        """Create a pool; it is not placed anywhere yet."""
        config = self._config
        name = f"{config.name_prefix}-{config.backend.name}-{self.pools_created + 1}"
        executor = config.backend.create(workers=config.workers, name=name, options=self.options)
        self.pools_created += 1  # only once the executor exists, so the books stay balanced
        config.logger.debug(
            "pool created name=%s workers=%d", name, config.workers, extra={"pool": name}
        )
        return Pool(executor, name, self._signal)

    def take(self) -> Pool | None:
        """Return the warmest idle pool, else a new one if under ``max_pools``, else None."""
        if self.idle:
            return self.idle.pop()
        if self.total < self._config.max_pools:
            return self.new_pool()
        return None

    def grant(self, pool: Pool, *, lease_seconds: float, owner: str | None) -> ExecutorLease:
        """Lend ``pool`` (just taken) and arm its hard-expiry timer."""
        config, clock = self._config, self._config.clock
        self.leases_granted += 1
        lease = ExecutorLease(
            host=self._host,
            pool=pool,
            clock=clock,
            lease_id=f"{config.name_prefix}-lease-{self.leases_granted}",
            owner=owner,
            lease_seconds=lease_seconds,
            grace_seconds=config.grace,
            leased_at=clock.time(),
        )
        pool.attach(lease)
        self.leases[lease.lease_id] = lease
        self._expiry[pool] = clock.call_at(lease.hard_expires_at, partial(self._expire, pool))
        config.logger.debug(
            "lease granted id=%s owner=%s pool=%s",
            lease.lease_id,
            owner,
            pool.name,
            extra=log_fields(lease),
        )
        self._tell("granted", lease)
        return lease

    def holds(self, lease: ExecutorLease) -> bool:
        """Return whether ``lease`` is still live (not released, revoked or broken)."""
        return self.leases.get(lease.lease_id) is lease

    def release(self, lease: ExecutorLease) -> None:
        """End a live lease; its pool drains first if work is still running on it."""
        del self.leases[lease.lease_id]
        self.leases_released += 1
        self._config.logger.debug(
            "lease released id=%s owner=%s pool=%s",
            lease.lease_id,
            lease.owner,
            lease.pool_name,
            extra=log_fields(lease),
        )
        self._tell("released", lease)
        pool = lease._pool
        if pool.detach():
            self.draining.add(pool)
        else:
            self.return_idle(pool)

    def return_idle(self, pool: Pool) -> None:
        """Put ``pool`` back on the idle stack, offer it to waiters, then trim surplus."""
        self.draining.discard(pool)
        timer = self._expiry.pop(pool, None)
        if timer is not None:
            timer.cancel()
        pool.state = PoolState.IDLE
        pool.idle_since = self._config.clock.time()
        self.idle.append(pool)
        self.dispatch()
        self.trim()

    def dispatch(self) -> None:
        """Hand free pools (idle, or new while under ``max_pools``) to waiters, oldest first."""
        while self.waiters.has_live():
            pool = self.take()
            if pool is None:
                return
            waiter = self.waiters.pop_live()
            lease = self.grant(pool, lease_seconds=waiter.lease_seconds, owner=waiter.owner)
            waiter.future.set_result(lease)

    def replenish(self) -> None:
        """Serve waiters, then create pools until ``target`` is met again."""
        self.dispatch()
        while self.total < self.target:
            self.return_idle(self.new_pool())

    def on_signal(self, pool: Pool, broken: BaseException | None) -> None:
        """A pool finished draining (``broken`` is None) or its executor broke."""
        if pool.state is PoolState.RETIRED:
            return
        if broken is None:
            if pool.state is PoolState.DRAINING:
                self.return_idle(pool)
            return
        self._config.logger.warning(
            "retiring broken pool=%s error=%r", pool.name, broken, extra={"pool": pool.name}
        )
        self.pools_broken += 1
        self.retire(pool, kill=True)
        self.replenish()

    def retire(self, pool: Pool, *, kill: bool, kind: LeaseKind = "revoked") -> None:
        """Take ``pool`` out of service for good; shut it down without waiting."""
        self.withdraw(pool, kind)
        _shut_down(self._config.backend, pool.executor, kill=kill)

    def withdraw(self, pool: Pool, kind: LeaseKind = "revoked") -> int:
        """Take ``pool`` out of service (revoking its lease); return the work still in flight.

        Once this returns nothing can submit to the pool any more, so a result
        of 0 stays true and the executor can be joined without blocking.
        ``kind`` is what hooks hear about the lease it ends.
        """
        for lease in [lease for lease in self.leases.values() if lease._pool is pool]:
            del self.leases[lease.lease_id]
            self.leases_revoked += 1
            self.leases_expired += kind == "expired"
            self._tell(kind, lease)
        inflight = pool.detach()
        timer = self._expiry.pop(pool, None)
        if timer is not None:
            timer.cancel()
        if pool.state is PoolState.IDLE:
            self.idle.remove(pool)
        self.draining.discard(pool)
        pool.state = PoolState.RETIRED
        self.pools_retired += 1
        return inflight

    def withdraw_all(self) -> list[Executor]:
        """Retire every pool (for ``stop()``); return the executors still to be joined.

        Pools with work in flight are shut down at once, their workers killed,
        so stopping never waits on a stuck job; the idle rest is returned.
        """
        if self._trim_timer is not None:
            self._trim_timer.cancel()
            self._trim_timer = None
        pools = [*self.idle, *self.draining, *(lease._pool for lease in self.leases.values())]
        quiet: list[Executor] = []
        for pool in pools:
            if self.withdraw(pool):
                _shut_down(self._config.backend, pool.executor, kill=True)
            else:
                quiet.append(pool.executor)
        return quiet

    def trim(self) -> None:
        """Shut down surplus idle pools whose keep-alive ran out; re-arm for the next one."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
            self._trim_timer = None
        clock = self._config.clock
        count, next_due = surplus_idle(
            [pool.idle_since for pool in self.idle],
            total=self.total,
            target=self.target,
            now=clock.time(),
            keepalive=self._config.keepalive,
        )
        for pool in [self.idle[i] for i in range(count)]:
            self._config.logger.debug(
                "shrinking: retiring idle pool=%s", pool.name, extra={"pool": pool.name}
            )
            self.retire(pool, kill=False)
        if next_due is not None:
            self._trim_timer = clock.call_at(next_due, self.trim)

    def snapshot(self, *, state: str, sizing_failures: int) -> ManagerStats:
        """Build ``stats()`` from the books and the manager's lifecycle ``state``.

        Any thread: it only reads, and copies the leases before walking them.
        """
        config = self._config
        leases = self._lease_infos(config.clock.time())
        return {
            "backend": config.backend.name,
            "state": state,
            "desired": self.target,
            "max_pools": config.max_pools,
            "min_pools": config.min_pools,
            "available": len(self.idle),
            "leased": len(leases) + len(self.draining),
            "draining": len(self.draining),
            "total": self.total,
            "workers_per_pool": config.workers,
            "waiters": self.waiters.live_count(),
            "leases": leases,
            "pools_created": self.pools_created,
            "pools_retired": self.pools_retired,
            "pools_broken": self.pools_broken,
            "leases_granted": self.leases_granted,
            "leases_released": self.leases_released,
            "leases_revoked": self.leases_revoked,
            "leases_expired": self.leases_expired,
            "sizing_failures": sizing_failures,
        }

    def _lease_infos(self, now: float) -> list[LeaseInfo]:
        return [
            {
                "lease_id": lease.lease_id,
                "owner": lease.owner,
                "seconds_until_soft_expiry": max(0.0, lease.soft_expires_at - now),
                "seconds_until_hard_expiry": max(0.0, lease.hard_expires_at - now),
            }
            for lease in list(self.leases.values())
        ]

    def warm_up(self, pools: list[Pool], options: Mapping[str, Any]) -> None:
        """Blocking, in a worker thread: do the backend's start-up work for ``pools``.

        A failure is logged and otherwise ignored: the pool still works, or
        breaks on first use and is replaced then.
        """
        config = self._config
        for pool in pools:
            try:
                config.backend.warm_up(pool.executor, workers=config.workers, options=options)
            except Exception:
                if pool.state is not PoolState.RETIRED:  # a retired pool refuses work anyway
                    config.logger.warning(
                        "warming up pool=%s failed",
                        pool.name,
                        exc_info=True,
                        extra={"pool": pool.name},
                    )

    def _expire(self, pool: Pool) -> None:
        self._expiry.pop(pool, None)
        holder = next((lease for lease in self.leases.values() if lease._pool is pool), None)
        self._config.logger.warning(
            "revoking pool past its hard expiry pool=%s lease=%s owner=%s",
            pool.name,
            holder.lease_id if holder else "-",
            holder.owner if holder else "-",
            extra=log_fields(holder) if holder else {"pool": pool.name},
        )
        self.retire(pool, kill=True, kind="expired")
        self.replenish()

    def _tell(self, kind: LeaseKind, lease: ExecutorLease) -> None:
        hooks = self._config.hooks
        if hooks is not None:
            event = LeaseEvent(kind, lease.lease_id, lease.owner, lease._pool.name)
            self.telling = True
            try:
                notify(hooks.on_lease, event, self._config.logger)
            finally:
                self.telling = False


def log_fields(lease: ExecutorLease) -> dict[str, str | None]:
    """The ``extra`` fields of a log record about ``lease``: its owner, pool and id."""
    return {"owner": lease.owner, "pool": lease.pool_name, "lease_id": lease.lease_id}


def _shut_down(backend: Backend, executor: Executor, *, kill: bool) -> None:
    """Shut ``executor`` down without waiting, first killing its workers if asked.

    The kill comes first: ``ProcessPoolExecutor.shutdown()`` forgets its worker
    processes, so afterwards there would be nothing left to kill.
    """
    if kill and backend.can_kill_workers:
        backend.kill_workers(executor)
    executor.shutdown(wait=False, cancel_futures=True)
