"""leasepool's backend helpers: one executor of a built-in kind, without a manager.

``normalize_backend`` turns a name into an :class:`ExecutorBackend`,
``resolve_executor_cls`` gives the executor class behind it, and
``build_executor`` builds one executor as a manager would, through the same
backend classes, so its threads are named alike and its process workers use
the same start method.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from .. import _validate as validate
from .._errors import UnsupportedBackendError
from ._base import Backend
from ._kind import ExecutorBackend
from ._registry import available_backends
from .interpreter import InterpreterBackend, interpreter_missing
from .process import ProcessBackend
from .thread import ThreadBackend

__all__ = ["build_executor", "normalize_backend", "resolve_executor_cls"]

_KINDS = ", ".join(kind.value for kind in ExecutorBackend)


def normalize_backend(backend: ExecutorBackend | str) -> ExecutorBackend:
    """Return the built-in kind that ``backend`` names, in any letter case.

    Any thread. ``"THREAD"`` and ``ExecutorBackend.THREAD`` both give
    ``ExecutorBackend.THREAD``. Whether the kind can run on this Python is
    not checked here (see :func:`resolve_executor_cls`).

    Raises:
        UnsupportedBackendError: ``backend`` names no built-in kind (it is also
            a ``ValueError``). Backends added with ``register_backend`` (and
            ``loky``, ``dask``) are not built-in kinds: pass their names to
            ``LeasedExecutorManager(backend=...)`` instead.
    """
    if isinstance(backend, ExecutorBackend):
        return backend
    if isinstance(backend, str):
        try:
            return ExecutorBackend(backend.lower())
        except ValueError:
            pass
        if backend.lower() in available_backends():
            raise UnsupportedBackendError(
                f"Unsupported backend {backend!r} for these helpers, which build the built-in "
                f"kinds ({_KINDS}) only; pass backend={backend!r} to LeasedExecutorManager"
            )
    raise UnsupportedBackendError(
        f"Unsupported backend {backend!r}; choose one of: {_KINDS} (in any letter case), "
        "or an ExecutorBackend member"
    )


def resolve_executor_cls(backend: ExecutorBackend | str) -> type[Executor]:
    """Return the executor class of the built-in kind ``backend`` names. Any thread.

    ``ThreadPoolExecutor``, ``ProcessPoolExecutor``, or (Python 3.14+)
    ``InterpreterPoolExecutor``.

    Raises:
        UnsupportedBackendError: ``backend`` names no built-in kind, or it
            names ``interpreter`` on a Python older than 3.14.
    """
    kind = normalize_backend(backend)
    if kind is ExecutorBackend.THREAD:
        return ThreadPoolExecutor
    if kind is ExecutorBackend.PROCESS:
        return ProcessPoolExecutor
    reason = interpreter_missing()
    if reason is not None:
        raise UnsupportedBackendError(reason)
    interpreter_cls: type[Executor] = getattr(concurrent.futures, "InterpreterPoolExecutor")  # noqa: B009
    return interpreter_cls


def build_executor(
    *,
    backend: ExecutorBackend | str,
    max_workers: int,
    name_prefix: str,
    executor_seq: int,
    executor_kwargs: Mapping[str, Any],
) -> Executor:
    """Build one executor of a built-in kind, the way a manager builds each pool.

    Any thread. The caller owns the executor and shuts it down. Thread and
    interpreter workers are named ``<name_prefix>-<executor_seq>_<n>`` unless
    ``executor_kwargs`` gives a ``thread_name_prefix``. A process pool starts
    its workers with ``forkserver`` (``spawn`` where that is missing) unless
    ``executor_kwargs`` gives an ``mp_context``, as the manager's pools do;
    pass ``mp_context=multiprocessing.get_context("fork")`` for fork.

    Args:
        backend: The built-in kind, by name (any letter case) or member.
        max_workers: Threads, processes or interpreters in the pool.
        name_prefix: First part of the worker thread names.
        executor_seq: Number of this executor, the second part of the names.
        executor_kwargs: Other keywords for the executor class, passed as
            they are (``initializer``, ``initargs``, ``mp_context``, ...).

    Raises:
        UnsupportedBackendError: as :func:`resolve_executor_cls`.
        ValueError: ``max_workers`` is not a whole number > 0.
        WrongTypeError: ``max_workers`` is not a number.
        TypeError: the executor class refused one of ``executor_kwargs``.
    """
    kind = normalize_backend(backend)
    resolve_executor_cls(kind)  # refuses a kind this Python cannot run
    workers = validate.positive_int("max_workers", max_workers)
    options = dict(executor_kwargs)
    name = f"{name_prefix}-{executor_seq}"
    if kind is not ExecutorBackend.PROCESS:
        name = options.pop("thread_name_prefix", name)
    return _backend_of(kind).create(workers=workers, name=name, options=options)


def _backend_of(kind: ExecutorBackend) -> Backend:
    if kind is ExecutorBackend.THREAD:
        return ThreadBackend()
    if kind is ExecutorBackend.PROCESS:
        return ProcessBackend()
    return InterpreterBackend()
