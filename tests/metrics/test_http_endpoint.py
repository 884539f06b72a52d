"""End to end: a real ``/metrics`` HTTP endpoint, scraped while a thread-backed manager
and grinder work with a PrometheusMetrics as their hooks. The gauges show the work gated
in flight and queued; after it settles, the counters (every outcome: completed, failed,
cancelled, timed out, rejected) and the histograms match what ran."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from gristmill import GrinderOverloadedError, WorkGrinder
from gristmill.prometheus import PrometheusMetrics
from gristmill.testing import FakeClock
from tests.grinder.fakes import Gate
from tests.helpers import make_manager, wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metrics_url(registry: CollectorRegistry) -> Iterator[str]:
    """The URL of a live ``/metrics`` endpoint serving ``registry``."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def scrape(url: str) -> Samples:
    """GET ``url`` and parse the exposition text into ``{(sample, labels): value}``."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` of the ``e2e`` collector with ``labels``; KeyError if absent."""
    return samples[(name, frozenset({"name": "e2e", **labels}.items()))]


def job(gate: Gate, i: int) -> int:
    """Wait at the gate, then return ``i``, or fail for 3."""
    gate.block()
    if i == 3:
        raise ValueError("three is not allowed")
    return i


async def test_scraped_metrics_follow_the_work(
    registry: CollectorRegistry, metrics_url: str, clock: FakeClock
) -> None:
    metrics = PrometheusMetrics(registry=registry, name="e2e")
    manager = make_manager(clock, hooks=metrics)
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=4,
        max_wait_seconds=10.0,
        max_pending=4,
        overflow="reject",
        deadline_seconds=5.0,
        hooks=metrics,
    )
    metrics.watch(manager=manager, grinder=grinder)
    await manager.start()
    await grinder.start()
    try:
        with Gate() as gate:
            first = [await grinder.enqueue(job, gate, i) for i in range(4)]  # threshold: runs
            await wait_until(lambda: grinder.stats()["in_flight"] == 4, what="batch in flight")
            queued = [
                await grinder.enqueue(job, gate, i) for i in range(4, 8)
            ]  # wait: no threshold
            with pytest.raises(GrinderOverloadedError):  # the queue holds 4 at most
                await grinder.enqueue(job, gate, 8)
            queued[0].cancel()

            during = await asyncio.to_thread(scrape, metrics_url)

            assert value(during, "gristmill_queue_depth") == 3
            assert value(during, "gristmill_batches_in_flight") == 1
            assert value(during, "gristmill_items_in_flight") == 4
            assert value(during, "gristmill_pools", state="leased") == 1
            total = sum(
                value(during, "gristmill_pools", state=state)
                for state in ("available", "leased", "draining")
            )
            assert value(during, "gristmill_pools_live") == total >= 1
            assert value(during, "gristmill_pools_max") == manager.max_pools
            assert value(during, "gristmill_lease_events_total", event="granted") == 1
            assert value(during, "gristmill_batch_size_count") == 1
            assert value(during, "gristmill_items_total", outcome="rejected") == 1
            assert value(during, "gristmill_items_total", outcome="cancelled") == 1
            assert value(during, "gristmill_items_total", outcome="completed") == 0

            clock.advance(5.0)  # the three still queued pass their deadline unrun
            expired = await asyncio.gather(*queued[1:], return_exceptions=True)
            assert [type(e) for e in expired] == [TimeoutError] * 3
            gate.open()
            second = [await grinder.enqueue(job, gate, i) for i in range(10, 14)]  # runs
            results = await asyncio.gather(*first, *second, return_exceptions=True)
        assert [r if isinstance(r, int) else type(r) for r in results] == [
            *(0, 1, 2, ValueError),
            *(10, 11, 12, 13),
        ]
        await wait_until(
            lambda: (
                registry.get_sample_value("gristmill_batch_seconds_count", {"name": "e2e"}) == 2
            ),
            what="both batches ended",
        )

        after = await asyncio.to_thread(scrape, metrics_url)
    finally:
        await grinder.stop()
        await manager.stop()
        metrics.close()

    outcomes = {"completed": 7, "failed": 1, "cancelled": 1, "timed_out": 3, "rejected": 1}
    for outcome, count in outcomes.items():
        assert value(after, "gristmill_items_total", outcome=outcome) == count, outcome
    assert value(after, "gristmill_batch_size_count") == 2
    assert value(after, "gristmill_batch_size_sum") == 8  # every item that ran, once
    assert value(after, "gristmill_queue_wait_seconds_count") == 12  # all but the rejected one
    assert value(after, "gristmill_lease_events_total", event="granted") == 2  # one per batch
    assert value(after, "gristmill_lease_events_total", event="released") == 2
    assert value(after, "gristmill_items_requeued_total") == 0
    assert value(after, "gristmill_queue_depth") == 0
    assert value(after, "gristmill_batches_in_flight") == 0
    assert value(after, "gristmill_items_in_flight") == 0
    assert value(after, "gristmill_pools", state="leased") == 0
