"""How long a job takes to run, learned per callable from finished chunks.

The grinder sizes chunks from this estimate (see :func:`~gristmill._batching.chunk_sizes`).
It is kept per callable because one grinder often serves several kinds of job: a
microsecond lookup and a five-millisecond computation must not share one
average.

The table never hashes, compares or holds on to a user's object, since any
callable may be submitted (an unhashable ``@dataclass`` with ``__call__``, an
object whose ``__hash__`` or ``__getattr__`` raises). A Python function is
known by its code object, so lambdas and closures made afresh on every call
share one entry; bound methods and ``functools.partial`` objects are seen
through to what they wrap; a builtin by its owner's type and its name; any
other callable by its class.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any

from ._job import Job

__all__ = ["RunTimes"]

_MAX_ENTRIES = 256
_WEIGHT = 0.3  # of each new measurement: follows a change within a few chunks
_MAX_UNWRAP = 8  # bound methods and partials looked through; a deeper nest is keyed by its class


def _key(fn: Any) -> object:
    """Return the table key of ``fn``, read from types and C-level fields only.

    Raises:
        Exception: only from a hostile metaclass (one whose ``__hash__`` raises
            would raise later, at the lookup); :class:`RunTimes` guards both.
    """
    for _ in range(_MAX_UNWRAP):
        kind = type(fn)
        if kind is FunctionType:
            return fn.__code__
        if kind is MethodType:
            fn = fn.__func__
        elif kind is partial:
            fn = fn.func
        elif kind is BuiltinFunctionType:
            return (type(fn.__self__), fn.__name__)
        else:
            return kind
    return type(fn)


def _keys(jobs: Iterable[Job]) -> set[object]:
    """The distinct keys of the jobs' callables, found without hashing a user's object."""
    keys: set[object] = set()
    last: object = keys  # never a job's callable
    for job in jobs:  # runs of one callable are the common case: compared by identity only
        fn = job.fn
        if fn is not last:
            last = fn
            keys.add(_key(fn))
    return keys


class RunTimes:
    """Recent run time per job, by callable. Owning loop only; never raises."""

    __slots__ = ("_seconds",)

    def __init__(self) -> None:
        self._seconds: dict[object, float] = {}

    def estimate(self, jobs: Iterable[Job]) -> float | None:
        """Return the expected run time per job, or ``None`` if any callable is new.

        With several callables in the batch this is the mean over the callables,
        not weighted by how many jobs each has: a cheap guide for chunk sizes.
        """
        seconds = self._seconds
        try:
            known = [seconds.get(key) for key in _keys(jobs)]
        except Exception:  # a hostile metaclass: estimate nothing rather than fail the batch
            return None
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
        try:
            for key in _keys(jobs):
                previous = seconds.get(key)
                seconds[key] = (
                    per_job if previous is None else previous + _WEIGHT * (per_job - previous)
                )
        except Exception:  # a hostile metaclass: learn nothing more from this chunk
            return
