"""The manager's settings: checked once at construction, read-only afterwards.

:func:`manager_settings` turns the keyword arguments of ``LeasedExecutorManager``
into one frozen :class:`ManagerSettings`. A value of the wrong type raises
:class:`~gristmill.WrongTypeError` (a ``TypeError`` and a ``ValueError``) and a
value out of range raises ``ValueError``; every message
names the field. The checks run in the order the fields are listed, so the
first bad field is the one reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _validate as validate
from ._backends import Backend, ExecutorBackend, check_options, resolve_backend
from ._clock import Clock, MonotonicClock
from ._errors import WrongTypeError
from ._process_logging import ProcessLoggingConfig
from .hooks import Hooks

__all__ = ["ManagerSettings", "manager_settings"]


@dataclass(frozen=True, slots=True)
class ManagerSettings:
    """Validated settings of one manager; see ``LeasedExecutorManager`` for each meaning."""

    backend: Backend
    max_pools: int
    min_pools: int
    units_per_pool: int
    workers: int
    check_interval: float
    default_lease: float
    grace: float
    keepalive: float
    size_provider: Callable[[], int] | None
    name_prefix: str
    logger: logging.Logger
    clock: Clock
    executor_kwargs: Mapping[str, Any]
    process_logging: ProcessLoggingConfig | None
    hooks: Hooks | None = None


@dataclass(frozen=True, slots=True)
class _Sizes:
    max_pools: int
    min_pools: int
    units_per_pool: int
    workers: int


@dataclass(frozen=True, slots=True)
class _Durations:
    check_interval: float
    default_lease: float
    grace: float
    keepalive: float


def manager_settings(
    *,
    backend: ExecutorBackend | str | Backend,
    max_pools: int,
    min_pools: int,
    units_per_pool: int,
    size_provider: Callable[[], int] | None,
    check_interval: float,
    default_lease_seconds: float,
    lease_grace_seconds: float,
    workers_per_pool: int,
    name_prefix: str,
    logger: logging.Logger | None,
    process_logging: ProcessLoggingConfig | None,
    idle_keepalive_seconds: float,
    clock: Clock | None,
    legacy_logging: Callable[[], ProcessLoggingConfig | None],
    executor_kwargs: Mapping[str, Any],
    hooks: Hooks | None = None,
) -> ManagerSettings:
    """Check every manager argument and return the settings.

    ``legacy_logging`` builds what leasepool's flat ``forward_process_logs=...``
    keywords amount to; it is called (and so checked) only when no
    ``process_logging`` is given.

    A backend name gets a fresh instance from its registered factory; a
    :class:`Backend` instance is used as is.

    Raises:
        UnsupportedBackendError: the backend is unknown or cannot run here
            (a newer Python or a missing package).
        WrongTypeError: a value has the wrong type.
        TypeError: an executor keyword is not accepted by the backend.
        ValueError: a value is out of range.
    """
    implementation = resolve_backend(backend)
    sizes = _sizes(max_pools, min_pools, units_per_pool, workers_per_pool)
    durations = _durations(
        check_interval, default_lease_seconds, lease_grace_seconds, idle_keepalive_seconds
    )
    _check_collaborators(size_provider, name_prefix, process_logging)
    check_options(implementation, executor_kwargs)
    return ManagerSettings(
        backend=implementation,
        max_pools=sizes.max_pools,
        min_pools=sizes.min_pools,
        units_per_pool=sizes.units_per_pool,
        workers=sizes.workers,
        check_interval=durations.check_interval,
        default_lease=durations.default_lease,
        grace=durations.grace,
        keepalive=durations.keepalive,
        size_provider=size_provider,
        name_prefix=name_prefix,
        logger=logger or logging.getLogger("gristmill.manager"),
        clock=clock or MonotonicClock(),
        executor_kwargs=executor_kwargs,
        process_logging=process_logging or legacy_logging(),
        hooks=_hooks(hooks),
    )


def _hooks(hooks: object) -> Hooks | None:
    if hooks is not None and not isinstance(hooks, Hooks):
        raise WrongTypeError(f"hooks must be a gristmill.Hooks, got {type(hooks).__name__}")
    return hooks


def _sizes(max_pools: int, min_pools: int, units_per_pool: int, workers: int) -> _Sizes:
    checked_max = validate.positive_int("max_pools", max_pools)
    checked_min = validate.positive_int("min_pools", min_pools)
    if checked_min > checked_max:
        raise ValueError(
            f"min_pools cannot be greater than max_pools (min_pools={min_pools}, "
            f"max_pools={max_pools}); lower min_pools or raise max_pools"
        )
    return _Sizes(
        max_pools=checked_max,
        min_pools=checked_min,
        units_per_pool=validate.positive_int("units_per_pool", units_per_pool),
        workers=validate.positive_int("workers_per_pool", workers),
    )


def _durations(
    check_interval: float, default_lease: float, grace: float, keepalive: float
) -> _Durations:
    return _Durations(
        check_interval=validate.duration("check_interval", check_interval),
        default_lease=validate.duration("default_lease_seconds", default_lease),
        grace=validate.duration("lease_grace_seconds", grace, allow_zero=True),
        keepalive=validate.duration("idle_keepalive_seconds", keepalive, allow_zero=True),
    )


def _check_collaborators(
    size_provider: object, name_prefix: object, process_logging: object
) -> None:
    if size_provider is not None and not callable(size_provider):
        raise WrongTypeError(
            f"size_provider must be a zero-argument callable or None, "
            f"got {type(size_provider).__name__}"
        )
    if not isinstance(name_prefix, str):
        raise WrongTypeError(f"name_prefix must be a str, got {type(name_prefix).__name__}")
    if process_logging is not None and not isinstance(process_logging, ProcessLoggingConfig):
        raise WrongTypeError(
            "process_logging must be a ProcessLoggingConfig or None, "
            f"got {type(process_logging).__name__}"
        )
