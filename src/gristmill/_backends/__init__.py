"""Executor backends: one small module each, looked up by name here."""

from __future__ import annotations

import enum
import sys

from .._errors import UnsupportedBackendError
from ._base import Backend, check_options
from .interpreter import InterpreterBackend, interpreter_pool_available
from .process import ProcessBackend, default_mp_context
from .thread import ThreadBackend

__all__ = [
    "Backend",
    "ExecutorBackend",
    "check_options",
    "default_mp_context",
    "resolve_backend",
]


class ExecutorBackend(enum.StrEnum):
    """The built-in kinds of executor pool. Plain strings work as well."""

    THREAD = "thread"
    PROCESS = "process"
    INTERPRETER = "interpreter"


_BUILTIN: dict[str, Backend] = {
    ExecutorBackend.THREAD: ThreadBackend(),
    ExecutorBackend.PROCESS: ProcessBackend(),
    ExecutorBackend.INTERPRETER: InterpreterBackend(),
}


def resolve_backend(name: str) -> tuple[ExecutorBackend, Backend]:
    """Map a backend name (in any letter case, like leasepool) to its member and implementation.

    Raises:
        UnsupportedBackendError: the name is unknown, or the backend needs a
            newer Python than this one.
    """
    try:
        member = ExecutorBackend(name.lower() if isinstance(name, str) else name)
    except ValueError:
        known = ", ".join(member.value for member in ExecutorBackend)
        raise UnsupportedBackendError(
            f"unsupported backend {name!r}; choose one of: {known}"
        ) from None
    if member is ExecutorBackend.INTERPRETER and not interpreter_pool_available():
        raise UnsupportedBackendError(
            "backend 'interpreter' needs Python 3.14+ (InterpreterPoolExecutor); "
            f"this is {sys.version.split()[0]}. Use 'process' instead."
        )
    return member, _BUILTIN[member]
