"""What the grinder needs from a manager and from the leases it lends.

Two small protocols, so the grinder depends on behaviour, not on
:class:`~gristmill.LeasedExecutorManager`: tests drive it with a fake source,
and any manager that fits can feed it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from ._progress import ProgressBoard

__all__ = ["LeaseLike", "LeaseSource", "pool_name"]


class LeaseLike(Protocol):
    """What a batch needs from a lease: an executor, its expiry, and ways back."""

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


def pool_name(lease: LeaseLike) -> str | None:
    """The name of the pool behind ``lease``, for logs and spans, if it has a ``pool_name``.

    Optional, so that a lease source of your own need not name its pools.
    """
    name = getattr(lease, "pool_name", None)
    return name if isinstance(name, str) else None


class LeaseSource(Protocol):
    """What the grinder needs from a manager; ``LeasedExecutorManager`` fits."""

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

    async def acquire(
        self,
        *,
        lease_seconds: float | None = None,
        owner: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> LeaseLike:
        """Lend one executor as a :class:`LeaseLike`."""
