"""Prometheus metrics for a manager and a grinder, built on :mod:`gristmill.hooks`.

Install the extra (``pip install "gristmill[prometheus]"``) and import this
module yourself: ``import gristmill`` never imports ``prometheus_client``.

Two kinds of metric, fed two ways::

    owning event loop                      scraping thread (HTTP server)
    ─────────────────                      ─────────────────────────────
    manager / grinder                      registry.collect()
      │ on_batch_start / on_batch_end        │
      │ on_item_done / on_lease              ▼
      ▼                                    _StateCollector.collect()
    PrometheusMetrics ── counters,           ├── manager.stats()             (any thread)
                         histograms          └── grinder.stats_from_thread() (asks the loop)
                                                   ▼
                                             gauges, built fresh per scrape

Events are counted as they happen, so no increment is lost between scrapes;
state (queue depth, work in flight, pools) is read at scrape time, so a gauge
is never stale.

Every :class:`PrometheusMetrics` labels its series with ``name``. Instances
with the same ``registry`` and ``namespace`` share one set of metric families,
so several grinders can report to one ``/metrics`` endpoint, each under its
own ``name``.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import final, get_args

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import _validate as validate
from ._errors import NotStartedError, WrongLoopError
from ._grinder import WorkGrinder
from ._manager import LeasedExecutorManager
from ._stats import GrinderStats
from .hooks import (
    BatchCall,
    BatchEnd,
    BatchStart,
    Hooks,
    ItemDone,
    ItemOutcome,
    LeaseEvent,
    LeaseKind,
)

__all__ = ["PrometheusMetrics"]

logger = logging.getLogger(__name__)

_BATCH_SIZE_BUCKETS = tuple(float(2**n) for n in range(13))  # 1 .. 4096, the default max batch
# Seconds; queue waits run from sub-millisecond up to a long max_wait_seconds.
_QUEUE_WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                       10.0, 30.0, 60.0, 120.0, 300.0)  # fmt: skip
# Seconds; a batch runs from a few milliseconds up to a lease's length.
_BATCH_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                          30.0, 60.0, 120.0, 300.0, 600.0)  # fmt: skip

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True, slots=True)
class _Watched:
    """What one ``name`` reports at scrape time."""

    manager: LeasedExecutorManager | None
    grinder: WorkGrinder | None
    timeout: float


class _StateCollector(Collector):
    """Builds the state gauges of every watched manager and grinder, per scrape. Any thread."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}

    def watch(self, name: str, watched: _Watched | None) -> None:
        """Report ``watched`` under ``name`` from the next scrape on; ``None`` stops it."""
        with self._lock:
            if watched is None:
                self._watched.pop(name, None)
            else:
                self._watched[name] = watched

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The gauge families, without samples: lets the registry check names once."""
        return iter(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Read every watched object's stats and yield the gauges."""
        with self._lock:
            watched = list(self._watched.items())
        depth, batches, items, pools, live, cap, *owners = families = self._families()
        for name, source in watched:
            if source.grinder is not None:
                stats = _grinder_stats(source.grinder, source.timeout)
                if stats is not None:
                    depth.add_metric([name], stats["pending"])
                    batches.add_metric([name], stats["running_batches"])
                    items.add_metric([name], stats["in_flight"])
                    _add_owner_rows(name, stats, *owners)
            if source.manager is not None:
                pool_stats = source.manager.stats()
                pools.add_metric([name, "available"], pool_stats["available"])
                # stats()["leased"] counts draining pools too (leasepool's meaning);
                # the gauge's states partition the live pools.
                held = pool_stats["leased"] - pool_stats["draining"]
                pools.add_metric([name, "leased"], held)
                pools.add_metric([name, "draining"], pool_stats["draining"])
                live.add_metric([name], pool_stats["total"])
                cap.add_metric([name], pool_stats["max_pools"])
        return iter(families)

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        ns = self._namespace
        return (
            GaugeMetricFamily(f"{ns}_queue_depth", "Items waiting for a batch.", labels=["name"]),
            GaugeMetricFamily(
                f"{ns}_batches_in_flight", "Batches running on a lease.", labels=["name"]
            ),
            GaugeMetricFamily(
                f"{ns}_items_in_flight",
                "Items handed to an executor and not yet settled.",
                labels=["name"],
            ),
            GaugeMetricFamily(
                f"{ns}_pools",
                "Live executor pools by state; their sum is the total.",
                labels=["name", "state"],
            ),
            GaugeMetricFamily(
                f"{ns}_pools_live",
                "Live executor pools in total: available + leased + draining.",
                labels=["name"],
            ),
            GaugeMetricFamily(
                f"{ns}_pools_max", "The manager's cap on live pools.", labels=["name"]
            ),
            GaugeMetricFamily(
                f"{ns}_owner_items_pending",
                "Items waiting in the queue, for the busiest owners and the rest as '__other__'.",
                labels=["name", "owner"],
            ),
            GaugeMetricFamily(
                f"{ns}_owner_items_completed",
                "Items that returned a result, for the busiest owners and the rest as '__other__'.",
                labels=["name", "owner"],
            ),
        )


