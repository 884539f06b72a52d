"""Which dask workers are alive, and which pool runs on which of them.

The dask backend learns about workers from the scheduler's ``"all"`` event
topic (``add-worker`` / ``remove-worker``) plus one snapshot taken when it
connects. Each pool is a *tenant* that holds a set of worker addresses; the
roster hands out sets with :func:`pick_workers` so that pools stay disjoint
while the cluster has enough workers, and tells the tenants that used a worker
once it leaves.

Thread-safe: events arrive on the dask client's event-loop thread, pools ask
for workers from the manager's loop. Tenants are called back only after the
roster's lock is released, so a tenant may hold its own lock while it asks the
roster for workers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

__all__ = ["Roster", "Tenant", "pick_workers"]


class Tenant(Protocol):
    """A pool that runs on roster workers and must hear when one leaves."""

    def worker_left(self, address: str) -> None:
        """``address`` left the cluster; called from any thread, without the roster lock."""


def pick_workers(
    live: Iterable[str], load: Mapping[str, int], count: int
) -> tuple[tuple[str, ...], bool]:
    """Choose ``count`` workers for a pool, least used first (pure).

    Args:
        live: Addresses of the workers that are up.
        load: How many other pools use each address (missing: none).
        count: Workers the pool wants (``workers_per_pool``).

    Returns:
        The chosen addresses (ties broken by address, so the choice is
        stable) and whether the pool shares: some chosen worker is used by
        another pool, or the cluster has fewer than ``count`` workers.
    """
    ranked = sorted(live, key=lambda address: (load.get(address, 0), address))
    chosen = tuple(sorted(ranked[:count]))
    shared = len(chosen) < count or any(load.get(address, 0) for address in chosen)
    return chosen, shared


class Roster:
    """Live workers of one cluster and the worker set of every live pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[str] = set()
        self._gone: set[str] = set()
        self._tenants: dict[Tenant, tuple[str, ...]] = {}

    def reset(self, addresses: Iterable[str]) -> None:
        """Take the scheduler's snapshot; workers already reported gone stay gone."""
        with self._lock:
            self._live = set(addresses) - self._gone

    def joined(self, address: str) -> None:
        """A worker came up (dask gives a restarted worker a new address)."""
        with self._lock:
            if address not in self._gone:
                self._live.add(address)

    def left(self, address: str) -> None:
        """A worker left: forget it and tell every pool that runs on it."""
        with self._lock:
            self._live.discard(address)
            self._gone.add(address)
            tenants = [tenant for tenant, chosen in self._tenants.items() if address in chosen]
        for tenant in tenants:
            tenant.worker_left(address)

    def assign(self, tenant: Tenant, count: int) -> tuple[tuple[str, ...], bool]:
        """(Re)choose ``tenant``'s workers; see :func:`pick_workers` for the result."""
        with self._lock:
            load: dict[str, int] = {}
            for other, chosen in self._tenants.items():
                if other is not tenant:
                    for address in chosen:
                        load[address] = load.get(address, 0) + 1
            chosen, shared = pick_workers(self._live, load, count)
            self._tenants[tenant] = chosen
        return chosen, shared

    def is_live(self, addresses: Sequence[str]) -> bool:
        """Return whether every one of ``addresses`` is still up."""
        with self._lock:
            return all(address in self._live for address in addresses)

    def drop(self, tenant: Tenant) -> None:
        """Forget ``tenant`` (its pool shut down); its workers count as free again."""
        with self._lock:
            self._tenants.pop(tenant, None)

    def live_workers(self) -> frozenset[str]:
        """Addresses of the workers that are up."""
        with self._lock:
            return frozenset(self._live)
