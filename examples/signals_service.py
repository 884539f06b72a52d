"""A long-running service: SIGTERM drains what it accepted, Ctrl-C stops at once.

A supervisor (systemd, Kubernetes, ``docker stop``) stops a service with
SIGTERM and gives it some seconds before SIGKILL. Here SIGTERM makes the
service stop taking requests and drain its grinder with a deadline:
``stop(timeout=DRAIN_SECONDS)`` still runs every job it accepted, and cancels
whatever is unfinished when the deadline passes. Without a handler, SIGTERM
would end Python at once, skipping every ``finally`` block.

Ctrl-C (SIGINT) under ``asyncio.run`` cancels the service instead: the
``async with`` blocks exit on that cancellation and stop at once, killing the
process workers that still run jobs.

Run from the repository root, then press Ctrl-C, or send SIGTERM from another
shell (``kill <pid>``, the pid is printed)::

    .venv/bin/python examples/signals_service.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

import _jobs
from gristmill import LeasedExecutorManager, WorkGrinder

DRAIN_SECONDS = 5.0
REQUEST_INTERVAL = 0.02  # one request every 20 ms
JOB_SECONDS = 0.01  # each request does 10 ms of CPU work


async def serve() -> None:
    terminate = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate.set)
    async with (
        LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2) as manager,
        WorkGrinder(
            executor_manager=manager, max_wait_seconds=0.005, batch_size_threshold=8
        ) as grinder,
    ):
        print(f"serving, pid {os.getpid()}", flush=True)
        requests: list[asyncio.Future[float]] = []
        while not terminate.is_set():  # stands in for a server's accept loop
            requests.append(await grinder.enqueue(_jobs.burn_cpu, JOB_SECONDS))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(terminate.wait(), REQUEST_INTERVAL)
        print(f"SIGTERM: no new requests, draining for at most {DRAIN_SECONDS} s", flush=True)
        await grinder.stop(timeout=DRAIN_SECONDS)
        answered = sum(not r.cancelled() and r.exception() is None for r in requests)
        print(f"drained: {answered} of {len(requests)} requests answered", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        print("interrupted: pending jobs cancelled, workers stopped", file=sys.stderr)
        sys.exit(130)
