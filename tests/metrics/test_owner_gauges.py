"""Per-owner gauges: the busiest owners by label, the rest summed up under one label, so a
grinder with thousands of owners exports a bounded number of series."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.prometheus import PrometheusMetrics
from tests.helpers import assert_grinder_settled

OTHER = "__other__"
"""The ``owner`` label of the row that sums up the owners left out."""


def owner_series(registry: CollectorRegistry, metric: str) -> dict[str, float]:
    """Scrape once; return ``{owner label: value}`` of ``gristmill_<metric>`` for name ``unit``."""
    found: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == f"gristmill_{metric}" and sample.labels["name"] == "unit":
                found[sample.labels["owner"]] = sample.value
    return found


async def test_owner_labels_are_bounded_with_an_other_row(
    metrics: PrometheusMetrics, registry: CollectorRegistry, manager: LeasedExecutorManager
) -> None:
    grinder = WorkGrinder(
        executor_manager=manager, scheduler="fair", batch_size_threshold=10_000, hooks=metrics
    )
    await grinder.start()
    metrics.watch(grinder=grinder)
    futures = [await grinder.enqueue(abs, -1, owner=f"tenant-{i}") for i in range(500)]
    futures += [await grinder.enqueue(abs, -1, owner="big") for _ in range(5)]
    futures.append(await grinder.enqueue(abs, -1))
    pending = await asyncio.to_thread(owner_series, registry, "owner_items_pending")
    assert len(pending) == 11  # ten busiest owners and the rest
    assert pending["big"] == 5
    assert sum(pending.values()) == 506
    await grinder.stop()
    assert_grinder_settled(grinder)
    completed = await asyncio.to_thread(owner_series, registry, "owner_items_completed")
    assert completed["big"] == 5
    assert sum(completed.values()) == 506
    assert len(completed) == 11


async def test_a_grinder_without_owner_books_exports_no_owner_series(
    metrics: PrometheusMetrics, registry: CollectorRegistry, grinder: WorkGrinder
) -> None:
    metrics.watch(grinder=grinder)
    await grinder.enqueue(abs, -1, owner="a")
    assert await asyncio.to_thread(owner_series, registry, "owner_items_pending") == {}


async def test_no_owner_can_take_the_reserved_labels(
    metrics: PrometheusMetrics, registry: CollectorRegistry, manager: LeasedExecutorManager
) -> None:
    grinder = WorkGrinder(executor_manager=manager, scheduler="fair", batch_size_threshold=100)
    await grinder.start()
    metrics.watch(grinder=grinder)
    for owner in (None, OTHER, "__none__", "_single", "plain"):
        await grinder.enqueue(abs, -1, owner=owner)
    pending = await asyncio.to_thread(owner_series, registry, "owner_items_pending")
    assert set(pending) == {"__none__", "___other__", "___none__", "_single", "plain"}
    await grinder.stop()
