"""Smoke test run by .ci/check_extras in a venv holding only gristmill and one extra.

Usage: ``python .ci/extras_smoke.py {core,dask,loky,otel,prometheus,web}``. Exits non-zero
(an AssertionError or ImportError) if the extra does not work on its own.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
from collections.abc import Callable

from gristmill import LeasedExecutorManager, WorkGrinder, available_backends


def square(x: int) -> int:
    return x * x


async def grind(backend: str, fn: Callable[[int], int], *, tracing: bool = False) -> list[int]:
    manager = LeasedExecutorManager(backend=backend, max_pools=1, workers_per_pool=1)
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, max_wait_seconds=0.01, tracing=tracing)
    await grinder.start()
    try:
        return list(await asyncio.gather(*(grinder.submit(fn, i) for i in range(5))))
    finally:
        await grinder.stop()
        await manager.stop()


async def main(extra: str) -> None:
    backends = available_backends()
    if extra == "core":
        assert backends == ["process", "thread"], backends
        assert await grind("thread", square) == [0, 1, 4, 9, 16]
        # Without OpenTelemetry, tracing=True logs a warning and records nothing.
        assert await grind("thread", square, tracing=True) == [0, 1, 4, 9, 16]
    elif extra in ("dask", "loky"):
        assert extra in backends, backends
        assert await grind(extra, lambda v: v + 1) == [1, 2, 3, 4, 5]  # cloudpickled
    elif extra == "otel":  # the API alone: no-op spans, and the jobs still run
        importlib.import_module("opentelemetry.trace")
        assert importlib.util.find_spec("opentelemetry.sdk") is None
        assert await grind("thread", square, tracing=True) == [0, 1, 4, 9, 16]
        assert await grind("process", square, tracing=True) == [0, 1, 4, 9, 16]
    elif extra == "prometheus":
        from gristmill.prometheus import PrometheusMetrics

        PrometheusMetrics(name="smoke").close()
    elif extra == "web":
        for module in ("fastapi", "uvicorn", "httpx"):
            importlib.import_module(module)
    else:
        raise SystemExit(f"unknown extra {extra!r}")
    print(f"{extra}: ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
