"""Exceptions raised by gristmill.

Every error gristmill raises on purpose derives from one root, so callers can
catch the whole family at once::

    GristmillError  (alias: LeasePoolError)
    ├── NotStartedError  (RuntimeError; alias: LeasePoolNotStartedError)
    ├── WrongLoopError  (RuntimeError)
    ├── GrinderCrashedError  (RuntimeError)
    ├── LeaseUnavailableError
    ├── LeaseExpiredError
    └── UnsupportedBackendError  (ValueError)

Waiting too long raises the builtin :class:`TimeoutError`, never a subclass of
our own. The ``LeasePool*`` aliases exist so that code written for the
``leasepool`` package keeps working after changing only its import line.
"""

from __future__ import annotations

__all__ = [
    "GrinderCrashedError",
    "GristmillError",
    "LeaseExpiredError",
    "LeasePoolError",
    "LeasePoolNotStartedError",
    "LeaseUnavailableError",
    "NotStartedError",
    "UnsupportedBackendError",
    "WrongLoopError",
]


class GristmillError(Exception):
    """Root of every error that gristmill raises deliberately."""


class NotStartedError(GristmillError, RuntimeError):
    """The manager or grinder is not running: not started yet, stopping, or stopped."""


class WrongLoopError(GristmillError, RuntimeError):
    """An API was called from a loop or thread that does not own the object.

    Async methods must be awaited on the event loop that started the object;
    the ``*_from_thread`` methods must be called from any *other* thread.
    """


class GrinderCrashedError(GristmillError, RuntimeError):
    """The grinder's background task failed; the original error is the ``__cause__``."""


class LeaseUnavailableError(GristmillError):
    """``acquire(wait=False)`` found no executor free and no room to create one."""


class LeaseExpiredError(GristmillError):
    """The lease was released, revoked after its hard expiry, or its executor broke."""


class UnsupportedBackendError(GristmillError, ValueError):
    """The backend name is unknown, or not available on this Python."""


LeasePoolError = GristmillError
LeasePoolNotStartedError = NotStartedError
