"""The lifecycle both public objects share: one state enum, one loop binding, one guard.

::

    CREATED ──start()──► (STARTING) ──► RUNNING ──stop()──► STOPPING ──► STOPPED
                                           │                              │
                                           └── background task failed ──► BROKEN
                                                               start() again ◄┘

The manager passes through ``STARTING`` while its backend opens; the grinder
goes straight to ``RUNNING``, and only the grinder can become ``BROKEN``.
:class:`Lifecycle` holds the state with the loop and thread the object is bound
to, and answers the two questions every public method asks: *is this the
owning loop?* and *is this another thread?*. Hops from other threads onto the
loop go through :mod:`gristmill._bridge`.
"""

from __future__ import annotations

import asyncio
import enum
import threading

from ._errors import WrongLoopError

__all__ = ["Lifecycle", "State"]


class State(enum.Enum):
    """Where a manager or grinder is in its life; ``value`` is what ``stats()`` shows."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    BROKEN = "broken"


class Lifecycle:
    """State, owning loop and owning thread of one manager or grinder.

    Args:
        owner: The class name used in error messages (``"WorkGrinder"``).
        thread_hint: What the loop error tells callers on other threads to use.
    """

    __slots__ = ("_hint", "_owner", "loop", "state", "thread")

    def __init__(self, owner: str, thread_hint: str) -> None:
        self._owner = owner
        self._hint = thread_hint
        self.state = State.CREATED
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: int | None = None

    def bind(self) -> asyncio.AbstractEventLoop:
        """Bind to the running loop and its thread (``start()``) and return the loop."""
        loop = asyncio.get_running_loop()
        self.loop, self.thread = loop, threading.get_ident()
        return loop

    def on_loop_thread(self) -> bool:
        """Whether the caller runs on the owning loop's thread. Any thread."""
        return threading.get_ident() == self.thread

    def require_loop(self, what: str) -> asyncio.AbstractEventLoop:
        """Return the running loop if it is the owning one.

        Raises:
            WrongLoopError: ``what`` was called from another loop.
        """
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            raise WrongLoopError(
                f"{self._owner}.{what}() must be called from the owning event loop, the one "
                f"it was started on; {self._hint}"
            )
        return loop

    def require_foreign_thread(self, what: str) -> None:
        """Refuse a thread-side API on the owning loop's thread, where it would deadlock.

        Raises:
            WrongLoopError: called on the owning event-loop thread.
        """
        if self.on_loop_thread():
            raise WrongLoopError(
                f"{self._owner}.{what}() cannot be called from the owning event-loop thread; "
                "use the async API instead"
            )
