"""The leases a grinder has out, so that a stop cut short can take them back by force.

The grinder's engine borrows through :class:`HeldLeases` instead of through the
manager itself. It passes every call through and remembers each lease until the
batch gives it back. When a ``stop()`` is cut short by a cancellation (Ctrl-C
under ``asyncio.run``), the grinder retires every lease still out: the pools'
process workers are killed and the work they were running is abandoned, rather
than waited for. A plain ``stop(cancel_pending=True)`` does not do this; its
running work finishes on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, final

from ._progress import ProgressBoard
from ._source import LeaseLike, LeaseSource

__all__ = ["HeldLeases"]


@final
class HeldLeases:
    """A :class:`~gristmill.LeaseSource` that remembers the leases it lent. Owning loop only.

    Attributes a manager may or may not offer (a duck-typed source that only
    has ``acquire()``) are passed through as they are, missing ones included.
    """

    __slots__ = ("_out", "_source")

    def __init__(self, source: LeaseSource) -> None:
        self._source = source
        self._out: set[_HeldLease] = set()

    @property
    def max_pools(self) -> int:
        """The source's ``max_pools``."""
        return self._source.max_pools

    @property
    def workers_per_pool(self) -> int:
        """The source's ``workers_per_pool``."""
        return self._source.workers_per_pool

    @property
    def payloads_cross_process(self) -> bool:
        """The source's ``payloads_cross_process``."""
        return self._source.payloads_cross_process

    @property
    def payload_dumps(self) -> Callable[[Any], bytes]:
        """The source's ``payload_dumps``."""
        return self._source.payload_dumps

    @property
    def supports_run_timeout(self) -> bool:
        """The source's ``supports_run_timeout``."""
        return self._source.supports_run_timeout

    @property
    def progress_board(self) -> ProgressBoard | None:
        """The source's ``progress_board``."""
        return self._source.progress_board

    def __getattr__(self, name: str) -> Any:
        # Anything else the source offers (or lacks) shows through unchanged.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._source, name)

    async def acquire(self, **options: Any) -> LeaseLike:
        """Borrow from the source, with the same keywords, and remember the lease."""
        held = _HeldLease(await self._source.acquire(**options), self._out)
        self._out.add(held)
        return held

    async def retire_all(self) -> None:
        """Retire every lease still out: process workers are killed, their work abandoned."""
        for held in list(self._out):
            await held.retire()


@final
class _HeldLease:
    """A lent lease that forgets itself in its source once it is given back."""

    __slots__ = ("_lease", "_out")

    def __init__(self, lease: LeaseLike, out: set[_HeldLease]) -> None:
        self._lease = lease
        self._out = out

    @property
    def executor(self) -> Executor:
        """The lease's executor."""
        return self._lease.executor

    @property
    def hard_expires_at(self) -> float:
        """The lease's hard expiry."""
        return self._lease.hard_expires_at

    async def release(self) -> None:
        """Give the lease back."""
        self._out.discard(self)
        await self._lease.release()

    async def retire(self) -> None:
        """Give the lease back as unfit."""
        self._out.discard(self)
        await self._lease.retire()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._lease, name)

    def __repr__(self) -> str:
        return f"<held {self._lease!r}>"
