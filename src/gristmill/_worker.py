"""Runs a chunk of calls inside a pool worker and reports each call's outcome.

A chunk is one ``executor.submit`` that carries many calls. Each call gets its
own outcome, ``(True, result)`` or ``(False, exception)``, exactly as if it had
been submitted alone. On backends whose payloads cross a process boundary the
chunk travels pickled, and this module keeps one bad item from spoiling the
rest::

    parent: encode_calls ── an argument that will not pickle fails its own item here
       │ payload (bytes)
       ▼
    worker: run_pickled ── call_each ── a result or exception that will not make
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
from contextvars import Context
from types import CoroutineType
from typing import Any

from ._errors import RemoteTraceback, UnpicklableError
from ._progress import tracker

__all__ = [
    "Call",
    "Dumps",
    "Outcome",
    "RemoteTraceback",
    "UnpicklableError",
    "call_each",
    "decode_outcomes",
    "encode_calls",
    "run_pickled",
    "stop_iteration_error",
]

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any] | None]
Outcome = tuple[bool, Any]

Dumps = Callable[[Any], bytes]

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, _PROTOCOL)


_FUNCTION_HINT = (
    "submit a function defined at the top level of a module "
    "(lambdas, closures and nested functions cannot be pickled)"
)
_SEND_HINT = (
    "pass picklable data, and for callables a function defined at the top level of a "
    "module (lambdas and closures cannot be pickled)"
)
_RESULT_HINT = "return picklable data (plain values, or instances of top-level classes)"
_EXCEPTION_HINT = (
    "raise an exception that pickles: pass every __init__ argument on to "
    "super().__init__() and keep its attributes picklable"
)


def call_each(
    calls: Sequence[Call],
    post: Callable[[int], None] | None = None,
    contexts: Sequence[Context | None] | None = None,
) -> list[Outcome]:
    """Run each call in order; never raises for a call's own failure.

    ``post`` (process workers with a progress board) is told the index of
    each call just before it starts, and the number of calls at the end.

    ``contexts`` (the thread backend) gives each call the ``contextvars``
    context to run in, as ``asyncio.to_thread`` does: a copy of its caller's,
    or ``None`` where the caller's context was empty. What a call sets
    reaches neither its caller nor another call. When every caller's context
    was empty, the calls share one new context for as long as none of them
    writes to it, which spares a context switch per call.

    Every exception a call raises, ``SystemExit`` and ``KeyboardInterrupt``
    included, becomes that call's outcome and the next call still runs, as
    each would on its own in a stdlib executor. A ``StopIteration`` becomes a
    ``RuntimeError`` (its ``__cause__``), because an asyncio future refuses to
    carry one.
    """
    outcomes: list[Outcome] = []
    count = len(calls)
    if contexts is None:
        _call_from(calls, 0, count, post, outcomes, None, None)
    elif contexts == [None] * count:  # all empty: share one until a call writes to it
        start = 0
        while start < count:
            shared = Context()
            start = shared.run(_call_from, calls, start, count, post, outcomes, shared, None)
    else:
        _call_from(calls, 0, count, post, outcomes, None, contexts)
    if post is not None:
        post(count)
    return outcomes


def _call_from(
    calls: Sequence[Call],
    start: int,
    stop: int,
    post: Callable[[int], None] | None,
    outcomes: list[Outcome],
    shared: Context | None,
    contexts: Sequence[Context | None] | None,
) -> int:
    """Run ``calls[start:stop]``, appending their outcomes; return the index it stopped at.

    With ``contexts`` each call runs in its own (a new one for ``None``);
    without, in the current context. ``shared`` is the current context when
    the calls share it: the run stops early, before the first call after one
    that wrote to it.
    """
    append = outcomes.append
    for index in range(start, stop):
        if index != start and shared:
            return index
        fn, args, kwargs = calls[index]
        if post is not None:
            post(index)
        try:
            if contexts is None:
                result = fn(*args, **kwargs) if kwargs else fn(*args)
            else:
                context = contexts[index]
                if context is None:
                    context = Context()
                result = context.run(_call, fn, args, kwargs)
        except StopIteration as exc:
            append((False, stop_iteration_error(fn, exc)))
        except BaseException as exc:  # each outcome belongs to its caller
            append((False, exc))
        else:
            if type(result) is CoroutineType:
                append((False, _coroutine_result(fn, result)))
            else:
                append((True, result))
    return stop


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Any:
    """``fn(*args, **kwargs)``; handed to ``Context.run`` as is, which beats ``run(fn, *args)``."""
    return fn(*args, **kwargs) if kwargs else fn(*args)


def run_pickled(payload: bytes, slot: int = -1) -> bytes:
    """Worker entry point for process-like backends: bytes in, bytes out.

    ``slot`` is the chunk's place on the progress board, or -1 for none.

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
        for outcome in call_each(calls, tracker(slot))
    ]
    try:
        blob = pickle.dumps(wire, _PROTOCOL)
        # Some objects pickle but refuse to unpickle (an exception whose
        # __init__ takes extra arguments); found here they fail alone.
        pickle.loads(blob)
    except Exception:
        blob = pickle.dumps([_portable(entry) for entry in wire], _PROTOCOL)
    return blob


