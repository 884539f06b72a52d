"""Pure adaptive-sizing policy: how many pools the manager should keep."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["desired_pools", "surplus_idle"]


def desired_pools(*, units: int | None, min_pools: int, max_pools: int, units_per_pool: int) -> int:
    """Return ``max(min_pools, ceil(units / units_per_pool))`` capped at ``max_pools``.

    ``units`` is the size signal (for example queue depth or active users);
    ``None`` means there is no signal and the floor applies.
    """
    wanted = min_pools if units is None else math.ceil(max(0, units) / units_per_pool)
    return min(max_pools, max(min_pools, wanted))


def surplus_idle(
    idle_since: Sequence[float], *, total: int, target: int, now: float, keepalive: float
) -> tuple[int, float | None]:
    """Decide which idle pools above ``target`` to shut down.

    Args:
        idle_since: When each idle pool became idle, oldest first.
        total: All live pools (idle, leased and draining).
        target: The desired pool count.
        now: The current time.
        keepalive: How long a surplus pool stays warm before it is shut down.

    Returns:
        How many of the oldest idle pools to shut down now, and when the next
        surplus pool's keep-alive runs out (``None`` if no surplus remains).
    """
    surplus = min(len(idle_since), max(0, total - target))
    expired = 0
    while expired < surplus and idle_since[expired] + keepalive <= now:
        expired += 1
    next_due = idle_since[expired] + keepalive if expired < surplus else None
    return expired, next_due
