"""What the grinder needs from a manager, and how it fills in what a manager leaves out.

The grinder needs one thing: an object whose ``acquire()`` lends a lease with
an ``executor`` and an async ``release()`` (:class:`LeaseSource`). It reads a
few more traits when they are there, and :func:`resolve_source`, the one place
that knows the fallbacks, supplies the rest::

    trait of the manager       when the manager has none
    max_pools                  1: one batch at a time, as leasepool's grinder ran
    workers_per_pool           1: chunks are cut for a single worker
    payloads_cross_process     False: calls reach the executor as they are
    payload_dumps              pickle.dumps at the highest protocol
    supports_run_timeout       False: run_timeout_seconds is refused
    progress_board             None: no view of which item a worker runs
    clock                      None: the grinder's clock= or the monotonic clock
    running                    True: grinder.start() takes the manager as started

    trait of each lease        when the lease has none
    hard_expires_at            +inf: the lease is never taken to be revoked
    retire()                   release(): the workers cannot be killed

So a test fake with just ``acquire()``, or a manager of your own, feeds a
grinder as well as :class:`~gristmill.LeasedExecutorManager` does (which has
every trait). A manager that lends process pools should say
``payloads_cross_process = True``: the grinder then pickles each chunk of
calls itself, as the executor would need.

The resolved source also remembers every lease it lent until the batch gives
it back, so that a ``stop()`` cut short by a cancellation (Ctrl-C) can retire
them all at once, killing their process workers instead of waiting for them.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._errors import WrongTypeError
from ._progress import ProgressBoard

if TYPE_CHECKING:
    from ._clock import Clock

__all__ = [
    "BasicLease",
    "GrinderSource",
    "LeaseLike",
    "LeaseSource",
    "pool_name",
    "resolve_source",
]


class BasicLease(Protocol):
    """What a lease must offer the grinder: an executor, and a way back."""

    @property
    def executor(self) -> Executor:
        """Where the batch submits its chunks."""

    async def release(self) -> None:
        """Give the pool back once the batch has settled; idempotent."""


class LeaseSource(Protocol):
    """What the grinder needs from a manager: ``acquire()``. ``LeasedExecutorManager`` fits.

    Any object with this method works, a test fake included. The grinder also
    reads ``max_pools``, ``workers_per_pool``, ``payloads_cross_process``,
    ``payload_dumps``, ``supports_run_timeout``, ``progress_board`` and
    ``clock`` where the object has them; each one it lacks has a fallback
    (``max_pools``: 1, so one batch runs at a time). A lease may likewise
    leave out ``hard_expires_at`` and ``retire()``. The fallbacks are listed
    in ``docs/migrating.md``.
    """

    async def acquire(self, *, lease_seconds: float, owner: str) -> BasicLease:
        """Lend one executor for ``lease_seconds``, labelled ``owner``; wait for one if need be."""


class LeaseLike(Protocol):
    """A lease as a batch uses it: every trait present (see :func:`resolve_source`)."""

    @property
    def executor(self) -> Executor:
        """Where the batch submits its chunks."""

    @property
    def hard_expires_at(self) -> float:
        """Clock time at which the lease is revoked; a chunk lost after it was revoked."""

    async def release(self) -> None:
        """Give the pool back once the batch has settled; idempotent."""

    async def retire(self) -> None:
        """Give the pool back as unfit: kill its workers (for a run timeout); idempotent."""


class GrinderSource(Protocol):
    """A manager as the grinder uses it: every trait present (see :func:`resolve_source`)."""

    @property
    def max_pools(self) -> int:
        """How many leases can be out at once: the default batch concurrency."""

    @property
    def workers_per_pool(self) -> int:
        """Workers behind each lease, used to size a batch's chunks."""

    @property
    def payloads_cross_process(self) -> bool:
        """Whether calls are pickled to reach the workers, so chunks travel pre-pickled."""

    @property
    def payload_dumps(self) -> Callable[[Any], bytes]:
        """How chunks are pickled when ``payloads_cross_process``."""

    @property
    def supports_run_timeout(self) -> bool:
        """Whether a job that overruns its run timeout can be found and stopped."""

    @property
    def progress_board(self) -> ProgressBoard | None:
        """Where process workers post which item they run; ``None`` before start or for threads."""

    @property
    def clock(self) -> Clock | None:
        """The manager's time source, if it has one."""

    @property
    def running(self) -> bool:
        """Whether the manager says it has started (True if it cannot say)."""

    async def acquire(self, *, lease_seconds: float, owner: str) -> LeaseLike:
        """Lend one executor as a :class:`LeaseLike`."""

    async def retire_all(self) -> None:
        """Retire every lease still out: process workers are killed, their work abandoned."""