_OTHER_OWNERS = "__other__"
"""The ``owner`` label of the row that sums up the owners left out of the busiest few."""

_NO_OWNER = "__none__"
"""The ``owner`` label of items queued without an owner (``owner=None``)."""


def _owner_label(owner: str | None) -> str:
    """Return the ``owner`` label value of an owner.

    ``None`` is ``"__none__"``. An owner whose name starts with two
    underscores gets one more in front, so no owner can take the reserved
    values ``"__none__"`` and ``"__other__"``.
    """
    if owner is None:
        return _NO_OWNER
    return f"_{owner}" if owner.startswith("__") else owner


def _add_owner_rows(
    name: str, stats: GrinderStats, pending: GaugeMetricFamily, completed: GaugeMetricFamily
) -> None:
    """Add the per-owner rows of ``stats`` (bounded: the busiest few, then one for the rest)."""
    for row in stats["owners"]:
        label = _owner_label(row["owner"])
        pending.add_metric([name, label], row["pending"])
        completed.add_metric([name, label], row["completed"])
    other = stats["other_owners"]
    if other["owners"] or other["completed"]:
        pending.add_metric([name, _OTHER_OWNERS], other["pending"])
        completed.add_metric([name, _OTHER_OWNERS], other["completed"])


def _grinder_stats(grinder: WorkGrinder, timeout: float) -> GrinderStats | None:
    """The grinder's snapshot as seen from the scraping thread, or ``None`` if unreadable."""
    try:
        return grinder.stats_from_thread(timeout=timeout)
    except (NotStartedError, WrongLoopError):
        pass  # not running (any thread may read it), or we are its loop thread: read directly
    except TimeoutError:
        logger.warning("grinder stats not read: its loop did not answer within timeout=%s", timeout)
        return None
    except RuntimeError as exc:  # it crashed, or its loop is closed
        logger.debug("grinder stats not read: %r", exc)
        return None
    try:
        return grinder.stats()
    except WrongLoopError:  # started on another thread since the first attempt
        return None