def encode_calls(
    calls: Sequence[Call], dumps: Dumps = _dumps
) -> tuple[bytes, list[tuple[int, BaseException]]]:
    """Pickle a chunk in the parent with ``dumps``; never raises for an item's own data.

    Returns:
        The payload for the calls that pickle, and ``(index, error)`` for each
        call that does not; those are left out of the payload.
    """
    try:
        return dumps(list(calls)), []
    except Exception:
        pass
    good: list[Call] = []
    good_index: list[int] = []
    bad: list[tuple[int, BaseException]] = []
    for index, call in enumerate(calls):
        culprit = _pickling_problem(call, dumps)
        if culprit is None:
            good.append(call)
            good_index.append(index)
        else:
            bad.append((index, culprit))
    try:
        return dumps(good), bad
    except Exception as problem:  # each call pickles alone, yet not all together
        error = _unpicklable("the chunk of calls", problem, _SEND_HINT)
        return dumps([]), sorted([*bad, *((i, error) for i in good_index)])


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


def stop_iteration_error(fn: Callable[..., Any], exc: StopIteration) -> RuntimeError:
    """Return the ``RuntimeError`` (chained from ``exc``) that stands in for a StopIteration.

    An asyncio future refuses to carry a ``StopIteration``, so a call that
    raises one is reported with this error instead, wherever it ran.
    """
    error = RuntimeError(
        f"{_name(fn)} raised StopIteration, which cannot be delivered through a future; "
        "raise another exception or return a sentinel instead"
    )
    error.__cause__ = exc
    return error


def _coroutine_result(fn: Callable[..., Any], coroutine: CoroutineType[Any, Any, Any]) -> TypeError:
    """Close a coroutine that a sync call returned, and say what to do instead."""
    coroutine.close()
    return TypeError(
        f"{_name(fn)} returned a coroutine; the grinder runs sync callables in executors, "
        "where nothing awaits it. Await async code on the event loop instead"
    )


def _pickling_problem(call: Call, dumps: Dumps) -> UnpicklableError | None:
    """Name the first part of ``call`` (function, argument or keyword) that will not pickle."""
    fn, args, kwargs = call
    parts: list[tuple[str, object, str]] = [(f"the function {_name(fn)}", fn, _FUNCTION_HINT)]
    parts += [
        (f"positional argument #{number} ({_describe(arg)})", arg, _SEND_HINT)
        for number, arg in enumerate(args, start=1)
    ]
    parts += [
        (f"keyword argument {key!r} ({_describe(value)})", value, _SEND_HINT)
        for key, value in (kwargs or {}).items()
    ]
    parts.append(("the call", call, _SEND_HINT))
    for subject, obj, hint in parts:
        try:
            dumps(obj)
        except Exception as problem:
            return _unpicklable(subject, problem, hint)
    return None


def _format(exc: BaseException) -> str:
    return '\n"""\n' + "".join(traceback.format_exception(exc)) + '"""'


def _portable(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return ``entry`` if it survives a pickle round trip, else a failure naming the culprit."""
    try:
        pickle.loads(pickle.dumps(entry, _PROTOCOL))
    except Exception as problem:
        value = entry[1]
        if entry[0]:
            subject = f"the result ({_describe(value)})"
            return (False, _unpicklable(subject, problem, _RESULT_HINT), "")
        subject = f"the exception ({_describe(value)})"
        return (False, _unpicklable(subject, problem, _EXCEPTION_HINT), entry[2])
    return entry


def _unpicklable(subject: str, problem: BaseException, hint: str) -> UnpicklableError:
    return UnpicklableError(
        f"{subject} cannot be pickled to cross the process boundary "
        f"({type(problem).__name__}: {problem}); {hint}"
    )


def _name(fn: object) -> str:
    """Name a callable by its qualified name, or describe it when it has none."""
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else f"({_describe(fn)})"


def _describe(obj: object) -> str:
    """Say what ``obj`` is: ``a _thread.lock``, ``a function make.<locals>.<lambda>``."""
    kind = type(obj)
    noun = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    name = getattr(obj, "__qualname__", None) if callable(obj) else None
    if isinstance(name, str):
        noun = f"{noun} {name}"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
