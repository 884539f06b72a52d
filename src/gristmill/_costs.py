"""How long a job takes to run, learned per callable from finished chunks.

The grinder sizes chunks from this estimate (see :func:`~gristmill._batching.chunk_sizes`).
It is kept per callable because one grinder often serves several kinds of job: a
microsecond lookup and a five-millisecond computation must not share one
average. Lambdas and closures made afresh on every call share their code object,
so they share one entry too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._job import Job

__all__ = ["RunTimes"]

_MAX_ENTRIES = 256
_WEIGHT = 0.3  # of each new measurement: follows a change within a few chunks


def _key(fn: Any) -> object:
    return getattr(fn, "__code__", fn)


class RunTimes:
    """Recent run time per job, by callable. Owning loop only."""

    __slots__ = ("_seconds",)

    def __init__(self) -> None:
        self._seconds: dict[object, float] = {}

    def estimate(self, jobs: Iterable[Job]) -> float | None:
        """Return the expected run time per job, or ``None`` if any callable is new.

        With several callables in the batch this is the mean over the callables,
        not weighted by how many jobs each has: a cheap guide for chunk sizes.
        """
        seconds = self._seconds
        known = [seconds.get(_key(fn)) for fn in {job.fn for job in jobs}]
        if not known or None in known:
            return None
        return sum(value for value in known if value is not None) / len(known)

    def observe(self, jobs: list[Job], elapsed: float) -> None:
        """Record that ``jobs`` ran, one after another, in ``elapsed`` seconds."""
        if not jobs:
            return
        per_job = elapsed / len(jobs)
        seconds = self._seconds
        if len(seconds) >= _MAX_ENTRIES:
            seconds.clear()
        for key in {_key(fn) for fn in {job.fn for job in jobs}}:
            previous = seconds.get(key)
            seconds[key] = (
                per_job if previous is None else previous + _WEIGHT * (per_job - previous)
            )
