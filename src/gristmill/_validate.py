"""Pure coercers for configuration values.

A value of the wrong kind (a string where a number belongs) raises
:class:`TypeError`; a number that is out of range, fractional where a count is
needed, a bool, NaN or infinite raises :class:`ValueError`. Bools are refused
as numbers on purpose: ``max_pools=True`` is always a mistake. Every message
names the field.
"""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["duration", "optional_timeout", "positive_int"]


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` that is at least 1."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number > 0, not a bool ({value!r})")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{name} must be a whole number > 0, got {value!r}")
        return value
    if isinstance(value, Real):
        raise ValueError(f"{name} must be a whole number > 0, got {value!r}")
    raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def duration(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float in seconds, > 0 (or >= 0 with ``allow_zero``)."""
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number of seconds {bound}, not a bool")
    if not isinstance(value, Real):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    return seconds


def optional_timeout(name: str, value: object) -> float | None:
    """Return ``None`` or a finite, non-negative number of seconds."""
    if value is None:
        return None
    return duration(name, value, allow_zero=True)
