"""Runs a chunk of calls inside a pool worker and reports each call's outcome.

A chunk is one ``executor.submit`` that carries many calls. Each call gets its
own outcome, ``(True, result)`` or ``(False, exception)``, exactly as if it had
been submitted alone. On backends whose payloads cross a process boundary the
chunk travels pickled (see :mod:`gristmill._wire`, which keeps one bad item
from spoiling the rest)::

    parent: encode_calls ── a function or argument that will not pickle fails its own item
       │ payload
       ▼
    worker: run_pickled ── decode_calls ── an object that will not unpickle fails the
       │                   call_each       items that use it; the rest run
       │                   encode_outcomes ── a result or exception that will not make
       │ outcomes (bytes)                     the trip back fails its own item
       ▼
    parent: decode_outcomes ── re-attach each worker traceback as a RemoteTraceback

A worker exception keeps its traceback as a :class:`RemoteTraceback`
``__cause__``, the way ``ProcessPoolExecutor`` does. What still fails a whole
chunk: outcomes that unpickle in the worker (where they are checked) but not
in the parent, such as a result whose class only the worker can import.
"""

from __future__ import annotations

import contextlib
import pickle
import traceback
from collections.abc import Callable, Sequence
from contextvars import Context
from types import CoroutineType
from typing import Any, cast

from ._batched import BatchFunction, call_batch
from ._errors import RemoteTraceback, UnpicklableError
from ._naming import describe, error_text, name_of
from ._progress import tracker
from ._wire import PROTOCOL, Call, Dumps, Outcome, Payload, decode_calls, encode_calls, unpicklable

CallResult = tuple[list[Outcome], int]
"""Each item's outcome from one call of a batch function, and the calls it took."""

__all__ = [
    "Call",
    "CallResult",
    "Dumps",
    "Outcome",
    "RemoteTraceback",
    "UnpicklableError",
    "call_each",
    "decode_outcomes",
    "encode_calls",
    "run_call",
    "run_pickled",
    "run_pickled_call",
    "stop_iteration_error",
]

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


def run_pickled(payload: Payload, slot: int = -1) -> bytes:
    """Worker entry point for process-like backends: a payload in, pickled outcomes out.

    ``slot`` is the chunk's place on the progress board, or -1 for none. A
    call whose function or arguments do not unpickle here fails alone with
    an :class:`UnpicklableError` naming the culprit; the others run.

    Raises:
        UnpicklableError: the list of calls itself does not unpickle, so no
            call of the chunk can run.
    """
    return encode_outcomes(call_each(decode_calls(payload), tracker(slot)))


def run_call(call: tuple[BatchFunction[Any, Any], list[Any]], slot: int = -1) -> CallResult:
    """Thread-worker entry point for one call of a batch function over its jobs' items.

    ``call`` is the function and the jobs (each carrying its item as its one
    argument); the items are gathered here, in the pool thread, not on the loop.
    """
    function, jobs = call
    return call_batch(function, [job.args[0] for job in jobs])


def run_pickled_call(payload: Payload, slot: int = -1) -> tuple[bytes, int]:
    """Process-worker entry point for one call of a batch function: the items travel as calls.

    The payload holds one ``(function, (item,), None)`` call per item, so an
    item that does not unpickle here fails alone (its call raises the error);
    the others go to the function in one call. The progress board shows the
    call as running from its start to its end. Returns the pickled outcomes,
    one per item, and how many calls of the function it took.
    """
    calls = decode_calls(payload)
    post = tracker(slot)
    if post is not None:
        post(0)
    outcomes: list[Outcome] = [(False, None)] * len(calls)
    good = [index for index, call in enumerate(calls) if type(call[0]) is BatchFunction]
    for index in sorted(set(range(len(calls))) - set(good)):  # each raises its own error
        outcomes[index] = call_each([calls[index]])[0]
    made = 0
    if good:
        function = cast(BatchFunction[Any, Any], calls[good[0]][0])
        results, made = call_batch(function, [calls[index][1][0] for index in good])
        for index, outcome in zip(good, results, strict=True):
            outcomes[index] = outcome
    if post is not None:
        post(len(calls))
    return encode_outcomes(outcomes), made


