"""CPU, memory and latency measurement used inside one benchmark cell.

CPU time covers this process (all threads, ``time.process_time``), every
live descendant (psutil, sampled before the pools shut down, so worker
processes are still alive; 10 ms tick resolution) and direct children reaped
during the measurement (``getrusage(RUSAGE_CHILDREN)``).

Peak RSS is this process's ``ru_maxrss`` plus the sum of every live
descendant's high-water mark (``VmHWM``); pages that forked workers share
with the parent are counted once per process.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

MIB = 1024 * 1024


def _descendants() -> list[Any]:
    """Return psutil handles for every live descendant of this process."""
    children: list[Any] = psutil.Process().children(recursive=True)
    return children


def _cpu_seconds(proc: Any) -> float | None:
    """Return user + system CPU seconds of ``proc``, or None if it is gone."""
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return None
    return float(times.user) + float(times.system)


def _peak_rss_bytes(proc: Any) -> int:
    """Return the RSS high-water mark of ``proc`` in bytes (0 if it is gone)."""
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def _system_busy_seconds() -> float:
    """Return machine-wide non-idle CPU seconds, counting hypervisor steal as busy."""
    times = psutil.cpu_times()
    idle = float(times.idle) + float(getattr(times, "iowait", 0.0))
    guest = float(getattr(times, "guest", 0.0)) + float(getattr(times, "guest_nice", 0.0))
    # On Linux guest time is already included in user/nice.
    return float(sum(times)) - idle - guest


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds consumed so far by this process and its descendants."""

    own: float
    reaped_children: float
    live_children: dict[int, float]
    system_busy: float
    at: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        """Sample the CPU counters now."""
        live: dict[int, float] = {}
        for proc in _descendants():
            seconds = _cpu_seconds(proc)
            if seconds is not None:
                live[int(proc.pid)] = seconds
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            own=time.process_time(),
            reaped_children=reaped.ru_utime + reaped.ru_stime,
            live_children=live,
            system_busy=_system_busy_seconds(),
            at=time.monotonic(),
        )

    def seconds_since(self, start: CpuSnapshot) -> float:
        """Return the CPU seconds spent between ``start`` and this snapshot."""
        children = sum(
            max(0.0, seconds - start.live_children.get(pid, 0.0))
            for pid, seconds in self.live_children.items()
        )
        return (self.own - start.own) + (self.reaped_children - start.reaped_children) + children

    def background_share_since(self, start: CpuSnapshot) -> float:
        """Return the share of all CPUs used by other processes since ``start``.

        Machine-wide busy time (plus time stolen by the hypervisor) minus this
        process tree's own CPU time, over wall time x CPU count. A share well
        above zero means something else competed for the CPUs and the figures
        of this run are suspect.
        """
        wall = (self.at - start.at) * (psutil.cpu_count() or 1)
        foreign = (self.system_busy - start.system_busy) - self.seconds_since(start)
        return max(0.0, foreign / wall) if wall > 0 else 0.0


def peak_rss_mib() -> float:
    """Return this process's peak RSS plus its live descendants' peaks, in MiB."""
    own_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = sum(_peak_rss_bytes(proc) for proc in _descendants())
    return (own_kib * 1024 + children) / MIB


def current_rss_bytes() -> int:
    """Return the current RSS of this process in bytes."""
    return int(psutil.Process().memory_info().rss)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile (``fraction`` in [0, 1]) of sorted data."""
    if not sorted_values:
        raise ValueError("percentile of no data")
    rank = min(len(sorted_values), max(1, math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]
