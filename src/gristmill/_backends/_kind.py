"""The built-in kinds of executor pool, as an enum."""

from __future__ import annotations

import enum

from ._base import Backend

__all__ = ["ExecutorBackend", "backend_kind"]


class ExecutorBackend(enum.StrEnum):
    """The built-in kinds of executor pool. Plain strings work as well."""

    THREAD = "thread"
    PROCESS = "process"
    INTERPRETER = "interpreter"


def backend_kind(backend: Backend) -> ExecutorBackend | str:
    """Return the :class:`ExecutorBackend` member named like ``backend``, else its name."""
    try:
        return ExecutorBackend(backend.name)
    except ValueError:
        return backend.name
