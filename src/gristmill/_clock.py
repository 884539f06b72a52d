"""The one place gristmill reads time and schedules timers.

Every timing rule (lease expiry, a batch's max wait, acquire timeouts, pool
keep-alive, the sizing check) goes through a :class:`Clock`. Production code
uses :class:`MonotonicClock`; tests inject :class:`gristmill.testing.FakeClock`
and jump time forward instead of sleeping.

Two readings are not a rule's time and never go through an injected clock:
:func:`monotonic`, the machine's clock, which worker processes share with the
parent (the progress board stamps when an item starts with it), and
:func:`stopwatch`, which times a chunk's work inside a worker. ``ruff`` (rule
``TID251``) bans ``time.monotonic``, ``time.time`` and ``time.perf_counter``
everywhere else in the package, so this stays the only place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock", "TimerHandle", "monotonic", "stopwatch"]

monotonic = time.monotonic
"""The machine's monotonic clock, shared by every process (progress-board stamps)."""

stopwatch = time.perf_counter
"""The finest clock, for timing a chunk's work where it runs."""


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled (``asyncio.TimerHandle`` fits)."""

    def cancel(self) -> None:
        """Stop the callback from running; harmless if it already ran."""


@runtime_checkable
class Clock(Protocol):
    """Time source and timer scheduler.

    ``time()`` may be called from any thread. ``call_at()`` is called only on
    the owning event loop's thread, and the callback runs on that thread.
    """

    def time(self) -> float:
        """Return the current time in seconds on a monotonic scale."""

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once ``time()`` reaches ``when``."""


class MonotonicClock:
    """The real clock: ``time.monotonic()`` with timers on the running loop."""

    __slots__ = ()

    # The builtin itself, not a wrapper: the grinder reads the clock once per job.
    time = staticmethod(monotonic)

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule ``callback`` on the running loop ``when - now`` seconds from now."""
        delay = max(0.0, when - monotonic())
        return asyncio.get_running_loop().call_later(delay, callback)
