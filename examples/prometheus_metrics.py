"""Prometheus metrics for a manager and a grinder.

Needs the extra: ``pip install "gristmill[prometheus]"``. One
``PrometheusMetrics`` is passed as ``hooks=`` to both objects (lease events
come from the manager; batch and item events from the grinder) and told to
``watch`` them for the state gauges. The script serves ``/metrics`` on a free
local port, runs some work, and scrapes itself the way Prometheus would.

Run from the repository root::

    .venv/bin/python examples/prometheus_metrics.py
"""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request

from prometheus_client import CollectorRegistry, start_http_server

from gristmill import LeasedExecutorManager, WorkGrinder
from gristmill.prometheus import PrometheusMetrics


def digest(data: bytes) -> str:
    if not data:
        raise ValueError("nothing to digest")
    return hashlib.sha256(data).hexdigest()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def main() -> None:
    registry = CollectorRegistry()  # a real service would use the default REGISTRY
    metrics = PrometheusMetrics(name="digests", registry=registry)
    manager = LeasedExecutorManager(max_pools=2, workers_per_pool=4, hooks=metrics)
    grinder = WorkGrinder(
        executor_manager=manager, batch_size_threshold=50, max_wait_seconds=0.01, hooks=metrics
    )
    metrics.watch(manager=manager, grinder=grinder)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    await manager.start()
    await grinder.start()
    try:
        jobs = [str(i).encode() if i % 100 else b"" for i in range(500)]  # 5 of them fail
        futures = [await grinder.enqueue(digest, data) for data in jobs]
        await asyncio.gather(*futures, return_exceptions=True)
        await grinder.stop()  # every batch has ended and given its lease back
        # Scrape from a worker thread: the HTTP round trip must not block the loop.
        text = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.server_port}/metrics")
        for line in text.splitlines():
            if line.startswith(
                (
                    "gristmill_items_total",
                    "gristmill_batch_size_count",
                    "gristmill_lease_events_total",
                )
            ):
                print(line)
    finally:
        await grinder.stop()
        await manager.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
