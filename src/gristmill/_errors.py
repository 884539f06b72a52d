"""Exceptions raised by gristmill.

Every error gristmill raises on purpose derives from one root, so callers can
catch the whole family at once::

    GristmillError  (alias: LeasePoolError)
    ├── NotStartedError  (RuntimeError; alias: LeasePoolNotStartedError)
    ├── WrongLoopError  (RuntimeError)
    ├── GrinderCrashedError  (RuntimeError)
    ├── MissingMainGuardError  (RuntimeError)
    ├── GrinderOverloadedError
    ├── WorkerCrashedError
    ├── LeaseUnavailableError
    ├── LeaseExpiredError
    ├── UnsupportedBackendError  (ValueError)
    ├── WrongTypeError  (TypeError and ValueError)
    ├── UnpicklableError  (TypeError)
    └── RemoteTraceback

``RemoteTraceback`` is never raised on its own: it is the ``__cause__`` of an
exception that a process worker raised, and carries the worker's traceback as
text.

``WrongTypeError`` is both a ``TypeError`` and a ``ValueError``: gristmill
reports a setting of the wrong type (a list, or a word, where a number
belongs) as a ``TypeError``, while leasepool reported it as a ``ValueError``,
so either ``except`` clause keeps catching it.

Waiting too long raises the builtin :class:`TimeoutError`, never a subclass of
our own. The ``LeasePool*`` aliases exist so that code written for the
``leasepool`` package keeps working after changing only its import line.
"""

from __future__ import annotations

__all__ = [
    "GrinderCrashedError",
    "GrinderOverloadedError",
    "GristmillError",
    "LeaseExpiredError",
    "LeasePoolError",
    "LeasePoolNotStartedError",
    "LeaseUnavailableError",
    "MissingMainGuardError",
    "NotStartedError",
    "RemoteTraceback",
    "UnpicklableError",
    "UnsupportedBackendError",
    "WorkerCrashedError",
    "WrongLoopError",
    "WrongTypeError",
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


class MissingMainGuardError(GristmillError, RuntimeError):
    """Process workers would run the program again: its main module lacks its guard.

    With the ``spawn`` and ``forkserver`` start methods each process worker
    imports the main module again, so the code that starts gristmill must sit
    under ``if __name__ == "__main__":``. Raised by
    :meth:`LeasedExecutorManager.start() <gristmill.LeasedExecutorManager.start>`
    before any worker exists, instead of the stdlib's errors from every worker.
    """


class GrinderOverloadedError(GristmillError):
    """The grinder's queue is full (``max_pending``) and its ``overflow`` policy is ``"reject"``."""


class WorkerCrashedError(GristmillError):
    """A worker process died while running this item, on every attempt it was given.

    The message says how many times and how the worker died; the ``__cause__``
    is the executor's own error (for example ``BrokenProcessPool``).
    """


class LeaseUnavailableError(GristmillError):
    """``acquire(wait=False)`` found no executor free and no room to create one."""


class LeaseExpiredError(GristmillError):
    """The lease was released, revoked after its hard expiry, or its executor broke."""


class UnsupportedBackendError(GristmillError, ValueError):
    """The backend name is unknown, or not available on this Python."""


class WrongTypeError(GristmillError, TypeError, ValueError):
    """A setting or argument has the wrong type; the message names it and what to pass.

    For example ``max_pools="2"``, ``max_wait_seconds="soon"`` or
    ``owner_prefix=None``. It subclasses ``TypeError``, the usual Python
    error for a wrong type, and ``ValueError``, which leasepool raised in
    these cases, so code written against either keeps catching it. A value
    of the right type that is out of range (``max_pools=0``) raises a plain
    ``ValueError``.
    """


class UnpicklableError(GristmillError, TypeError):
    """A call, result or exception could not cross the process boundary.

    The message names the part that failed (the function, a positional or
    keyword argument, the result or the exception) and what to pass instead.
    """


class RemoteTraceback(GristmillError):
    """Carries a worker-side traceback as text; set as ``__cause__`` of the worker's error."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


LeasePoolError = GristmillError
LeasePoolNotStartedError = NotStartedError
