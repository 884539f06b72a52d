"""Lease counters fed by a real manager: granted, released, expired at the hard expiry
(a 300 s lease plus 15 s grace, on the fake clock) and revoked by ``stop()`` are counted
apart, and agree with the manager's own stats."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from gristmill.prometheus import PrometheusMetrics
from gristmill.testing import FakeClock
from tests.helpers import make_manager


def leases(registry: CollectorRegistry) -> dict[str, float | None]:
    """The ``unit`` collector's lease counters by event."""
    return {
        event: registry.get_sample_value(
            "gristmill_lease_events_total", {"name": "unit", "event": event}
        )
        for event in ("granted", "released", "expired", "revoked")
    }


async def test_each_lease_event_is_counted_once_under_its_own_kind(
    metrics: PrometheusMetrics, registry: CollectorRegistry, clock: FakeClock
) -> None:
    manager = make_manager(clock, hooks=metrics, lease_grace_seconds=15.0)
    await manager.start()
    try:
        released = await manager.acquire(lease_seconds=300.0, owner="a")
        await released.release()
        await manager.acquire(lease_seconds=300.0, owner="overdue")
        clock.advance(315.0)  # past the hard expiry: revoked as expired
        await manager.acquire(lease_seconds=300.0, owner="held at stop")
        stats = manager.stats()
    finally:
        await manager.stop()

    assert leases(registry) == {"granted": 3, "released": 1, "expired": 1, "revoked": 1}
    assert stats["leases_granted"] == 3
    assert stats["leases_expired"] == 1  # the manager's revoked count includes expiries
