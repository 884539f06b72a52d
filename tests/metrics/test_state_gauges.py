"""State gauges read at scrape time: from the scraping thread while work is in flight, on
the owning loop's thread, before start and after stop, and what a scrape leaves out when
the grinder cannot answer (a blocked loop, a closed loop) instead of raising."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from prometheus_client import CollectorRegistry

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.prometheus import PrometheusMetrics
from gristmill.testing import FakeClock
from tests.grinder.fakes import Gate
from tests.helpers import make_manager, wait_until

GAUGES = ("queue_depth", "batches_in_flight", "items_in_flight")
POOL_STATES = ("available", "leased", "draining")


def gauges(registry: CollectorRegistry, name: str = "unit") -> dict[str, float | None]:
    """Scrape ``registry`` once and return every state gauge of ``name`` (None: not exported)."""
    values: dict[str, float | None] = dict.fromkeys([*GAUGES, *POOL_STATES])
    for family in registry.collect():
        for sample in family.samples:
            if sample.labels.get("name") != name:
                continue
            short = sample.name.removeprefix("gristmill_")
            if short in GAUGES:
                values[short] = sample.value
            elif short == "pools":
                values[sample.labels["state"]] = sample.value
    return values


async def test_gauges_scraped_from_another_thread_show_work_in_flight_and_queued(
    metrics: PrometheusMetrics,
    registry: CollectorRegistry,
    manager: LeasedExecutorManager,
    grinder: WorkGrinder,
    clock: FakeClock,
) -> None:
    metrics.watch(manager=manager, grinder=grinder)
    with Gate() as gate:
        running = [await grinder.enqueue(gate.hold, i) for i in range(4)]  # threshold: runs
        await wait_until(lambda: grinder.stats()["in_flight"] == 4, what="batch in flight")
        queued = [await grinder.enqueue(gate.hold, i) for i in range(2)]  # below threshold

        seen = await asyncio.to_thread(gauges, registry)

        pools = manager.stats()
        assert seen["queue_depth"] == 2
        assert seen["batches_in_flight"] == 1
        assert seen["items_in_flight"] == 4
        assert seen["leased"] == 1
        assert seen["available"] == pools["available"]
        assert sum(seen[state] or 0 for state in POOL_STATES) == pools["total"]
        gate.open()
        clock.advance(10.0)
        assert await asyncio.gather(*running, *queued) == [0, 1, 2, 3, 0, 1]

    await wait_until(lambda: grinder.stats()["running_batches"] == 0, what="batches done")
    await wait_until(lambda: manager.stats()["leased"] == 0, what="leases back")
    after = await asyncio.to_thread(gauges, registry)
    assert (after["queue_depth"], after["batches_in_flight"], after["items_in_flight"]) == (0, 0, 0)
    assert after["leased"] == 0


async def test_a_scrape_on_the_owning_loop_thread_reads_the_grinder_directly(
    metrics: PrometheusMetrics, registry: CollectorRegistry, grinder: WorkGrinder
) -> None:
    metrics.watch(grinder=grinder)
    futures = [await grinder.enqueue(abs, -i) for i in range(3)]
    seen = gauges(registry)  # on the loop's own thread: must not wait for the loop
    assert seen["queue_depth"] == 3
    assert seen["leased"] is None  # no manager watched: no pool gauges
    for future in futures:
        future.cancel()


async def test_a_grinder_not_yet_started_or_stopped_reports_zeros(
    metrics: PrometheusMetrics, registry: CollectorRegistry, manager: LeasedExecutorManager
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4)
    metrics.watch(manager=manager, grinder=grinder)
    before = await asyncio.to_thread(gauges, registry)
    assert [before[gauge] for gauge in GAUGES] == [0, 0, 0]

    await grinder.start()
    future = await grinder.enqueue(abs, -1)
    assert (await asyncio.to_thread(gauges, registry))["queue_depth"] == 1
    await grinder.stop()
    assert future.result() == 1
    after = await asyncio.to_thread(gauges, registry)
    assert [after[gauge] for gauge in GAUGES] == [0, 0, 0]


async def test_watch_replaces_what_was_watched_and_can_stop_watching(
    metrics: PrometheusMetrics,
    registry: CollectorRegistry,
    manager: LeasedExecutorManager,
    grinder: WorkGrinder,
) -> None:
    metrics.watch(manager=manager, grinder=grinder)
    metrics.watch(manager=manager)
    seen = await asyncio.to_thread(gauges, registry)
    assert seen["queue_depth"] is None
    assert seen["available"] is not None
    metrics.watch()
    assert await asyncio.to_thread(gauges, registry) == dict.fromkeys([*GAUGES, *POOL_STATES])


async def test_a_grinder_whose_loop_does_not_answer_in_time_is_left_out_of_the_scrape(
    registry: CollectorRegistry,
    manager: LeasedExecutorManager,
    grinder: WorkGrinder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = PrometheusMetrics(registry=registry, name="slow", stats_timeout=0.05)
    metrics.watch(manager=manager, grinder=grinder)
    seen: dict[str, float | None] = {}
    scraped = threading.Event()

    def scrape() -> None:
        try:
            seen.update(gauges(registry, "slow"))
        finally:
            scraped.set()

    scraper = threading.Thread(target=scrape)
    with caplog.at_level(logging.WARNING, logger="gristmill.prometheus"):
        scraper.start()
        assert scraped.wait(timeout=10)  # blocks this loop on purpose until the scrape gives up
        scraper.join(timeout=10)
    metrics.close()

    assert [seen[gauge] for gauge in GAUGES] == [None, None, None]
    assert seen["available"] is not None  # the manager answers from any thread
    assert "did not answer within timeout=0.05" in caplog.text


def test_a_grinder_whose_loop_shut_down_without_stop_is_scraped_as_stopped(
    metrics: PrometheusMetrics, registry: CollectorRegistry
) -> None:
    async def abandon_a_running_grinder() -> WorkGrinder:
        manager = make_manager(FakeClock())
        await manager.start()
        grinder = WorkGrinder(executor_manager=manager)
        await grinder.start()
        await manager.stop()
        return grinder  # never stopped: its loop closes under it

    abandoned: list[WorkGrinder] = []
    thread = threading.Thread(
        target=lambda: abandoned.append(asyncio.run(abandon_a_running_grinder()))
    )
    thread.start()
    thread.join(timeout=10)
    metrics.watch(grinder=abandoned[0])

    # asyncio.run cancelled the grinder's tasks: it stopped taking work, so its
    # (empty) snapshot is readable from any thread, like any stopped grinder's.
    assert abandoned[0].stats()["state"] == "stopped"
    assert [gauges(registry)[gauge] for gauge in GAUGES] == [0, 0, 0]


async def test_a_draining_pool_is_counted_once_as_draining_not_as_leased(
    metrics: PrometheusMetrics, registry: CollectorRegistry, manager: LeasedExecutorManager
) -> None:
    metrics.watch(manager=manager)
    with Gate() as gate:
        lease = await manager.acquire()
        work = asyncio.wrap_future(lease.executor.submit(gate.hold, 1))
        await wait_until(lambda: gate.arrived == 1, what="job running")
        await lease.release()
        assert (manager.stats()["leased"], manager.stats()["draining"]) == (1, 1)
        seen = await asyncio.to_thread(gauges, registry)
        assert (seen["leased"], seen["draining"]) == (0, 1)
        assert sum(seen[state] or 0 for state in POOL_STATES) == manager.stats()["total"]
        gate.open()
        assert await work == 1
