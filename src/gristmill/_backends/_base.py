"""The contract every executor backend fulfils."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any, Protocol

__all__ = ["Backend", "check_options"]


class Backend(Protocol):
    """How to build one pool of workers, and what its payloads need.

    Attributes:
        name: The value users pass as ``backend=``.
        payloads_cross_process: Calls and results are pickled on their way to
            and from the workers, so the grinder pre-pickles chunks and turns an
            unpicklable item into an error for that item alone.
        can_kill_workers: ``kill_workers`` really stops running work, so a
            revoked or broken pool does not keep burning CPU.
    """

    name: str
    payloads_cross_process: bool
    can_kill_workers: bool
    accepted_options: frozenset[str]

    def dumps(self, obj: Any) -> bytes:
        """Pickle a chunk of calls for the workers (used when ``payloads_cross_process``).

        Workers read it back with :func:`pickle.loads`, so a serializer that
        pickles more than the stdlib (cloudpickle) works as long as the workers
        can import it.
        """

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build one executor with ``workers`` workers, labelled ``name``."""

    def kill_workers(self, executor: Executor) -> None:
        """Stop the executor's workers now, abandoning whatever they run."""

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Do now, off the event loop, the start-up work a first ``submit`` would do.

        Blocking: the manager runs it in a worker thread for the pools it
        creates in ``start()``. ``workers`` and ``options`` are what
        ``executor`` was created with. Best effort: a backend with nothing to
        warm does nothing, and an error only means the work happens later.
        """


def check_options(backend: Backend, options: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` for an executor keyword the backend does not take."""
    if "max_workers" in options:
        raise TypeError("max_workers is set by workers_per_pool; pass workers_per_pool instead")
    unknown = sorted(set(options) - backend.accepted_options)
    if unknown:
        accepted = ", ".join(sorted(backend.accepted_options)) or "none"
        raise TypeError(
            f"backend {backend.name!r} does not accept executor option(s) "
            f"{', '.join(unknown)}; it accepts: {accepted}"
        )
