"""Picklable job functions used by every benchmark scenario.

Every job returns its argument unchanged so the harness can check that each
result reached the right future. They live at module top level so that
process-pool workers (fork, forkserver or spawn) can import them by name.

The CPU jobs spin a pure-Python ``for`` loop. The loop counts below were
calibrated once on the reference machine (2-core AMD EPYC, CPython 3.11.7),
where one iteration of :func:`_spin` costs about 35 ns:

* ``CPU_SMALL_LOOPS = 760``      -> about 25 us per call
* ``CPU_MEDIUM_LOOPS = 140_000``  -> about 5 ms per call

Re-check them on another machine with ``python -m benchmarks.jobs``.
"""

from __future__ import annotations

import statistics
import time

CPU_SMALL_LOOPS = 760
CPU_MEDIUM_LOOPS = 140_000


def _spin(loops: int) -> int:
    """Burn CPU in a pure-Python loop of ``loops`` iterations."""
    acc = 0
    for i in range(loops):
        acc += i
    return acc


def identity(x: int) -> int:
    """Return ``x``: measures pure dispatch overhead."""
    return x


def sleep_1ms(x: int) -> int:
    """Sleep 1 ms (releases the GIL), then return ``x``."""
    time.sleep(0.001)
    return x


def sleep_10ms(x: int) -> int:
    """Sleep 10 ms (releases the GIL), then return ``x``."""
    time.sleep(0.01)
    return x


def cpu_small(x: int) -> int:
    """Spin about 25 us of pure-Python CPU work, then return ``x``."""
    _spin(CPU_SMALL_LOOPS)
    return x


def cpu_medium(x: int) -> int:
    """Spin about 5 ms of pure-Python CPU work, then return ``x``."""
    _spin(CPU_MEDIUM_LOOPS)
    return x


def time_per_call(loops: int, calls: int, rounds: int = 7) -> float:
    """Return the median over ``rounds`` of the mean seconds per ``_spin(loops)``."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            _spin(loops)
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def main() -> None:
    """Print the measured cost of the CPU jobs on this machine."""
    small = time_per_call(CPU_SMALL_LOOPS, 2000)
    medium = time_per_call(CPU_MEDIUM_LOOPS, 20)
    print(f"cpu_small  ({CPU_SMALL_LOOPS} loops): {small * 1e6:.1f} us (target 25 us)")
    print(f"cpu_medium ({CPU_MEDIUM_LOOPS} loops): {medium * 1e3:.2f} ms (target 5 ms)")


if __name__ == "__main__":
    main()
