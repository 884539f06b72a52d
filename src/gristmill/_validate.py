"""Pure coercers for configuration values.

A value of the wrong type (a list where a number belongs, a word where
seconds belong) raises :class:`~gristmill.WrongTypeError`, which is both a
``TypeError`` and a ``ValueError``. A number that is out of range,
fractional where a count is needed, a bool, NaN or infinite raises
:class:`ValueError`. Bools are refused as numbers on purpose:
``max_pools=True`` is always a mistake. A duration may also be a string that
holds a number (``"2.5"``, as read from an environment variable), as leasepool
allowed; a count may not. Every message names the field and contains
leasepool's wording ("must be > 0", "must be an integer > 0", "must be a
finite number > 0"), so code that matched leasepool's messages still matches.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from numbers import Real
from typing import TypeVar

from ._errors import WrongTypeError
from ._naming import name_of, type_name

__all__ = [
    "MAX_SECONDS",
    "choice",
    "duration",
    "optional_duration",
    "optional_timeout",
    "positive_int",
    "sync_callable",
    "whole_number",
]

MAX_SECONDS = threading.TIMEOUT_MAX
"""Longest duration or timeout any API accepts (about 292 years on 64-bit Linux).

It is the most that ``threading`` waits can take, so a timeout that passes
validation can always be handed on to a thread-side wait without overflowing.
"""

C = TypeVar("C", bound=str)

_ASYNC_CODE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` that is at least 1."""
    return whole_number(name, value, minimum=1)


def whole_number(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an ``int`` that is at least ``minimum``.

    Raises:
        ValueError: a bool, a fraction, or a whole number below ``minimum``.
        WrongTypeError: not a number at all (a string included).
    """
    bound = f">= {minimum}" if minimum != 1 else "> 0"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer {bound}, not a bool ({value!r})")
    if isinstance(value, int):
        if value < minimum:
            raise ValueError(f"{name} must be {bound}, got {value!r}")
        return value
    if isinstance(value, Real):
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}; pass a whole number")
    raise WrongTypeError(
        f"{name} must be an integer {bound}, got {type(value).__name__} {value!r}; pass an int"
    )


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
    """Return ``value`` as a finite float in seconds, > 0 (or >= 0 with ``allow_zero``).

    Raises:
        ValueError: a bool, NaN, an infinity, or a number out of range.
        WrongTypeError: neither a number nor a string that holds one.
    """
    bound = ">= 0" if allow_zero else "> 0"
    wanted = f"{name} must be a finite number {bound} (seconds)"
    if isinstance(value, bool):
        raise ValueError(f"{wanted}, not a bool ({value!r})")
    seconds = _seconds(value, wanted)
    if not math.isfinite(seconds):
        raise ValueError(f"{wanted}, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"{name} must be at most {MAX_SECONDS:g} seconds (threading.TIMEOUT_MAX), "
            f"got {value!r}; pass None to wait without a limit where that is allowed"
        )
    return seconds


def _seconds(value: object, wanted: str) -> float:
    """Read a number, or a string holding one, as a float; refuse anything else."""
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise WrongTypeError(
                f"{wanted}, got the string {value!r}, which is not a number"
            ) from None
    raise WrongTypeError(f"{wanted}, got {type(value).__name__}; pass an int or a float")


def optional_timeout(name: str, value: object) -> float | None:
    """Return ``None`` or a finite, non-negative number of seconds."""
    if value is None:
        return None
    return duration(name, value, allow_zero=True)


def choice(name: str, value: object, choices: tuple[C, ...]) -> C:
    """Return ``value`` if it is one of the string ``choices`` (a ``Literal``'s ``get_args``).

    Raises:
        WrongTypeError: ``value`` is not a string.
        ValueError: it is a string, but not one of the choices.
    """
    if not isinstance(value, str):
        raise WrongTypeError(f"{name} must be a str, got {type(value).__name__}")
    for option in choices:
        if value == option:
            return option
    raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
