"""Typed shapes of the diagnostic snapshots.

The spec promises plain dicts, so these are :class:`~typing.TypedDict`\\ s: a
type checker knows every key, and ``json.dumps(stats)`` just works. The keys
that ``leasepool`` reports come first and mean the same; the rest are ours.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["GrinderStats", "LeaseInfo", "ManagerStats", "OtherOwnersStats", "OwnerStats"]


class LeaseInfo(TypedDict):
    """One active lease, as seen in :class:`ManagerStats`."""

    lease_id: str
    owner: str | None
    seconds_until_soft_expiry: float
    seconds_until_hard_expiry: float


class ManagerStats(TypedDict):
    """Snapshot returned by ``LeasedExecutorManager.stats()``.

    Current state:

    - ``state``: ``created``, ``starting`` (opening the backend), ``running``,
      ``stopping`` or ``stopped``.
    - ``desired``: the pool count the sizing policy asks for right now.
    - ``available`` and ``leased`` split ``total``, the live pools, as in
      leasepool: ``leased`` counts the pools held by a live lease and the
      pools released while their work still runs (``draining``). A draining
      pool is lent again once that work is done.
    - ``draining``: the part of ``leased`` that has been released.
    - ``waiters``: ``acquire()`` calls queued for a pool.
    - ``leases``: one :class:`LeaseInfo` per live lease
      (``len == leased - draining``).

    Lifetime counters, which only grow (also across restarts):

    - ``pools_created``: executors built; a pool whose executor could not be
      built is not counted.
    - ``pools_retired``: pools taken out of service for good: shrunk after
      their keep-alive, revoked at a lease's hard expiry, broken, or shut down
      by ``stop()``.
    - ``pools_broken``: the retirements whose executor broke.
    - ``leases_granted``: leases handed out, to callers or queued waiters.
    - ``leases_released``: leases given back (``release()``, ``async with``,
      or a waiter cancelled just after it was handed one).
    - ``leases_revoked``: leases taken away: hard expiry, a broken pool, a
      ``retire()``, or ``stop()``.
    - ``leases_expired``: the revocations at a lease's hard expiry.
    - ``sizing_failures``: steps of the sizing loop that failed (the size
      provider raised, a backend's ``create()`` failed while growing, a
      shutdown failed while trimming); each is logged and retried at the next
      check.

    Every snapshot taken on the owning loop satisfies::

        available + leased == total
        pools_created - pools_retired == total
        leases_granted == leases_released + leases_revoked + len(leases)
    """

    backend: str
    state: str
    desired: int
    max_pools: int
    min_pools: int
    available: int
    leased: int
    draining: int
    total: int
    workers_per_pool: int
    waiters: int
    leases: list[LeaseInfo]
    pools_created: int
    pools_retired: int
    pools_broken: int
    leases_granted: int
    leases_released: int
    leases_revoked: int
    leases_expired: int
    sizing_failures: int


class OwnerStats(TypedDict):
    """One owner's row in ``GrinderStats["owners"]``.

    - ``owner``: the ``owner=`` label its items carry (``None`` for items without one).
    - ``pending``: its items waiting in the queue.
    - ``completed``: its items that returned a result.
    """

    owner: str | None
    pending: int
    completed: int


class OtherOwnersStats(TypedDict):
    """The owners left out of ``GrinderStats["owners"]``, summed up in one row.

    - ``owners``: how many such owners the grinder knows of.
    - ``pending``: their items waiting in the queue.
    - ``completed``: their items that returned a result.
    """

    owners: int
    pending: int
    completed: int


class GrinderStats(TypedDict):
    """Snapshot returned by ``WorkGrinder.stats()``.

    Once the grinder is idle,
    ``submitted == completed + failed + cancelled + timed_out``.
    ``in_flight`` counts items handed to an executor and not yet settled.
    These counters count items, a ``map`` chunk's one by one; ``pending``,
    ``max_pending`` and ``waiting_for_room`` count queued jobs (and callers),
    a ``map`` chunk being one job.

    Beyond the spec's keys: ``timed_out`` (items that failed with
    ``TimeoutError``: a deadline passed before dispatch, or a run timeout),
    ``rejected`` (calls refused by a full queue; never counted as
    submitted), ``retried`` (times an item was queued again after its pool
    died, was killed or was revoked under it), ``max_pending`` (the queue
    bound, or ``None``), ``waiting_for_room`` (callers waiting for room in
    a full queue, or in their owner's quota), ``batch_calls`` (calls of batch
    functions, each over many callers' items, splits included) and
    ``split_calls`` (the extra calls ``on_error="split"`` made).

    Scheduling (see the scheduling guide): ``scheduler`` (``"fifo"`` or
    ``"fair"``), ``dispatch`` (``"wait"`` or ``"eager"``),
    ``priority_aging_seconds`` and ``max_pending_per_owner`` (or ``None``),
    and per-owner counts: ``owners`` lists the busiest owners (at most ten, most
    items pending first, then most completed), and ``other_owners`` sums up
    the rest. The per-owner counts are kept only by an owner-aware grinder
    (``scheduler="fair"``, or a ``max_pending_per_owner``); otherwise
    ``owners`` is empty and ``other_owners`` all zeros.
    """

    started: bool
    stopping: bool
    state: str
    pending: int
    batch_size_threshold: int
    max_wait_seconds: float
    lease_seconds: float
    oldest_wait_seconds: float
    max_concurrent_batches: int
    submitted: int
    completed: int
    failed: int
    cancelled: int
    batches: int
    running_batches: int
    in_flight: int
    timed_out: int
    rejected: int
    retried: int
    batch_calls: int
    split_calls: int
    max_pending: int | None
    waiting_for_room: int
    scheduler: str
    dispatch: str
    priority_aging_seconds: float | None
    max_pending_per_owner: int | None
    owners: list[OwnerStats]
    other_owners: OtherOwnersStats
