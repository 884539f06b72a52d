"""Runs a chunk of calls inside a pool worker and reports each call's outcome.

A chunk is one ``executor.submit`` that carries many calls. Each call gets its
own outcome, ``(True, result)`` or ``(False, exception)``, exactly as if it had
been submitted alone. On backends whose payloads cross a process boundary the
chunk travels pickled, and this module keeps one bad item from spoiling the
rest::

    parent: encode_calls ── an argument that will not pickle fails its own item here
       │ payload (bytes)
       ▼
    worker: run_pickled ── run_calls ── a result or exception that will not make
       │                                the trip back fails its own item here
       │ outcomes (bytes)
       ▼
    parent: decode_outcomes ── re-attach each worker traceback as a RemoteTraceback

A worker exception keeps its traceback as a :class:`RemoteTraceback`
``__cause__``, the way ``ProcessPoolExecutor`` does. What cannot be isolated to
one item fails the whole chunk with an :class:`UnpicklableError`: calls that
pickle in the parent but do not unpickle in the worker, and results that
unpickle in the worker but not in the parent.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import GristmillError

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

_PROTOCOL = pickle.HIGHEST_PROTOCOL


class RemoteTraceback(GristmillError):
    """Carries a worker-side traceback as text; set as ``__cause__`` of the worker's error."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


class UnpicklableError(GristmillError, TypeError):
    """A call, result or exception could not cross the process boundary."""


def run_calls(calls: Sequence[Call]) -> list[Outcome]:
    """Run each call in order; never raises for a call's own failure.

    Every exception a call raises, ``SystemExit`` and ``KeyboardInterrupt``
    included, becomes that call's outcome and the next call still runs, as
    each would on its own in a stdlib executor. A ``StopIteration`` becomes a
    ``RuntimeError`` (its ``__cause__``), because an asyncio future refuses to
    carry one.
    """
    outcomes: list[Outcome] = []
    append = outcomes.append
    for fn, args, kwargs in calls:
        try:
            append((True, fn(*args, **kwargs) if kwargs else fn(*args)))
        except StopIteration as exc:
            append((False, _stop_iteration_error(fn, exc)))
        except BaseException as exc:  # each outcome belongs to its caller
            append((False, exc))
    return outcomes


def run_pickled(payload: bytes) -> bytes:
    """Worker entry point for process-like backends: bytes in, bytes out.

    Raises:
        UnpicklableError: the payload does not unpickle in this worker, so no
            call of the chunk can run.
    """
    try:
        calls = pickle.loads(payload)
    except Exception as problem:
        raise UnpicklableError(
            "the calls of this chunk pickled in the parent but cannot be unpickled in the "
            f"worker ({type(problem).__name__}: {problem}); pass arguments that survive "
            "pickle.loads(pickle.dumps(arg)), or use a thread pool"
        ) from problem
    wire = [
        outcome if outcome[0] else (False, outcome[1], _format(outcome[1]))
        for outcome in run_calls(calls)
    ]
    try:
        blob = pickle.dumps(wire, _PROTOCOL)
        # Some objects pickle but refuse to unpickle (an exception whose
        # __init__ takes extra arguments); found here they fail alone.
        pickle.loads(blob)
    except Exception:
        blob = pickle.dumps([_portable(entry) for entry in wire], _PROTOCOL)
    return blob


def encode_calls(calls: Sequence[Call]) -> tuple[bytes, list[tuple[int, BaseException]]]:
    """Pickle a chunk in the parent; never raises for an item's own data.

    Returns:
        The payload for the calls that pickle, and ``(index, error)`` for each
        call that does not; those are left out of the payload.
    """
    try:
        return pickle.dumps(list(calls), _PROTOCOL), []
    except Exception:
        pass
    good: list[Call] = []
    good_index: list[int] = []
    bad: list[tuple[int, BaseException]] = []
    for index, call in enumerate(calls):
        culprit = _pickling_problem(call)
        if culprit is None:
            good.append(call)
            good_index.append(index)
        else:
            bad.append((index, culprit))
    try:
        return pickle.dumps(good, _PROTOCOL), bad
    except Exception as problem:  # each call pickles alone, yet not all together
        error = _unpicklable("chunk of calls", good, problem)
        return pickle.dumps([], _PROTOCOL), sorted([*bad, *((i, error) for i in good_index)])


def decode_outcomes(blob: bytes) -> list[Outcome]:
    """Unpickle a worker's outcomes, re-attaching each remote traceback.

    Raises:
        UnpicklableError: the outcomes unpickled in the worker but not here
            (for example a result whose class only the worker can import).
    """
    try:
        wire = pickle.loads(blob)
    except Exception as problem:
        raise UnpicklableError(
            "the results of this chunk cannot be unpickled in the parent "
            f"({type(problem).__name__}: {problem}); return data whose classes the parent "
            "can import"
        ) from problem
    outcomes: list[Outcome] = []
    for entry in wire:
        if entry[0]:
            outcomes.append(entry)
        else:
            exc = entry[1]
            if entry[2]:
                exc.__cause__ = RemoteTraceback(entry[2])
            outcomes.append((False, exc))
    return outcomes


def _stop_iteration_error(fn: Callable[..., Any], exc: StopIteration) -> RuntimeError:
    error = RuntimeError(
        f"{_describe(fn)} raised StopIteration, which cannot be delivered through a future"
    )
    error.__cause__ = exc
    return error


def _pickling_problem(call: Call) -> UnpicklableError | None:
    """Name the first part of ``call`` (function, argument or keyword) that will not pickle."""
    fn, args, kwargs = call
    parts: list[tuple[str, object]] = [("function", fn)]
    parts += [(f"argument {i}", arg) for i, arg in enumerate(args)]
    parts += [(f"keyword argument {key!r}", value) for key, value in (kwargs or {}).items()]
    parts.append(("call", call))
    for what, obj in parts:
        try:
            pickle.dumps(obj, _PROTOCOL)
        except Exception as problem:
            return _unpicklable(what, obj, problem)
    return None


def _format(exc: BaseException) -> str:
    return '\n"""\n' + "".join(traceback.format_exception(exc)) + '"""'


def _portable(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return ``entry`` if it survives a pickle round trip, else a failure naming the culprit."""
    try:
        pickle.loads(pickle.dumps(entry, _PROTOCOL))
    except Exception as problem:
        if entry[0]:
            return (False, _unpicklable("result", entry[1], problem), "")
        return (False, _unpicklable("exception", entry[1], problem), entry[2])
    return entry


def _unpicklable(what: str, obj: object, problem: BaseException) -> UnpicklableError:
    return UnpicklableError(
        f"the {what} {_describe(obj)} cannot be pickled to cross the process boundary "
        f"({type(problem).__name__}: {problem}); use picklable data or a thread pool"
    )


def _describe(obj: object) -> str:
    kind = type(obj).__qualname__
    if callable(obj):
        name = getattr(obj, "__qualname__", None)
        if isinstance(name, str):
            return f"{name} ({kind})"
    return f"of type {kind}"