class _Families:
    """The metric families of one namespace in one registry, shared by its PrometheusMetrics."""

    def __init__(self, namespace: str) -> None:
        self.items = Counter(
            "items",
            "Items settled, by outcome.",
            ["name", "outcome"],
            namespace=namespace,
            registry=None,
        )
        self.requeued = Counter(
            "items_requeued",
            "Items sent back to the queue by a crash, run timeout or revoked lease.",
            ["name"],
            namespace=namespace,
            registry=None,
        )
        self.leases = Counter(
            "lease_events",
            "Lease events, by kind.",
            ["name", "event"],
            namespace=namespace,
            registry=None,
        )
        self.batch_size = Histogram(
            "batch_size",
            "Items per batch, observed as each batch starts.",
            ["name"],
            namespace=namespace,
            buckets=_BATCH_SIZE_BUCKETS,
            registry=None,
        )
        self.queue_wait = Histogram(
            "queue_wait_seconds",
            "Time each item spent in the queue.",
            ["name"],
            namespace=namespace,
            buckets=_QUEUE_WAIT_BUCKETS,
            registry=None,
        )
        self.batch_seconds = Histogram(
            "batch_seconds",
            "Wall time of each batch, from its start to its lease going back.",
            ["name"],
            namespace=namespace,
            buckets=_BATCH_SECONDS_BUCKETS,
            registry=None,
        )
        self.calls = Counter(
            "batch_calls",
            "Calls of batch functions (gristmill.batched), splits included.",
            ["name"],
            namespace=namespace,
            registry=None,
        )
        self.items_per_call = Histogram(
            "items_per_call",
            "Items served by each call of a batch function.",
            ["name"],
            namespace=namespace,
            buckets=_BATCH_SIZE_BUCKETS,
            registry=None,
        )
        self.state = _StateCollector(namespace)
        self.names: set[str] = set()

    def register(self, registry: CollectorRegistry) -> None:
        """Register every family, or none: a name clash undoes the ones already added."""
        added: list[Collector] = []
        collectors: tuple[Collector, ...] = (
            self.items,
            self.requeued,
            self.leases,
            self.batch_size,
            self.queue_wait,
            self.batch_seconds,
            self.calls,
            self.items_per_call,
            self.state,
        )
        try:
            for collector in collectors:
                registry.register(collector)
                added.append(collector)
        except ValueError:
            for collector in added:
                registry.unregister(collector)
            raise


_SHARED: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Families]] = (
    weakref.WeakKeyDictionary()
)
_SHARED_LOCK = threading.Lock()


def _claim(registry: CollectorRegistry, namespace: str, name: str) -> _Families:
    """The families for ``(registry, namespace)``, created on first use, with ``name`` taken."""
    with _SHARED_LOCK:
        by_namespace = _SHARED.setdefault(registry, {})
        families = by_namespace.get(namespace)
        if families is None:
            families = _Families(namespace)
            families.register(registry)
            by_namespace[namespace] = families
        if name in families.names:
            raise ValueError(
                f"a PrometheusMetrics with name={name!r} already reports to this registry "
                f"under namespace={namespace!r}; pick another name or close() the first one"
            )
        families.names.add(name)
        return families


