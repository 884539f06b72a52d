"""Fixtures for the metrics tests: a private registry and a collector on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from gristmill.prometheus import PrometheusMetrics


@pytest.fixture
def registry() -> CollectorRegistry:
    """A registry of its own, so no test sees another's series."""
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Iterator[PrometheusMetrics]:
    """A collector named ``unit`` on ``registry``, closed after the test."""
    hooks = PrometheusMetrics(registry=registry, name="unit")
    yield hooks
    hooks.close()
