"""Pure coercers for configuration values.

A value of the wrong kind (a string where a number belongs) raises
:class:`TypeError`; a number that is out of range, fractional where a count is
needed, a bool, NaN or infinite raises :class:`ValueError`. Bools are refused
as numbers on purpose: ``max_pools=True`` is always a mistake. Every message
names the field.
"""

from __future__ import annotations

import functools
import inspect
import math
from numbers import Real

from ._naming import name_of, type_name

__all__ = [
    "duration",
    "optional_duration",
    "optional_timeout",
    "positive_int",
    "sync_callable",
    "whole_number",
]

_ASYNC_CODE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` that is at least 1."""
    return whole_number(name, value, minimum=1)


def whole_number(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an ``int`` that is at least ``minimum``."""
    bound = f">= {minimum}" if minimum != 1 else "> 0"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number {bound}, not a bool ({value!r})")
    if isinstance(value, int):
        if value < minimum:
            raise ValueError(f"{name} must be a whole number {bound}, got {value!r}")
        return value
    if isinstance(value, Real):
        raise ValueError(f"{name} must be a whole number {bound}, got {value!r}")
    raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def optional_duration(name: str, value: object) -> float | None:
    """Return ``None`` or a finite number of seconds > 0."""
    return None if value is None else duration(name, value)


def sync_callable(fn: object) -> None:
    """Refuse what a grinder cannot run in an executor: non-callables and async functions.

    ``functools.partial`` objects are seen through, so a partial of an async
    function (or of an object with an async ``__call__``) is refused too, and
    the message names what it wraps. A callable whose introspection raises
    (a ``__getattr__`` that raises for ``__code__``, say) is accepted: should
    it return a coroutine after all, that fails its own item.

    Raises:
        TypeError: ``fn`` is not callable, or calling it would only create a
            coroutine (or async generator) that no one awaits; the message
            says what to pass instead.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type_name(fn)}{_call_hint(fn)}")
    try:
        while issubclass(type(fn), functools.partial):
            fn = fn.func  # type: ignore[attr-defined]
        refused = _is_async(fn)
    except BaseException:  # its own introspection failed: it cannot be told apart
        return
    if refused:
        raise TypeError(
            f"{name_of(fn)} is an async function; the grinder runs sync callables in executor "
            "workers, where nothing would await it. Await it on the event loop instead, "
            "or submit a plain (def) function"
        )


def _call_hint(fn: object) -> str:
    """The hint for a non-callable that is what a call returned (a coroutine, a generator)."""
    try:
        called = inspect.isawaitable(fn) or inspect.isgenerator(fn)
    except BaseException:  # its __class__ raised: it is no coroutine of ours
        return ""
    return "; pass the function itself, not a call to it" if called else ""


def _is_async(fn: object) -> bool:
    """Whether calling ``fn`` (not a partial) returns a coroutine or an async generator."""
    code = getattr(fn, "__code__", None)
    if code is not None:  # functions and bound methods: one flag test on the hot path
        return bool(getattr(code, "co_flags", 0) & _ASYNC_CODE)
    if inspect.iscoroutinefunction(fn):  # e.g. marked with inspect.markcoroutinefunction
        return True
    call = type(fn).__call__  # callable objects: their class says how a call runs
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


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
