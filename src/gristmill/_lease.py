"""The lease handle callers hold, and the executor proxy it hands out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, final

from ._bridge import wrap_call
from ._errors import LeaseExpiredError

if TYPE_CHECKING:
    from types import TracebackType

    from ._clock import Clock
    from ._pool import Pool

__all__ = ["ExecutorLease", "LeaseHost", "LeasedExecutor"]

P = ParamSpec("P")
T = TypeVar("T")


class LeaseHost(Protocol):
    """What a lease needs from its manager: a way to give itself back (owning loop only)."""

    def _release_lease(self, lease: ExecutorLease) -> None: ...

    def _retire_lease(self, lease: ExecutorLease) -> None: ...


@final
class LeasedExecutor(Executor):
    """The executor a lease lends out: submits go through the lease's gate.

    ``submit`` works only while the lease is live, from any thread; ``map`` is
    built on it. ``shutdown`` is refused, because the pool belongs to the
    manager: release the lease instead.
    """

    __slots__ = ("_lease",)

    def __init__(self, lease: ExecutorLease) -> None:
        self._lease = lease

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)`` on the leased pool.

        Raises:
            LeaseExpiredError: the lease was released, has passed its hard
                expiry, or its executor broke.
        """
        return self._lease._submit(fn, args, kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse: a leased executor is shut down by its manager, never by a borrower."""
        raise RuntimeError(
            "Do not shut down a leased executor: it belongs to its manager; "
            "return it with `await lease.release()`"
        )


@final
class ExecutorLease:
    """A time-limited loan of one executor pool.

    Think of a library book: you may use it until the due date
    (``soft_expires_at``); the library tolerates a grace period, and after
    ``hard_expires_at`` it takes the book back. A revoked pool is retired and
    replaced, never lent again, because the borrower's work may still be
    running on it.

    Attributes:
        lease_id: Unique within the manager.
        owner: Free-form label given to ``acquire()``, for logs and stats.
        lease_seconds: The agreed loan length.
        grace_seconds: Extra time before the lease is revoked.
        leased_at: Clock time at which the lease was granted.
        executor: The proxy to submit work through.
    """

    __slots__ = (
        "_clock",
        "_host",
        "_pool",
        "executor",
        "grace_seconds",
        "lease_id",
        "lease_seconds",
        "leased_at",
        "owner",
    )

    def __init__(
        self,
        *,
        host: LeaseHost,
        pool: Pool,
        clock: Clock,
        lease_id: str,
        owner: str | None,
        lease_seconds: float,
        grace_seconds: float,
        leased_at: float,
    ) -> None:
        self._host = host
        self._pool = pool
        self._clock = clock
        self.lease_id = lease_id
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.grace_seconds = grace_seconds
        self.leased_at = leased_at
        self.executor: Executor = LeasedExecutor(self)

    @property
    def pool_name(self) -> str:
        """The name of the pool this lease covers, as logs, hooks and ``stats()`` show it."""
        return self._pool.name

    @property
    def soft_expires_at(self) -> float:
        """Clock time at which the lease is due back."""
        return self.leased_at + self.lease_seconds

    @property
    def hard_expires_at(self) -> float:
        """Clock time after which the lease is revoked and its pool retired."""
        return self.leased_at + self.lease_seconds + self.grace_seconds

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the leased executor and return its result.

        Owning loop only. Cancelling the await cancels the call if it has not
        started yet.

        Raises:
            LeaseExpiredError: the lease is no longer live.
            RuntimeError: ``fn`` raised ``StopIteration`` (the ``__cause__``),
                which an asyncio future cannot carry.
        """
        future = self._submit(fn, args, kwargs)
        try:
            return await wrap_call(future, fn, asyncio.get_running_loop())
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def release(self) -> None:
        """Give the pool back. Idempotent; owning loop only.

        Work still running on the pool is drained before the pool is lent again.
        """
        self._host._release_lease(self)

    async def retire(self) -> None:
        """Give the pool back as unfit: kill its workers now and replace it. Owning loop only.

        For work that must be stopped, such as a job stuck past its time: the
        workers are killed where the backend can (process pools), whatever
        they run is abandoned (its futures fail with ``BrokenProcessPool``,
        queued ones are cancelled), and the pool is never lent again. The
        lease ends, as with :meth:`release`; calling either again is a no-op.
        """
        self._host._retire_lease(self)

    async def __aenter__(self) -> ExecutorLease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()

    def __repr__(self) -> str:
        pool = self._pool
        if not pool.held_by(self):
            return f"<ExecutorLease {self.lease_id} ended owner={self.owner!r} pool={pool.name}>"
        state = "overdue" if self._clock.time() >= self.soft_expires_at else "live"
        return (
            f"<ExecutorLease {self.lease_id} {state} owner={self.owner!r} "
            f"in_flight={pool.inflight} pool={pool.name}>"
        )

    def _submit(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[T]:
        if self._clock.time() >= self.hard_expires_at:
            raise LeaseExpiredError(
                f"lease {self.lease_id} expired: it passed its hard expiry and is revoked; "
                "acquire a new lease"
            )
        return self._pool.submit(self, fn, args, kwargs)
