"""Typed shapes of the diagnostic snapshots.

The spec promises plain dicts, so these are :class:`~typing.TypedDict`\\ s: a
type checker knows every key, and ``json.dumps(stats)`` just works. The keys
that ``leasepool`` reports come first and mean the same; the rest are ours.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["GrinderStats", "LeaseInfo", "ManagerStats"]


class LeaseInfo(TypedDict):
    """One active lease, as seen in :class:`ManagerStats`."""

    lease_id: str
    owner: str | None
    seconds_until_soft_expiry: float
    seconds_until_hard_expiry: float


class ManagerStats(TypedDict):
    """Snapshot returned by ``LeasedExecutorManager.stats()``.

    ``available``, ``leased`` and ``draining`` partition ``total``: a draining
    pool has been released but still finishes work it was given.
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


class GrinderStats(TypedDict):
    """Snapshot returned by ``WorkGrinder.stats()``.

    Once the grinder is idle, ``submitted == completed + failed + cancelled``.
    ``in_flight`` counts items handed to an executor and not yet settled.
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