def encode_outcomes(outcomes: Sequence[Outcome]) -> bytes:
    """Worker side: pickle the outcomes; one that will not make the trip fails alone.

    Each exception travels with its formatted traceback. The pickle is
    unpickled once here, since some objects pickle but refuse to unpickle (an
    exception whose ``__init__`` takes extra arguments).
    """
    wire = [
        outcome if outcome[0] else (False, outcome[1], _remote_text(outcome[1]))
        for outcome in outcomes
    ]
    try:
        blob = pickle.dumps(wire, PROTOCOL)
        pickle.loads(blob)
    except BaseException:  # the items' own code (a __reduce__, a reconstructor) failed
        blob = pickle.dumps([_portable(entry) for entry in wire], PROTOCOL)
    return blob


def decode_outcomes(blob: bytes) -> list[Outcome]:
    """Unpickle a worker's outcomes, re-attaching each remote traceback.

    Every failure comes back as an exception a future can carry.

    Raises:
        UnpicklableError: the outcomes unpickled in the worker but not here
            (for example a result whose class only the worker can import).
    """
    try:
        wire = pickle.loads(blob)
    except BaseException as problem:
        raise UnpicklableError(
            "the results of this chunk cannot be unpickled in the parent "
            f"({error_text(problem)}); return data whose classes the parent can import"
        ) from problem
    return [entry if entry[0] else _failure(entry[1], entry[2]) for entry in wire]


def _failure(exc: object, text: str) -> Outcome:
    """The outcome for a worker exception that unpickled as ``exc``."""
    if not issubclass(type(exc), BaseException) or issubclass(type(exc), StopIteration):
        # Only a hostile __reduce__ rebuilds an exception as something else.
        error: BaseException = UnpicklableError(
            f"the exception of this item came back from the worker as {describe(exc)}, "
            f"which a future cannot carry; {_EXCEPTION_HINT}"
        )
    else:
        assert isinstance(exc, BaseException)
        error = exc
    if text:
        # A class that guards its __cause__ keeps its own.
        with contextlib.suppress(BaseException):
            error.__cause__ = RemoteTraceback(text)
    return False, error


def _remote_text(exc: BaseException) -> str:
    """The traceback of ``exc`` as the text of a :class:`RemoteTraceback`."""
    try:
        text = "".join(traceback.format_exception(exc))
    except BaseException:  # the message must not fail because of what it describes
        text = f"{error_text(exc)} (its traceback could not be formatted)\n"
    return '\n"""\n' + text + '"""'


def _portable(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return ``entry`` if it survives a pickle round trip, else a failure naming the culprit."""
    try:
        pickle.loads(pickle.dumps(entry, PROTOCOL))
    except BaseException as problem:  # the item's own code failed
        value = entry[1]
        if entry[0]:
            subject = f"the result ({describe(value)})"
            return (False, unpicklable(subject, problem, _RESULT_HINT), "")
        subject = f"the exception ({describe(value)})"
        return (False, unpicklable(subject, problem, _EXCEPTION_HINT), entry[2])
    return entry


def stop_iteration_error(fn: Callable[..., Any], exc: StopIteration) -> RuntimeError:
    """Return the ``RuntimeError`` (chained from ``exc``) that stands in for a StopIteration.

    An asyncio future refuses to carry a ``StopIteration``, so a call that
    raises one is reported with this error instead, wherever it ran.
    """
    error = RuntimeError(
        f"{name_of(fn)} raised StopIteration, which cannot be delivered through a future; "
        "raise another exception or return a sentinel instead"
    )
    error.__cause__ = exc
    return error


def _coroutine_result(fn: Callable[..., Any], coroutine: CoroutineType[Any, Any, Any]) -> TypeError:
    """Close a coroutine that a sync call returned, and say what to do instead."""
    error = TypeError(
        f"{name_of(fn)} returned a coroutine; the grinder runs sync callables in executors, "
        "where nothing awaits it. Await async code on the event loop instead"
    )
    try:
        coroutine.close()
    except BaseException as exc:  # its cleanup code failed: keep that as the cause
        error.__cause__ = exc
    return error