@final
class PrometheusMetrics(Hooks):
    """Hooks that export what a manager and a grinder do as Prometheus metrics.

    Pass one instance as ``hooks=`` to a :class:`~gristmill.LeasedExecutorManager`
    (for the lease counters) and a :class:`~gristmill.WorkGrinder` (for the
    batch and item metrics), then call :meth:`watch` with both so the state
    gauges can be read at scrape time. Every series carries the label
    ``name``; see ``docs/metrics.md`` for the metric table.

    The hook methods run on the owning loop's thread and only increment
    counters and observe histograms, which are thread-safe. Scrapes run on
    the scraper's thread and read the watched objects' stats there.

    Args:
        name: Value of the ``name`` label on every series of this instance.
        namespace: Prefix of every metric name.
        registry: Where the metrics are registered; defaults to
            ``prometheus_client.REGISTRY``. Instances sharing a registry and a
            namespace share the metric families and must differ in ``name``.
        stats_timeout: Longest a scrape waits for a running grinder's loop to
            answer; a grinder that does not answer in time is left out of that
            scrape (and a warning is logged).

    Raises:
        ValueError: ``name`` is empty or already used on this registry and
            namespace, ``namespace`` is not a valid metric name, or
            ``stats_timeout`` is negative, NaN or infinite; or another
            collector in ``registry`` already owns one of the metric names.
        TypeError: a parameter has the wrong type.
    """

    def __init__(
        self,
        *,
        name: str = "default",
        namespace: str = "gristmill",
        registry: CollectorRegistry | None = None,
        stats_timeout: float = 1.0,
    ) -> None:
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise TypeError("name and namespace must be strings")
        if not name:
            raise ValueError("name must be a non-empty string; it labels every series")
        if not _METRIC_NAME.fullmatch(namespace):
            raise ValueError(
                f"namespace must be a valid Prometheus metric name prefix "
                f"([a-zA-Z_:][a-zA-Z0-9_:]*), got {namespace!r}"
            )
        self._timeout = validate.duration("stats_timeout", stats_timeout, allow_zero=True)
        self._name = name
        self._registry = REGISTRY if registry is None else registry
        self._families = families = _claim(self._registry, namespace, name)
        self._items = {
            outcome: families.items.labels(name, outcome) for outcome in get_args(ItemOutcome)
        }
        self._leases = {kind: families.leases.labels(name, kind) for kind in get_args(LeaseKind)}
        self._requeued = families.requeued.labels(name)
        self._batch_size = families.batch_size.labels(name)
        self._queue_wait = families.queue_wait.labels(name)
        self._batch_seconds = families.batch_seconds.labels(name)
        self._calls = families.calls.labels(name)
        self._items_per_call = families.items_per_call.labels(name)

    @property
    def name(self) -> str:
        """The ``name`` label of this instance's series."""
        return self._name

    def watch(
        self,
        *,
        manager: LeasedExecutorManager | None = None,
        grinder: WorkGrinder | None = None,
    ) -> None:
        """Report the state gauges of ``manager`` and ``grinder`` from the next scrape on.

        Replaces what an earlier call watched; leave one out to stop reporting
        it. A manager gives ``pools{state}`` (read with its thread-safe
        ``stats()``). A grinder gives ``queue_depth``, ``batches_in_flight``
        and ``items_in_flight``, and, if it keeps per-owner books,
        ``owner_items_pending{owner}`` and ``owner_items_completed{owner}``
        for its busiest owners plus one ``owner="__other__"`` row for the
        rest, so the label count stays bounded (items without an owner are
        ``owner="__none__"``; an owner named with two leading underscores gets
        one more).
        While it runs they are read through ``stats_from_thread()`` (or
        ``stats()`` when the scrape happens on its own loop's thread); before
        start and after stop, from ``stats()``, which then reports zeros. A
        grinder whose loop is gone, or that crashed or did not answer within
        ``stats_timeout``, is left out of that scrape. Any thread.
        """
        watched = None
        if manager is not None or grinder is not None:
            watched = _Watched(manager=manager, grinder=grinder, timeout=self._timeout)
        self._families.state.watch(self._name, watched)

    def close(self) -> None:
        """Stop exporting this instance's series and free its ``name``. Idempotent; any thread.

        Hook calls after ``close()`` are still accepted and change nothing
        visible.
        """
        families = self._families
        name = self._name
        with _SHARED_LOCK:  # held until the series are gone, so the name is not reused early
            if name not in families.names:
                return
            families.state.watch(name, None)
            for outcome in self._items:
                families.items.remove(name, outcome)
            for kind in self._leases:
                families.leases.remove(name, kind)
            for family in (
                families.requeued,
                families.batch_size,
                families.queue_wait,
                families.calls,
                families.items_per_call,
            ):
                family.remove(name)
            families.batch_seconds.remove(name)
            families.names.discard(name)

    def on_batch_start(self, event: BatchStart) -> None:
        """Observe the batch's size."""
        self._batch_size.observe(event.size)

    def on_batch_end(self, event: BatchEnd) -> None:
        """Observe the batch's wall time and count the items it sent back to the queue."""
        self._batch_seconds.observe(event.seconds)
        if event.requeued:
            self._requeued.inc(event.requeued)

    def on_item_done(self, event: ItemDone) -> None:
        """Count the item by outcome and observe its queue wait (rejected items never queued)."""
        self._items[event.outcome].inc()
        if event.outcome != "rejected":
            self._queue_wait.observe(event.queue_wait_seconds)

    def on_batch_call(self, event: BatchCall) -> None:
        """Count a batch function's calls and observe how many items the call served."""
        self._calls.inc(event.calls)
        self._items_per_call.observe(event.items)

    def on_lease(self, event: LeaseEvent) -> None:
        """Count the lease event by kind."""
        self._leases[event.kind].inc()
