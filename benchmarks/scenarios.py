"""Scenario definitions: workload, pool configuration and the ideal to beat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from benchmarks import jobs

Kind = Literal["burst", "trickle", "memory", "bulk", "bulk-memory", "cli", "scheduling"]
Backend = Literal["thread", "process"]

JOBS: dict[str, Callable[[int], int]] = {
    "identity": jobs.identity,
    "sleep_1ms": jobs.sleep_1ms,
    "sleep_10ms": jobs.sleep_10ms,
    "cpu_small": jobs.cpu_small,
    "cpu_medium": jobs.cpu_medium,
}

# Nominal run time of each job, used for the ideals.
JOB_SECONDS: dict[str, float] = {
    "identity": 0.0,
    "sleep_1ms": 0.001,
    "sleep_10ms": 0.01,
    "cpu_small": 25e-6,
    "cpu_medium": 5e-3,
}

ALL_SYSTEMS = (
    "gristmill",
    "leasepool",
    "to_thread",
    "run_in_executor",
    "serial",
    "parallel_serial",
    "gristmill_map",
    "gristmill_enqueue_many",
    "gristmill_enqueue",
    "gristmill_cli",
)
GRINDER_SYSTEMS = ("gristmill", "leasepool")


@dataclass(frozen=True)
class Scenario:
    """One benchmark workload and the pool configuration it runs with.

    ``burst`` enqueues ``n`` items as fast as possible and awaits them all;
    ``trickle`` enqueues ``rate`` items per second for ``n / rate`` seconds;
    ``memory`` enqueues ``n`` items that never dispatch and measures RSS growth;
    ``bulk`` compares ``map``/``enqueue_many`` with the same grinder's ``enqueue``
    path and with plain loops; ``bulk-memory`` samples the RSS through a long
    ``map``; ``cli`` runs the ``gristmill`` command over an ``n``-line file.
    ``subject`` is the system whose ratios to the others are reported (by
    default the first of ``gristmill``, ``leasepool`` that ran).
    ``scheduling`` runs one of :mod:`benchmarks.scheduling`'s workloads, whose
    ``systems`` are variants of one gristmill grinder and whose table shows
    ``columns`` (title, metric key).
    """

    name: str
    kind: Kind
    job: str
    n: int
    quick_n: int
    backend: Backend
    max_pools: int
    workers_per_pool: int
    batch_size_threshold: int
    max_wait_seconds: float
    systems: tuple[str, ...]
    rate: float = 0.0
    note: str = ""
    subject: str | None = None
    columns: tuple[tuple[str, str], ...] = ()

    def size(self, quick: bool) -> int:
        """Return the number of items to run (small when ``quick``)."""
        return self.quick_n if quick else self.n

    @property
    def total_workers(self) -> int:
        """Return the worker count over all pools."""
        return self.max_pools * self.workers_per_pool

    def describe(self, quick: bool) -> str:
        """Return a one-line human description of the scenario."""
        pools = (
            f"{self.backend} backend, {self.max_pools} pool(s) x {self.workers_per_pool} workers"
        )
        grind = (
            f"threshold {self.batch_size_threshold}, max_wait {self.max_wait_seconds * 1e3:g} ms"
        )
        if self.kind == "scheduling":
            return self.note
        if self.kind == "trickle":
            what = f"{self.size(quick)} x {self.job} at {self.rate:g}/s"
        else:
            what = f"{self.size(quick)} x {self.job}"
        return f"{what}; {pools}; {grind}"


_BURST_SYSTEMS = ("gristmill", "leasepool", "to_thread", "serial")


def _scheduling(
    name: str, job: str, variants: tuple[str, ...], columns: tuple[tuple[str, str], ...], note: str
) -> Scenario:
    """A scenario of :mod:`benchmarks.scheduling`; sizes and pools live in that module."""
    return Scenario(
        name=name,
        kind="scheduling",
        job=job,
        n=0,
        quick_n=0,
        backend="thread",
        max_pools=4,
        workers_per_pool=4,
        batch_size_threshold=64,
        max_wait_seconds=0.005,
        systems=variants,
        note=note,
        columns=columns,
    )


SCHEDULING_SCENARIOS = (
    _scheduling(
        "noisy-neighbour",
        "sleep_1ms",
        ("fifo", "fair", "alone"),
        (
            ("B p50 ms", "b_p50_ms"),
            ("B p99 ms", "b_p99_ms"),
            ("B items", "b_n"),
            ("A items/s", "flood_items_per_s"),
        ),
        "owner A enqueues 50,000 x sleep_1ms at once, owner B one every 5 ms until A is done "
        "(alone: 400 of B's); thread backend, 4 pools x 4 workers; threshold 32, max_batch_size "
        "32, max_wait 5 ms",
    ),
    _scheduling(
        "priority",
        "sleep_1ms",
        ("same-priority", "flood", "alone"),
        (
            ("high p50 ms", "high_p50_ms"),
            ("high p99 ms", "high_p99_ms"),
            ("high items", "high_n"),
            ("flood items/s", "flood_items_per_s"),
        ),
        "scheduler='fair', one owner: 50,000 x sleep_1ms at priority 0 at once, and one item "
        "every 5 ms at priority 10 (same-priority: 0) until the flood is done (alone: 400 of "
        "them); 4 pools x 4 workers; threshold 32, max_batch_size 32, max_wait 5 ms",
    ),
    _scheduling(
        "deadlines",
        "sleep_10ms",
        ("fifo", "edf"),
        (
            ("miss %", "miss_pct"),
            ("late %", "late_pct"),
            ("miss % 50 ms", "miss_pct_50ms"),
            ("miss % 200 ms", "miss_pct_200ms"),
            ("miss % 1 s", "miss_pct_1000ms"),
            ("miss % 5 s", "miss_pct_5000ms"),
            ("items", "n"),
        ),
        "1.2x overload for 4 s: sleep_10ms at 480/s on 1 pool x 4 workers (400/s), deadlines "
        "50 ms / 200 ms / 1 s / 5 s in turn; fifo vs scheduler='fair' (EDF, one owner); "
        "threshold 8, max_batch_size 8, max_wait 5 ms",
    ),
    _scheduling(
        "eager",
        "identity",
        ("eager", "wait"),
        (("p50 ms", "p50_ms"), ("p99 ms", "p99_ms"), ("items", "n")),
        "one lone item at a time (10 ms apart), default max_wait 10 s and threshold 20; "
        "dispatch='eager' (100 items) vs 'wait' (2 items: each waits the full 10 s)",
    ),
    _scheduling(
        "many-owners",
        "identity",
        ("fifo", "fair"),
        (("enqueue items/s", "enqueue_items_per_s"), ("items", "n")),
        "enqueue one item for each of 100,000 distinct owners into a grinder that holds them "
        "(threshold 1,000,001, max_wait 1 h); fifo vs scheduler='fair'",
    ),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="noop-thread",
            kind="burst",
            job="identity",
            n=20_000,
            quick_n=500,
            backend="thread",
            max_pools=4,
            workers_per_pool=4,
            batch_size_threshold=64,
            max_wait_seconds=0.005,
            systems=_BURST_SYSTEMS,
        ),
        Scenario(
            name="sleep-thread",
            kind="burst",
            job="sleep_10ms",
            n=2_000,
            quick_n=100,
            backend="thread",
            max_pools=4,
            workers_per_pool=4,
            batch_size_threshold=64,
            max_wait_seconds=0.005,
            systems=_BURST_SYSTEMS,
        ),
        Scenario(
            name="multi-pool-sleep",
            kind="burst",
            job="sleep_10ms",
            n=2_000,
            quick_n=100,
            backend="thread",
            max_pools=4,
            workers_per_pool=2,
            batch_size_threshold=16,
            max_wait_seconds=0.005,
            systems=_BURST_SYSTEMS,
        ),
        Scenario(
            name="cpu-small-process",
            kind="burst",
            job="cpu_small",
            n=20_000,
            quick_n=500,
            backend="process",
            max_pools=1,
            workers_per_pool=2,
            batch_size_threshold=64,
            max_wait_seconds=0.005,
            systems=ALL_SYSTEMS,
        ),
        Scenario(
            name="cpu-medium-process",
            kind="burst",
            job="cpu_medium",
            n=400,
            quick_n=20,
            backend="process",
            max_pools=1,
            workers_per_pool=2,
            batch_size_threshold=64,
            max_wait_seconds=0.005,
            systems=ALL_SYSTEMS,
        ),
        Scenario(
            name="trickle",
            kind="trickle",
            job="sleep_1ms",
            n=400,
            quick_n=60,
            backend="thread",
            max_pools=4,
            workers_per_pool=4,
            batch_size_threshold=64,
            max_wait_seconds=0.020,
            systems=("gristmill", "leasepool", "to_thread"),
            rate=200.0,
        ),
        Scenario(
            name="memory",
            kind="memory",
            job="identity",
            n=1_000_000,
            quick_n=20_000,
            backend="thread",
            max_pools=1,
            workers_per_pool=1,
            batch_size_threshold=1_000_001,
            max_wait_seconds=3600.0,
            systems=GRINDER_SYSTEMS,
            note=(
                "bytes per queued item = growth of the process RSS (psutil) "
                "while n items sit undispatched in the grinder queue, / n; "
                "every item has the shared argument 0"
            ),
        ),
        Scenario(
            name="map-noop-thread",
            kind="bulk",
            job="identity",
            n=300_000,
            quick_n=5_000,
            backend="thread",
            max_pools=4,
            workers_per_pool=4,
            batch_size_threshold=64,
            max_wait_seconds=0.005,
            systems=("gristmill_map", "gristmill_enqueue_many", "gristmill_enqueue", "gristmill"),
            subject="gristmill_map",
            note=(
                "gristmill is the enqueue-then-await path of noop-thread, gristmill_enqueue "
                "the same timed like gristmill_enqueue_many; bar: map >= 10x gristmill"
            ),
        ),
        Scenario(
            name="map-cpu-small-process",
            kind="bulk",
            job="cpu_small",
            n=100_000,
            quick_n=2_000,
            backend="process",
            max_pools=1,
            workers_per_pool=2,
            batch_size_threshold=64,
            max_wait_seconds=0.005,
            systems=("gristmill_map", "gristmill", "parallel_serial"),
            subject="gristmill_map",
            note="bar: map >= 80% of parallel_serial",
        ),
        Scenario(
            name="cli-1m-thread",
            kind="cli",
            job="identity",
            n=1_000_000,
            quick_n=20_000,
            backend="thread",
            max_pools=1,
            workers_per_pool=2,
            batch_size_threshold=64,
            max_wait_seconds=0.05,
            systems=("gristmill_cli", "gristmill_map"),
            subject="gristmill_cli",
            note=(
                "gristmill_cli: python -m gristmill map over an n-line JSON Lines file, wall "
                "time of the whole command; gristmill_map: map in this process over range(n); "
                "bar: cli >= 30% of map; read/json/write: us per line, serially"
            ),
        ),
        Scenario(
            name="cli-1m-process",
            kind="cli",
            job="identity",
            n=1_000_000,
            quick_n=20_000,
            backend="process",
            max_pools=1,
            workers_per_pool=2,
            batch_size_threshold=64,
            max_wait_seconds=0.05,
            systems=("gristmill_cli", "gristmill_map"),
            subject="gristmill_cli",
            note="as cli-1m-thread, on a process pool: the JSON work runs in the workers",
        ),
        Scenario(
            name="map-memory",
            kind="bulk-memory",
            job="identity",
            n=10_000_000,
            quick_n=200_000,
            backend="thread",
            max_pools=4,
            workers_per_pool=4,
            batch_size_threshold=64,
            max_wait_seconds=0.005,
            systems=("gristmill_map",),
            note="RSS sampled every n/10 items; flat = no growth from the first tenth to the end",
        ),
        *SCHEDULING_SCENARIOS,
    )
}


@dataclass(frozen=True)
class Ideal:
    """What a perfect system would achieve on a scenario."""

    items_per_s: float | None
    latency_ms: float | None
    text: str


def ideal_for(scenario: Scenario, serial_items_per_s: float | None) -> Ideal:
    """Return the ideal for ``scenario``; CPU ideals need the measured serial rate."""
    job_s = JOB_SECONDS[scenario.job]
    if scenario.kind == "trickle":
        target_ms = (scenario.max_wait_seconds + job_s) * 1e3
        return Ideal(
            items_per_s=scenario.rate,
            latency_ms=target_ms,
            text=(
                f"p99 latency <= max_wait + run time = {target_ms:g} ms; "
                f"rate = arrival rate {scenario.rate:g}/s"
            ),
        )
    if scenario.kind != "burst" or job_s == 0.0:
        return Ideal(None, None, "none defined")
    if scenario.backend == "thread":
        rate = scenario.total_workers / job_s
        return Ideal(
            rate,
            None,
            f"{rate:g} items/s ({scenario.total_workers} threads / {job_s * 1e3:g} ms)",
        )
    if serial_items_per_s is None:
        return Ideal(None, None, f"{scenario.total_workers} x serial rate (serial not run)")
    rate = scenario.total_workers * serial_items_per_s
    return Ideal(
        rate,
        None,
        f"{rate:.0f} items/s ({scenario.total_workers} processes x measured serial rate)",
    )
