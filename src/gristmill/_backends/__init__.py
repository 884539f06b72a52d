"""Executor backends: one small module each, registered by name in one registry.

The built-ins register here through the same :func:`add_backend` that
:func:`gristmill.register_backend` uses. ``loky`` and ``dask`` are registered lazily:
their modules (and the loky and distributed packages) are imported only when a
manager asks for them.
"""

from __future__ import annotations

import importlib.util

from .._errors import UnsupportedBackendError
from ._base import Backend, check_options
from ._kind import ExecutorBackend, backend_kind
from ._registry import (
    BackendFactory,
    add_backend,
    available_backends,
    register_backend,
    resolve_backend,
)
from ._standard import build_executor, normalize_backend, resolve_executor_cls
from .interpreter import InterpreterBackend, interpreter_missing
from .process import ProcessBackend, default_mp_context
from .thread import ThreadBackend

__all__ = [
    "Backend",
    "BackendFactory",
    "ExecutorBackend",
    "available_backends",
    "backend_kind",
    "build_executor",
    "check_options",
    "default_mp_context",
    "normalize_backend",
    "register_backend",
    "resolve_backend",
    "resolve_executor_cls",
]


def _loky_missing() -> str | None:
    if importlib.util.find_spec("loky") is not None:
        return None
    return "backend 'loky' needs the loky package; install it with: pip install 'gristmill[loky]'"


def _loky() -> Backend:
    try:
        from .loky import LokyBackend
    except ImportError as exc:  # installed, but broken (or its cloudpickle is missing)
        raise UnsupportedBackendError(
            f"backend 'loky' could not be imported ({exc}); reinstall it with: "
            "pip install 'gristmill[loky]'"
        ) from exc
    return LokyBackend()


add_backend(ExecutorBackend.THREAD.value, ThreadBackend)
add_backend(ExecutorBackend.PROCESS.value, ProcessBackend)
add_backend(ExecutorBackend.INTERPRETER.value, InterpreterBackend, missing=interpreter_missing)
add_backend("loky", _loky, missing=_loky_missing)


def _dask_missing() -> str | None:
    if importlib.util.find_spec("distributed") is not None:
        return None
    return (
        "backend 'dask' needs the distributed package; install it with: "
        "pip install 'gristmill[dask]'"
    )


def _dask() -> Backend:
    try:
        from .dask import DaskBackend
    except ImportError as exc:  # installed, but broken
        raise UnsupportedBackendError(
            f"backend 'dask' could not be imported ({exc}); reinstall it with: "
            "pip install 'gristmill[dask]'"
        ) from exc
    return DaskBackend()


add_backend("dask", _dask, missing=_dask_missing)
