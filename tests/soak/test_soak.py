"""Soak tests (``make soak``; deselected from the default run by the ``soak`` marker).

A million items with random failures and cancellations go through a real
thread-backed grinder, and a hundred thousand through a process-backed one
whose workers some items kill. Every item's future must resolve exactly once
with that item's own outcome, the grinder's books must balance with the
callers', and RSS must stay flat once the run has warmed up. Each test prints
its figures (run with ``-s`` to see them).
"""

from __future__ import annotations

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from tests.soak.harness import Report, SoakShape, run_soak
from tests.soak.ledger import Kind, Ledger, make_plan

pytestmark = [pytest.mark.soak, pytest.mark.timeout(1800)]

MAX_RSS_GROWTH_MIB = 50.0
"""Generous bound on RSS growth after the warm-up, for either soak."""
MAX_LATE_RSS_GROWTH_MIB = 16.0
"""Bound on how far the second half of the samples may rise above the first half."""
FAIL_RATE = 0.05
CANCEL_RATE = 0.02


def check_report(report: Report, ledger: Ledger, shape: SoakShape) -> None:
    """Assert exactly-once resolution, own outcomes, balanced books and flat RSS."""
    tally, stats, plan = report.tally, report.stats, ledger.plan
    assert ledger.unresolved_or_twice() == [], "(item, resolutions) not resolved exactly once"
    assert tally.resolved == report.items
    assert (tally.wrong, tally.other) == (0, 0), tally.examples
    assert tally.failed == plan.count(Kind.FAIL)
    assert tally.crashed == plan.count(Kind.CRASH)
    async_plan = plan[: len(plan) - shape.thread_items]
    assert tally.cancelled >= async_plan.count(Kind.CANCEL_AT_ONCE)

    assert (stats["pending"], stats["in_flight"], stats["rejected"]) == (0, 0, 0), stats
    assert stats["submitted"] == (
        stats["completed"] + stats["failed"] + stats["cancelled"] + stats["timed_out"]
    ), stats
    assert stats["failed"] == tally.failed + tally.crashed, stats
    assert stats["timed_out"] == tally.timed_out, stats
    # A thread's cancel is a second future's: it can reach its item before the
    # item was queued (the grinder never saw it), or after the item finished on
    # the loop but before the outcome crossed over (the grinder saw it
    # complete). Every other cancel the grinder counts as the caller does.
    never_queued = report.items - stats["submitted"]
    completed_first = stats["completed"] - tally.completed
    assert never_queued >= 0, stats
    assert completed_first >= 0, stats
    assert tally.cancelled - stats["cancelled"] == never_queued + completed_first, stats
    assert never_queued + completed_first <= tally.cancelled_from_thread, stats

    assert len(report.samples) >= 4, report.samples
    assert report.rss_growth_mib < MAX_RSS_GROWTH_MIB, report.samples
    assert report.late_rss_growth_mib < MAX_LATE_RSS_GROWTH_MIB, report.samples


async def soak(
    title: str,
    manager: LeasedExecutorManager,
    grinder: WorkGrinder,
    ledger: Ledger,
    shape: SoakShape,
) -> Report:
    """Start both, run the soak, stop both whatever happens; print and check the report."""
    await manager.start()
    try:
        await grinder.start()
        report = await run_soak(grinder, ledger, shape)
    finally:
        await grinder.stop(cancel_pending=True)
        await manager.stop()
    print("\n" + report.summary(title))
    check_report(report, ledger, shape)
    return report


# One loop is enough for the long run (uvloop gets the process soak); both
# would double the soak's wall time.
@pytest.mark.asyncio(loop_factories=["asyncio"])
async def test_a_million_thread_items_resolve_once_each_with_flat_memory() -> None:
    plan = make_plan(
        1_000_000, seed=4, fail_rate=FAIL_RATE, cancel_rate=CANCEL_RATE, deadline_items=500
    )
    ledger = Ledger(plan)
    manager = LeasedExecutorManager(backend="thread", max_pools=4, workers_per_pool=4)
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=256,
        max_wait_seconds=0.005,
        max_pending=8192,
        overflow="wait",
        deadline_seconds=60.0,
    )
    shape = SoakShape(
        async_producers=6,
        thread_producers=2,
        thread_items=100_000,
        window=2_000,
        sample_every=100_000,
        seed=40,
    )
    await soak("thread soak", manager, grinder, ledger, shape)


async def test_process_items_survive_killed_workers_and_resolve_once_each() -> None:
    plan = make_plan(
        100_000,
        seed=5,
        fail_rate=FAIL_RATE,
        cancel_rate=CANCEL_RATE,
        deadline_items=50,
        crash_items=4,
    )
    ledger = Ledger(plan)
    manager = LeasedExecutorManager(backend="process", max_pools=2, workers_per_pool=2)
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=256,
        max_wait_seconds=0.005,
        max_pending=4096,
        overflow="wait",
        deadline_seconds=60.0,
        max_retries=1,
    )
    shape = SoakShape(
        async_producers=4,
        thread_producers=1,
        thread_items=10_000,
        window=1_000,
        sample_every=10_000,
        seed=50,
    )
    report = await soak("process soak", manager, grinder, ledger, shape)
    assert report.stats["retried"] >= plan.count(Kind.CRASH), report.stats
