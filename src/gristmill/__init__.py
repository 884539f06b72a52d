"""gristmill: run sync work from async code on leased, bounded executor pools.

Two parts:

- :class:`LeasedExecutorManager` owns a bounded set of executor pools (thread,
  process, interpreter, loky, or a :class:`Backend` of your own) and lends
  them out as short-lived leases.
- :class:`WorkGrinder` batches small sync jobs from many async callers and runs
  each batch on a leased executor; a :func:`batched` function is called once
  over many callers' items.
"""

import logging

from ._backends import Backend, ExecutorBackend, available_backends, register_backend
from ._batched import BatchFunction, batched
from ._clock import Clock
from ._errors import (
    GrinderCrashedError,
    GrinderOverloadedError,
    GristmillError,
    LeaseExpiredError,
    LeasePoolError,
    LeasePoolNotStartedError,
    LeaseUnavailableError,
    MissingMainGuardError,
    NotStartedError,
    RemoteTraceback,
    UnpicklableError,
    UnsupportedBackendError,
    WorkerCrashedError,
    WrongLoopError,
    WrongTypeError,
)
from ._grinder import LeaseSource, WorkGrinder
from ._lease import ExecutorLease, LeasedExecutor
from ._manager import LeasedExecutorManager, SizeProvider
from ._process_logging import ProcessLoggingConfig
from ._stats import GrinderStats, LeaseInfo, ManagerStats, OtherOwnersStats, OwnerStats
from ._work import Work
from .hooks import BatchCall, BatchEnd, BatchStart, Hooks, ItemDone, LeaseEvent

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BatchCall",
    "BatchEnd",
    "BatchFunction",
    "BatchStart",
    "Clock",
    "ExecutorBackend",
    "ExecutorLease",
    "GrinderCrashedError",
    "GrinderOverloadedError",
    "GrinderStats",
    "GristmillError",
    "Hooks",
    "ItemDone",
    "LeaseEvent",
    "LeaseExpiredError",
    "LeaseInfo",
    "LeasePoolError",
    "LeasePoolNotStartedError",
    "LeaseSource",
    "LeaseUnavailableError",
    "LeasedExecutor",
    "LeasedExecutorManager",
    "ManagerStats",
    "MissingMainGuardError",
    "NotStartedError",
    "OtherOwnersStats",
    "OwnerStats",
    "ProcessLoggingConfig",
    "RemoteTraceback",
    "SizeProvider",
    "UnpicklableError",
    "UnsupportedBackendError",
    "Work",
    "WorkGrinder",
    "WorkerCrashedError",
    "WrongLoopError",
    "WrongTypeError",
    "__version__",
    "available_backends",
    "batched",
    "register_backend",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
