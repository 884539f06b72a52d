"""Runs a chunk of calls inside a pool worker and reports each call's outcome.

A chunk is one ``executor.submit`` that carries many calls. Each call gets its
own outcome, ``(True, result)`` or ``(False, exception)``, exactly as if it had
been submitted alone. On backends whose payloads cross a process boundary the
chunk travels pickled, and this module keeps one bad item from spoiling the
rest: an argument that cannot be pickled fails only its own item in the parent,
and a result or exception that cannot be pickled becomes a clear error for that
item in the worker. A worker exception keeps its traceback as a
:class:`RemoteTraceback` ``__cause__``, the way ``ProcessPoolExecutor`` does.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Call",
    "Outcome",
    "RemoteTraceback",
    "UnpicklableError",
    "decode_outcomes",
    "encode_calls",
    "run_calls",
    "run_pickled",
]

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any] | None]
Outcome = tuple[bool, Any]


class RemoteTraceback(Exception):
    """Carries a worker-side traceback as text; set as ``__cause__`` of the worker's error."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


class UnpicklableError(TypeError):
    """A call, result or exception could not cross the process boundary."""


def run_calls(calls: Sequence[Call]) -> list[Outcome]:
    """Run each call in order; never raises for a call's own failure."""
    outcomes: list[Outcome] = []
    append = outcomes.append
    for fn, args, kwargs in calls:
        try:
            append((True, fn(*args, **kwargs) if kwargs else fn(*args)))
        except BaseException as exc:  # each outcome belongs to its caller
            append((False, exc))
    return outcomes


def run_pickled(payload: bytes) -> bytes:
    """Worker entry point for process-like backends: bytes in, bytes out."""
    outcomes = run_calls(pickle.loads(payload))
    wire = [
        outcome if outcome[0] else (False, _portable_error(outcome[1]), _format(outcome[1]))
        for outcome in outcomes
    ]
    try:
        return pickle.dumps(wire, pickle.HIGHEST_PROTOCOL)
    except Exception:
        return pickle.dumps([_portable(entry) for entry in wire], pickle.HIGHEST_PROTOCOL)


def encode_calls(calls: Sequence[Call]) -> tuple[bytes, list[tuple[int, BaseException]]]:
    """Pickle a chunk in the parent.

    Returns:
        The payload for the calls that pickle, and ``(index, error)`` for each
        call that does not; those are left out of the payload.
    """
    try:
        return pickle.dumps(list(calls), pickle.HIGHEST_PROTOCOL), []
    except Exception:
        good: list[Call] = []
        bad: list[tuple[int, BaseException]] = []
        for index, call in enumerate(calls):
            culprit = _unpicklable_part(call)
            if culprit is None:
                good.append(call)
            else:
                bad.append((index, culprit))
        return pickle.dumps(good, pickle.HIGHEST_PROTOCOL), bad


def decode_outcomes(blob: bytes) -> list[Outcome]:
    """Unpickle a worker's outcomes, re-attaching each remote traceback."""
    outcomes: list[Outcome] = []
    for entry in pickle.loads(blob):
        if entry[0]:
            outcomes.append(entry)
        else:
            exc = entry[1]
            if entry[2]:
                exc.__cause__ = RemoteTraceback(entry[2])
            outcomes.append((False, exc))
    return outcomes


def _unpicklable_part(call: Call) -> UnpicklableError | None:
    """Name the first part of ``call`` (function, argument or keyword) that will not pickle."""
    fn, args, kwargs = call
    parts: list[tuple[str, object]] = [("function", fn)]
    parts += [(f"argument {i}", arg) for i, arg in enumerate(args)]
    parts += [(f"keyword argument {key!r}", value) for key, value in (kwargs or {}).items()]
    for what, obj in parts:
        try:
            pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        except Exception as problem:
            return _unpicklable(what, obj, problem)
    return None


def _format(exc: BaseException) -> str:
    return '\n"""\n' + "".join(traceback.format_exception(exc)) + '"""'


def _portable_error(exc: BaseException) -> BaseException:
    """Return ``exc`` if it survives a pickle round trip, else a stand-in that names it."""
    try:
        pickle.loads(pickle.dumps(exc, pickle.HIGHEST_PROTOCOL))
    except Exception as problem:
        return _unpicklable("exception", exc, problem)
    return exc


def _portable(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        pickle.dumps(entry, pickle.HIGHEST_PROTOCOL)
    except Exception as problem:
        return (False, _unpicklable("result", entry[1], problem), "")
    return entry


def _unpicklable(what: str, obj: object, problem: BaseException) -> UnpicklableError:
    return UnpicklableError(
        f"the {what} {_describe(obj)} cannot be pickled to cross the process boundary "
        f"({type(problem).__name__}: {problem}); use a thread pool or return picklable data"
    )


def _describe(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return (
        f"{name!s} ({type(obj).__name__})" if callable(obj) else f"of type {type(obj).__qualname__}"
    )
