"""The sizing loop: read the size signal, set the pool target, check again later.

::

    every check_interval, or notify_scale_changed() ─► size_provider() ─► desired_pools()
        ─► registry.target ─► replenish (grow now) and trim (shrink after keep-alive)

The policy itself is the pure :func:`gristmill._sizing.desired_pools`; this is
the imperative shell around it. A failure of any step (the size provider, a
backend's ``create()`` while growing, a shutdown while trimming) is logged and
counted, the previous target stands, and the next check is scheduled anyway:
one bad moment never stops the loop. Owning loop only, except
:meth:`Scaler.desired`.
"""

from __future__ import annotations

from collections.abc import Callable

from ._clock import TimerHandle
from ._manager_settings import ManagerSettings
from ._pool_registry import PoolRegistry
from ._sizing import desired_pools

__all__ = ["Scaler"]


class Scaler:
    """Keeps a registry's ``target`` in step with the manager's ``size_provider``.

    Attributes:
        failures: Steps of a check that raised (reading the signal, growing,
            trimming) since the manager was built; ``stats()["sizing_failures"]``.
    """

    def __init__(self, settings: ManagerSettings, pools: PoolRegistry) -> None:
        self._settings = settings
        self._pools = pools
        self._timer: TimerHandle | None = None
        self.failures = 0

    def desired(self) -> int:
        """Read the size signal on the calling thread and return the pool count it asks for."""
        return self._desired(self._read_size())

    def start(self) -> None:
        """The first check, at ``start()``: a pool that cannot be built fails the start.

        Raises:
            Exception: whatever the backend's ``create()`` raised.
        """
        self.check(strict=True)

    def check(self, *, strict: bool = False) -> None:
        """Re-read the size signal, grow to the target, trim, and schedule the next check.

        Without a ``size_provider`` the target is ``min_pools``; a provider that
        fails keeps the previous target. The next check is armed whatever fails.
        ``strict`` (the first check) lets a failure to grow propagate.
        """
        self.cancel()
        settings = self._settings
        try:
            units = self._read_size()
            if settings.size_provider is None:
                self._pools.target = self._desired(None)
            elif units is None:
                self.failures += 1
            else:
                self._pools.target = self._desired(units)
            if strict:
                self._pools.replenish()
            else:
                self._attempt("growing to the target", self._pools.replenish)
            self._attempt("trimming surplus pools", self._pools.trim)
        finally:
            clock = settings.clock
            self._timer = clock.call_at(clock.time() + settings.check_interval, self.check)

    def cancel(self) -> None:
        """Stop the periodic check (``stop()``); ``check()`` starts it again."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _desired(self, units: int | None) -> int:
        settings = self._settings
        return desired_pools(
            units=units,
            min_pools=settings.min_pools,
            max_pools=settings.max_pools,
            units_per_pool=settings.units_per_pool,
        )

    def _attempt(self, step: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            self.failures += 1
            self._settings.logger.warning(
                "sizing step failed step=%r; retrying at the next check", step, exc_info=True
            )

    def _read_size(self) -> int | None:
        provider = self._settings.size_provider
        if provider is None:
            return None
        try:
            return int(provider())
        except Exception:
            self._settings.logger.warning(
                "size_provider failed; keeping the previous size", exc_info=True
            )
            return None
