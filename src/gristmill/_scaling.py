"""The sizing loop: read the size signal, set the pool target, check again later.

::

    every check_interval, or notify_scale_changed() ─► size_provider() ─► desired_pools()
        ─► registry.target ─► replenish (grow now) and trim (shrink after keep-alive)

The policy itself is the pure :func:`gristmill._sizing.desired_pools`; this is
the imperative shell around it. Owning loop only, except :meth:`Scaler.desired`.
"""

from __future__ import annotations

from ._clock import TimerHandle
from ._manager_settings import ManagerSettings
from ._pool_registry import PoolRegistry

__all__ = ["Scaler"]


class Scaler:
    """Keeps a registry's ``target`` in step with the manager's ``size_provider``."""

    def __init__(self, config: ManagerSettings, pools: PoolRegistry) -> None:
        self._config = config
        self._pools = pools
        self._timer: TimerHandle | None = None

    def desired(self) -> int:
        """Read the size signal on the calling thread and return the pool count it asks for."""
        return self._config.desired_pools(self._read_size())

    def check(self) -> None:
        """Re-read the size signal, grow to the target, trim, and schedule the next check.

        Without a ``size_provider`` the target is ``min_pools``; a provider that
        fails keeps the previous target.
        """
        self.cancel()
        config = self._config
        units = self._read_size()
        if units is not None or config.size_provider is None:
            self._pools.target = config.desired_pools(units)
        self._pools.replenish()
        self._pools.trim()
        self._timer = config.clock.call_at(config.clock.time() + config.check_interval, self.check)

    def cancel(self) -> None:
        """Stop the periodic check (``stop()``); ``check()`` starts it again."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _read_size(self) -> int | None:
        provider = self._config.size_provider
        if provider is None:
            return None
        try:
            return int(provider())
        except Exception:
            self._config.logger.warning(
                "size_provider failed; keeping the previous size", exc_info=True
            )
            return None
