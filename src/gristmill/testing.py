"""Test kit for code that uses gristmill.

:class:`FakeClock` replaces the real clock so that timing rules (lease expiry,
a batch's max wait, acquire timeouts, pool keep-alive, size checks) can be
tested at their real magnitudes without waiting::

    clock = FakeClock()
    manager = LeasedExecutorManager(max_pools=1, clock=clock)
    grinder = WorkGrinder(executor_manager=manager, max_wait_seconds=10.0)
    ...
    clock.advance(10.0)   # the oldest job has now waited 10 s
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import final

from ._clock import Clock, TimerHandle
from ._validate import duration

__all__ = ["Clock", "FakeClock", "TimerHandle"]


class _FakeTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@final
class FakeClock:
    """A clock that moves only when :meth:`advance` is called.

    Timers run synchronously inside ``advance()``, in deadline order, each
    seeing ``time()`` equal to its own deadline. Call ``advance()`` from the
    event loop thread that owns the objects using the clock, then let the loop
    run (``await asyncio.sleep(0)``) so woken tasks can react.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        """Return the fake current time."""
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule ``callback`` for when the fake time reaches ``when``."""
        timer = _FakeTimer(callback)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every timer that falls due.

        Raises:
            ValueError: ``seconds`` is negative, NaN or infinite (an infinite
                jump would never finish while a periodic timer re-arms itself).
            TypeError: ``seconds`` is not a number.
        """
        target = self._now + duration("seconds", seconds, allow_zero=True)
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if not timer.cancelled:
                timer.callback()
        self._now = target

    @property
    def pending_timers(self) -> int:
        """Timers scheduled and not cancelled."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)
