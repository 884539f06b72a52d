"""Creating, naming and closing a PrometheusMetrics: validation, the default registry,
name clashes, all-or-nothing registration, close(), and that ``import gristmill`` does
not pull in prometheus_client."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from gristmill import ItemDone, prometheus
from gristmill.prometheus import PrometheusMetrics

DONE = ItemDone(outcome="completed", queue_wait_seconds=0.0)


def completed(registry: CollectorRegistry, name: str) -> float | None:
    """The ``completed`` item counter of ``name``, or None if it is not exported."""
    return registry.get_sample_value(
        "gristmill_items_total", {"name": name, "outcome": "completed"}
    )


def test_import_gristmill_does_not_import_prometheus_client() -> None:
    code = (
        "import sys, gristmill, gristmill.hooks\n"
        "assert 'prometheus_client' not in sys.modules, 'imported'\n"
        "import gristmill.prometheus\n"
        "assert 'prometheus_client' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_default_registry_is_the_global_one() -> None:
    metrics = PrometheusMetrics(name="test-default-registry")
    try:
        metrics.on_item_done(DONE)
        assert completed(REGISTRY, "test-default-registry") == 1
    finally:
        metrics.close()
    assert completed(REGISTRY, "test-default-registry") is None


def test_name_is_exposed_and_defaults_to_default(registry: CollectorRegistry) -> None:
    metrics = PrometheusMetrics(registry=registry)
    assert metrics.name == "default"
    metrics.on_item_done(DONE)
    assert completed(registry, "default") == 1
    metrics.close()


def test_a_name_taken_on_the_same_registry_and_namespace_is_refused(
    metrics: PrometheusMetrics, registry: CollectorRegistry
) -> None:
    with pytest.raises(ValueError, match=r"name='unit' already reports to this registry"):
        PrometheusMetrics(registry=registry, name="unit")
    other_namespace = PrometheusMetrics(registry=registry, name="unit", namespace="other")
    other_registry = PrometheusMetrics(registry=CollectorRegistry(), name="unit")
    other_namespace.close()
    other_registry.close()


def test_close_removes_the_series_and_frees_the_name(
    metrics: PrometheusMetrics, registry: CollectorRegistry
) -> None:
    metrics.on_item_done(DONE)
    metrics.close()
    metrics.close()  # idempotent
    metrics.on_item_done(DONE)  # accepted, exports nothing
    assert completed(registry, "unit") is None
    assert registry.get_sample_value("gristmill_batch_size_count", {"name": "unit"}) is None

    again = PrometheusMetrics(registry=registry, name="unit")
    assert completed(registry, "unit") == 0
    again.close()


def test_a_metric_name_clash_registers_nothing(registry: CollectorRegistry) -> None:
    squatter = Counter("gristmill_batch_seconds", "someone else's", registry=registry)
    with pytest.raises(ValueError, match="gristmill_batch_seconds"):
        PrometheusMetrics(registry=registry, name="unit")
    assert registry.get_sample_value("gristmill_items_total", {"name": "unit"}) is None

    registry.unregister(squatter)
    metrics = PrometheusMetrics(registry=registry, name="unit")  # no half-registered leftovers
    assert completed(registry, "unit") == 0
    metrics.close()


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"name": ""}, ValueError, "name must be a non-empty string"),
        ({"name": 3}, TypeError, "name and namespace must be strings"),
        ({"namespace": None}, TypeError, "name and namespace must be strings"),
        ({"namespace": "grist-mill"}, ValueError, "namespace must be a valid Prometheus"),
        ({"namespace": "9mill"}, ValueError, "namespace must be a valid Prometheus"),
        ({"stats_timeout": -1.0}, ValueError, "stats_timeout"),
        ({"stats_timeout": float("nan")}, ValueError, "stats_timeout"),
        ({"stats_timeout": True}, ValueError, "stats_timeout"),
        ({"stats_timeout": "one"}, TypeError, "stats_timeout"),
    ],
)
def test_bad_options_are_refused_and_register_nothing(
    registry: CollectorRegistry, options: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        PrometheusMetrics(registry=registry, **options)  # type: ignore[arg-type]
    assert list(registry.collect()) == []


def test_the_module_exports_one_documented_class() -> None:
    assert prometheus.__all__ == ["PrometheusMetrics"]
    public = [name for name in vars(PrometheusMetrics) if not name.startswith("_")]
    assert {"name", "watch", "close", "on_batch_start", "on_item_done"} <= set(public)
    undocumented = [name for name in public if not inspect.getdoc(vars(PrometheusMetrics)[name])]
    assert inspect.getdoc(PrometheusMetrics)
    assert undocumented == []
