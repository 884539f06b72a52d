"""Counters and histograms fed by hook events: one test per metric family, reading the
values back from a private registry."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from gristmill import BatchEnd, BatchStart, ItemDone, LeaseEvent
from gristmill.hooks import ItemOutcome, LeaseKind
from gristmill.prometheus import PrometheusMetrics

OUTCOMES: tuple[ItemOutcome, ...] = ("completed", "failed", "cancelled", "timed_out", "rejected")
KINDS: tuple[LeaseKind, ...] = ("granted", "released", "expired", "revoked")


def sample(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    """The value of one sample of the ``unit`` collector."""
    return registry.get_sample_value(metric, {"name": "unit", **labels})


def test_every_counter_series_exists_at_zero_before_any_event(
    metrics: PrometheusMetrics, registry: CollectorRegistry
) -> None:
    for outcome in OUTCOMES:
        assert sample(registry, "gristmill_items_total", outcome=outcome) == 0
    for kind in KINDS:
        assert sample(registry, "gristmill_lease_events_total", event=kind) == 0
    assert sample(registry, "gristmill_items_requeued_total") == 0
    for histogram in ("batch_size", "queue_wait_seconds", "batch_seconds"):
        assert sample(registry, f"gristmill_{histogram}_count") == 0


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_item_done_counts_its_outcome_only(
    metrics: PrometheusMetrics, registry: CollectorRegistry, outcome: ItemOutcome
) -> None:
    metrics.on_item_done(ItemDone(outcome=outcome, queue_wait_seconds=0.5))
    metrics.on_item_done(ItemDone(outcome=outcome, queue_wait_seconds=0.5))
    counts = {o: sample(registry, "gristmill_items_total", outcome=o) for o in OUTCOMES}
    assert counts == {o: (2.0 if o == outcome else 0.0) for o in OUTCOMES}


def test_queue_wait_is_observed_per_item_that_was_queued(
    metrics: PrometheusMetrics, registry: CollectorRegistry
) -> None:
    waits = {"completed": 0.003, "failed": 0.2, "cancelled": 7.0, "timed_out": 40.0}
    for outcome, wait in waits.items():
        metrics.on_item_done(ItemDone(outcome=outcome, queue_wait_seconds=wait))  # type: ignore[arg-type]
    metrics.on_item_done(ItemDone(outcome="rejected", queue_wait_seconds=0.0))

    assert sample(registry, "gristmill_queue_wait_seconds_count") == 4
    assert sample(registry, "gristmill_queue_wait_seconds_sum") == pytest.approx(
        sum(waits.values())
    )
    assert sample(registry, "gristmill_queue_wait_seconds_bucket", le="0.005") == 1
    assert sample(registry, "gristmill_queue_wait_seconds_bucket", le="10.0") == 3
    assert sample(registry, "gristmill_queue_wait_seconds_bucket", le="60.0") == 4


def test_batch_start_observes_the_batch_size(
    metrics: PrometheusMetrics, registry: CollectorRegistry
) -> None:
    for size in (1, 3, 4096):
        metrics.on_batch_start(
            BatchStart(owner="work-grinder-1", size=size, queue_wait_seconds=0.1)
        )
    assert sample(registry, "gristmill_batch_size_count") == 3
    assert sample(registry, "gristmill_batch_size_sum") == 4100
    assert sample(registry, "gristmill_batch_size_bucket", le="1.0") == 1
    assert sample(registry, "gristmill_batch_size_bucket", le="4.0") == 2
    assert sample(registry, "gristmill_batch_size_bucket", le="2048.0") == 2
    assert sample(registry, "gristmill_batch_size_bucket", le="4096.0") == 3


def test_batch_end_observes_the_run_time_and_counts_requeued_items(
    metrics: PrometheusMetrics, registry: CollectorRegistry
) -> None:
    metrics.on_batch_end(BatchEnd(owner="work-grinder-1", size=8, seconds=0.02, requeued=0))
    metrics.on_batch_end(BatchEnd(owner="work-grinder-2", size=8, seconds=45.0, requeued=3))
    assert sample(registry, "gristmill_batch_seconds_count") == 2
    assert sample(registry, "gristmill_batch_seconds_sum") == pytest.approx(45.02)
    assert sample(registry, "gristmill_batch_seconds_bucket", le="0.025") == 1
    assert sample(registry, "gristmill_batch_seconds_bucket", le="30.0") == 1
    assert sample(registry, "gristmill_batch_seconds_bucket", le="60.0") == 2
    assert sample(registry, "gristmill_items_requeued_total") == 3


@pytest.mark.parametrize("kind", KINDS)
def test_lease_event_counts_its_kind_only(
    metrics: PrometheusMetrics, registry: CollectorRegistry, kind: LeaseKind
) -> None:
    metrics.on_lease(LeaseEvent(kind=kind, lease_id="lease-1", owner=None, pool="gristmill-0"))
    counts = {k: sample(registry, "gristmill_lease_events_total", event=k) for k in KINDS}
    assert counts == {k: (1.0 if k == kind else 0.0) for k in KINDS}


def test_two_names_share_a_registry_and_count_apart(registry: CollectorRegistry) -> None:
    first = PrometheusMetrics(registry=registry, name="ingest")
    second = PrometheusMetrics(registry=registry, name="resize")
    first.on_item_done(ItemDone(outcome="completed", queue_wait_seconds=0.0))
    labels = {"outcome": "completed"}
    assert registry.get_sample_value("gristmill_items_total", {"name": "ingest", **labels}) == 1
    assert registry.get_sample_value("gristmill_items_total", {"name": "resize", **labels}) == 0
    first.close()
    second.close()


def test_namespace_prefixes_every_metric(registry: CollectorRegistry) -> None:
    metrics = PrometheusMetrics(registry=registry, name="unit", namespace="mill")
    metrics.on_lease(LeaseEvent(kind="granted", lease_id="l", owner="o", pool="p"))
    assert sample(registry, "mill_lease_events_total", event="granted") == 1
    assert sample(registry, "gristmill_lease_events_total", event="granted") is None
    metrics.close()