def pool_name(lease: object) -> str | None:
    """The name of the pool behind ``lease``, for logs and spans, if it has a ``pool_name``.

    Optional, so that a lease source of your own need not name its pools.
    """
    name = getattr(lease, "pool_name", None)
    return name if isinstance(name, str) else None


def resolve_source(manager: object) -> GrinderSource:
    """Return ``manager`` as the grinder sees it, each missing trait filled in.

    Traits are read when the grinder needs them, not copied, so one that
    changes (``progress_board`` is set by the manager's ``start()``) is seen.

    Raises:
        WrongTypeError: ``manager`` has no callable ``acquire``.
    """
    if not callable(getattr(manager, "acquire", None)):
        raise WrongTypeError(
            "executor_manager must have an async acquire() method that lends a lease "
            f"(a LeasedExecutorManager, or an object of your own), got {type(manager).__name__}"
        )
    return _Resolved(manager)


def _pickle(obj: Any) -> bytes:
    return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)


class _Resolved:
    """A manager with the fallbacks of the module docstring behind each trait."""

    __slots__ = ("_manager", "_out")

    def __init__(self, manager: object) -> None:
        self._manager = manager
        self._out: set[_HeldLease] = set()

    @property
    def max_pools(self) -> int:
        return cast(int, getattr(self._manager, "max_pools", 1))

    @property
    def workers_per_pool(self) -> int:
        return cast(int, getattr(self._manager, "workers_per_pool", 1))

    @property
    def payloads_cross_process(self) -> bool:
        return bool(getattr(self._manager, "payloads_cross_process", False))

    @property
    def payload_dumps(self) -> Callable[[Any], bytes]:
        return cast("Callable[[Any], bytes]", getattr(self._manager, "payload_dumps", _pickle))

    @property
    def supports_run_timeout(self) -> bool:
        return bool(getattr(self._manager, "supports_run_timeout", False))

    @property
    def progress_board(self) -> ProgressBoard | None:
        return cast("ProgressBoard | None", getattr(self._manager, "progress_board", None))

    @property
    def clock(self) -> Clock | None:
        return cast("Clock | None", getattr(self._manager, "clock", None))

    @property
    def running(self) -> bool:
        return getattr(self._manager, "running", True) is not False

    async def acquire(self, *, lease_seconds: float, owner: str) -> LeaseLike:
        source = cast(LeaseSource, self._manager)
        held = _HeldLease(await source.acquire(lease_seconds=lease_seconds, owner=owner), self._out)
        self._out.add(held)
        return held

    async def retire_all(self) -> None:
        for held in list(self._out):
            await held.retire()


class _HeldLease:
    """A lent lease, with the fallbacks of the module docstring for what it lacks.

    It forgets itself in its source's set of leases out once it is given back.
    """

    __slots__ = ("_lease", "_out")

    def __init__(self, lease: BasicLease, out: set[_HeldLease]) -> None:
        self._lease = lease
        self._out = out

    @property
    def executor(self) -> Executor:
        return self._lease.executor

    @property
    def hard_expires_at(self) -> float:
        return cast(float, getattr(self._lease, "hard_expires_at", math.inf))

    @property
    def pool_name(self) -> str | None:
        return pool_name(self._lease)

    async def release(self) -> None:
        self._out.discard(self)
        await self._lease.release()

    async def retire(self) -> None:
        self._out.discard(self)
        retire = getattr(self._lease, "retire", None)
        await (retire() if retire is not None else self._lease.release())

    def __repr__(self) -> str:
        return f"<held {self._lease!r}>"
