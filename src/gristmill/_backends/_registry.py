"""The backend registry: the names users pass as ``backend=``, each mapped to a factory.

A factory is a zero-argument callable returning a fresh :class:`Backend`; the
manager calls it once per manager, so every manager owns its instance. Names
are matched in any letter case. The registry is a process-wide table behind a
lock, so every function here may be called from any thread; factories and
availability checks run outside the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .._errors import UnsupportedBackendError
from ._base import Backend

__all__ = [
    "BackendFactory",
    "add_backend",
    "available_backends",
    "register_backend",
    "resolve_backend",
]

BackendFactory = Callable[[], Backend]
"""Returns a fresh :class:`Backend`, one per manager; cheap and side-effect free."""

Requirement = Callable[[], "str | None"]
"""Says why a backend cannot run on this interpreter or install, or returns None."""


def _always() -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    factory: BackendFactory
    missing: Requirement


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}


def register_backend(name: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make ``backend=name`` (in any letter case) build managers on ``factory()``.

    Any thread. Each manager built with this name calls ``factory`` once,
    when it is constructed, and owns the instance it returns.

    Args:
        name: The name users pass as ``backend=``; no spaces.
        factory: Zero-argument callable returning a fresh :class:`Backend`,
            for example the backend class itself.
        replace: Replace a backend already registered under ``name``
            (built-ins included) instead of refusing.

    Raises:
        TypeError: ``name`` is not a ``str`` or ``factory`` is not callable.
        ValueError: ``name`` is empty or contains whitespace, or is taken and
            ``replace`` is false.
    """
    add_backend(name, factory, replace=replace)


def add_backend(
    name: str, factory: BackendFactory, *, replace: bool = False, missing: Requirement = _always
) -> None:
    """:func:`register_backend`, plus ``missing``: why the backend cannot run here, if so.

    ``missing`` runs at every lookup and in :func:`available_backends`, so a
    backend whose package is absent stays listed by name but unusable.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__}")
    if not callable(factory):
        raise TypeError(
            f"factory for backend {name!r} must be a zero-argument callable returning a "
            f"Backend, got {type(factory).__name__}"
        )
    if not name or any(char.isspace() for char in name):
        raise ValueError(f"backend name must be non-empty and without spaces, got {name!r}")
    key = name.lower()
    with _lock:
        if key in _entries and not replace:
            raise ValueError(
                f"a backend named {key!r} is already registered; "
                "pass replace=True to replace it, or choose another name"
            )
        _entries[key] = _Entry(factory, missing)


def available_backends() -> list[str]:
    """Return the sorted names that ``backend=`` accepts on this interpreter and install.

    Any thread. A registered backend whose requirements are missing (the
    ``interpreter`` backend before Python 3.14, ``loky`` without its package)
    is left out.
    """
    with _lock:
        entries = list(_entries.items())
    return sorted(name for name, entry in entries if entry.missing() is None)


def resolve_backend(backend: object) -> Backend:
    """Return the backend a manager should own for its ``backend=`` argument.

    A name (any letter case, an :class:`ExecutorBackend` member included)
    gets a fresh instance from its factory; a :class:`Backend` instance is
    used as is.

    Raises:
        UnsupportedBackendError: the name is unknown, the backend cannot run
            here (the message says what it needs), or ``backend`` is neither
            a name nor a Backend.
        TypeError: the registered factory returned something that is not a
            Backend.
    """
    if isinstance(backend, str):
        return _build(backend)
    if isinstance(backend, Backend):
        return backend
    raise UnsupportedBackendError(_unknown(backend))


def _build(name: str) -> Backend:
    key = name.lower()
    with _lock:
        entry = _entries.get(key)
    if entry is None:
        raise UnsupportedBackendError(_unknown(name))
    reason = entry.missing()
    if reason is not None:
        raise UnsupportedBackendError(reason)
    instance = entry.factory()
    if not isinstance(instance, Backend):
        raise TypeError(
            f"the factory registered for backend {key!r} returned a "
            f"{type(instance).__name__}, not a Backend; register a factory that returns "
            "a fresh backend instance"
        )
    return instance


def _unknown(backend: object) -> str:
    known = ", ".join(available_backends())
    return f"Unsupported backend {backend!r}; choose one of: {known}, or pass a Backend instance"
