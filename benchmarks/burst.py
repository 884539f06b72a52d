"""One noop-thread burst in this process, for counting instructions per item under callgrind.

The fresh-process harness measures CPU time, which on a shared 2-vCPU VM moves
by ±10% from run to run; an instruction count moves by about ±1%. Per item is
the difference between a large and a small burst, so start-up cancels out::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python -m benchmarks.burst 20000     # and again with 2000

Options come from the environment, like the harness's: ``GRISTMILL_BENCH_CONTEXT=set``
sets a context variable in the enqueuing task; ``GRISTMILL_BENCH_TRACING=api|sdk``
turns tracing on (see :func:`benchmarks.systems.grinder_harness`).
"""

from __future__ import annotations

import asyncio
import sys

from benchmarks.scenarios import SCENARIOS
from benchmarks.systems import grinder_harness


def identity(x: int) -> int:
    return x


async def burst(count: int) -> None:
    """Enqueue ``count`` no-op items as fast as possible, then await each."""
    async with grinder_harness("gristmill", SCENARIOS["noop-thread"]) as harness:
        for size in (16, count):  # the first burst makes the pools
            futures = [await harness.enqueue(identity, i) for i in range(size)]
            for future in futures:
                await future


if __name__ == "__main__":
    asyncio.run(burst(int(sys.argv[1])))
