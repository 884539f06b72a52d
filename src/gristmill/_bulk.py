"""One chunk of a ``grinder.map``: many items in one job, each item with its own outcome.

::

    loop: Mapper reads k items ──► ChunkTask ──► one ChunkJob on the grinder (weight k)
            │ process backends: encode_task pickles the task once; an item that
            │ will not pickle fails alone here (a "hole"), the rest travel
            ▼
    worker: run_chunk ── fn over each item; an item's exception is its own ──► ChunkResult
            │ process backends: results or exceptions that will not pickle fail alone
            ▼
    loop: ChunkJob.set_result ── unpickles, counts the items that failed ──► the Mapper

``map`` never creates a future per item: the grinder sees one job per chunk,
a :class:`ChunkJob` whose ``weight`` is its item count, so the grinder's
counters and hooks still count items (see :mod:`gristmill._tally`).
:func:`_apply` is the one place that calls the user's function on a chunk's
items, so a function that takes a whole chunk at once would plug in there.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from types import CoroutineType
from typing import Any, NamedTuple

from ._batched import BatchFunction, call_batch, plan_calls
from ._clock import stopwatch
from ._errors import RemoteTraceback, UnpicklableError
from ._job import Job
from ._naming import describe
from ._progress import restart
from ._wire import _SEND_HINT, unpicklable
from ._worker import (
    _EXCEPTION_HINT,
    _RESULT_HINT,
    Dumps,
    _coroutine_result,
    _remote_text,
    stop_iteration_error,
)

__all__ = ["ChunkJob", "ChunkResult", "ChunkTask", "Claim", "encode_task", "run_chunk"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL

Errors = dict[int, BaseException]


class ChunkTask(NamedTuple):
    """What a worker needs to run one chunk.

    Attributes:
        fn: The user's function.
        items: One argument per item, or one tuple of arguments per item (``spread``).
        spread: Call ``fn(*item)`` rather than ``fn(item)`` (``map`` over several iterables).
        timed: Items have a run timeout: restart the progress board's clock per item,
            so the timeout applies to each item, not to the whole chunk.
        holes: Items that never left the parent (they would not pickle), by their
            place in the chunk, with their errors; ``items`` holds the others.
        claim: Taken by the worker as the chunk starts, or by the loop as it
            cancels the chunk, whichever comes first (thread backends; a
            pickled chunk carries none).
    """

    fn: Callable[..., Any]
    items: Sequence[Any]
    spread: bool
    timed: bool
    holes: Errors | None = None
    claim: Claim | None = None


class Claim:
    """One chunk's start, claimed once: by its worker (to run it) or by the loop (to drop it).

    A chunk can sit in an executor's own queue after the grinder handed it
    over; cancelling its future does not stop it from running there. The
    worker takes the claim before the first item and the loop takes it before
    cancelling, so a chunk that has not started never will, and one that has
    keeps its results. ``list.pop`` is atomic, so no lock is needed.
    """

    __slots__ = ("_token",)

    def __init__(self) -> None:
        self._token: list[None] = [None]

    def take(self) -> bool:
        """Claim the chunk; False if the other side already has."""
        try:
            self._token.pop()
        except IndexError:
            return False
        return True


class ChunkResult(NamedTuple):
    """Per-item outcomes of one chunk, in item order.

    Attributes:
        values: Each item's result; ``None`` where the item failed.
        errors: The failed items' exceptions, by their place in the chunk, or ``None``.
        seconds: How long the items took in the worker, to size later chunks.
        remote: Formatted worker tracebacks of the errors (process backends), or ``None``.
    """

    values: list[Any]
    errors: Errors | None
    seconds: float
    remote: dict[int, str] | None = None

    @property
    def failed(self) -> int:
        """How many items failed."""
        return len(self.errors) if self.errors else 0


class ChunkJob(Job):
    """A queued ``map`` chunk: one job, one future, ``weight`` items.

    Its result is a :class:`ChunkResult` (pickled on process backends, and
    unpickled here, on the owning loop). Setting it records how many items
    failed, which :meth:`Engine.settle <gristmill._engine.Engine.settle>`
    counts; a result that cannot be unpickled here fails every item of the
    chunk with :class:`~gristmill.UnpicklableError`.
    """

    __slots__ = ("failures", "weight")

    def set_result(self, result: Any) -> None:
        """Resolve with a chunk's outcomes (bytes from a process worker are unpickled first)."""
        if type(result) is bytes:
            try:
                result = _decode(result)
            except UnpicklableError as error:
                self.failures = self.weight
                super().set_exception(error)
                return
        self.failures = result.failed
        super().set_result(result)


def run_chunk(task: ChunkTask | bytes) -> ChunkResult | bytes:
    """Worker side: run every item of a chunk; never raises for an item's own failure.

    A :class:`ChunkTask` (thread backends) gives a :class:`ChunkResult`;
    bytes (process backends, from :func:`encode_task`) give the result
    pickled, with any result or exception that will not make the trip back
    failing its own item with :class:`~gristmill.UnpicklableError`.

    Raises:
        UnpicklableError: the task pickled in the parent but does not unpickle
            here, so no item of the chunk can run.
    """
    if type(task) is not bytes:
        assert isinstance(task, ChunkTask)
        return _run(task)
    try:
        unpacked: ChunkTask = pickle.loads(task)
    except Exception as problem:
        raise UnpicklableError(
            "the items of this map chunk pickled in the parent but cannot be unpickled in "
            f"the worker ({type(problem).__name__}: {problem}); pass items that survive "
            "pickle.loads(pickle.dumps(item)), or use the thread backend"
        ) from problem
    return _encode_result(_run(unpacked))


def encode_task(task: ChunkTask, dumps: Dumps, first: int) -> bytes:
    """Parent side, process backends: pickle ``task``; an item that will not pickle fails alone.

    ``first`` is the map-wide number of the chunk's first item, for the messages.

    Raises:
        UnpicklableError: the function itself will not pickle, so no item can run.
    """
    try:
        return dumps(task)
    except Exception:
        pass
    keep: list[Any] = []
    holes: Errors = {}
    for index, item in enumerate(task.items):
        try:
            dumps(item)
        except Exception as problem:
            holes[index] = unpicklable(
                f"item #{first + index} ({describe(item)})", problem, _SEND_HINT
            )
        else:
            keep.append(item)
    try:
        return dumps(task._replace(items=keep, holes=holes))
    except Exception as problem:
        raise unpicklable(f"the function ({describe(task.fn)})", problem, _SEND_HINT) from problem


_DROPPED = ChunkResult([], None, 0.0)
"""What a worker returns for a chunk the loop cancelled before it started; never seen."""


def _run(task: ChunkTask) -> ChunkResult:
    if task.claim is not None and not task.claim.take():
        return _DROPPED
    started = stopwatch()
    values, errors = _apply(task.fn, task.items, task.spread, task.timed)
    if task.holes:
        values, errors = _fill(values, errors, task.holes)
    return ChunkResult(values, errors, stopwatch() - started)


def _apply(
    fn: Callable[..., Any], items: Sequence[Any], spread: bool, timed: bool
) -> tuple[list[Any], Errors | None]:
    """Call ``fn`` on each item, in order; an item's exception becomes its outcome.

    The loop runs unguarded until an item raises, then resumes after it, so
    each item runs exactly once and a chunk without failures pays no
    per-item bookkeeping. Every exception counts, ``SystemExit`` and
    ``KeyboardInterrupt`` included, as in :func:`~gristmill._worker.call_each`.
    """
    if type(fn) is BatchFunction:
        return _apply_batched(fn, [args[0] for args in items] if spread else list(items))
    values: list[Any] = []
    append = values.append
    errors: Errors | None = None
    rest = iter(items)
    while True:
        try:
            if timed:
                for item in rest:
                    restart()
                    append(fn(*item) if spread else fn(item))
            elif spread:
                for args in rest:
                    append(fn(*args))
            else:
                for item in rest:
                    append(fn(item))
        except BaseException as exc:  # the item's own outcome; the next one still runs
            if errors is None:
                errors = {}
            errors[len(values)] = (
                stop_iteration_error(fn, exc) if isinstance(exc, StopIteration) else exc
            )
            append(None)
        else:
            break
    if CoroutineType in map(type, values):
        errors = _refuse_coroutines(fn, values, errors)
    return values, errors


def _apply_batched(
    fn: BatchFunction[Any, Any], items: list[Any]
) -> tuple[list[Any], Errors | None]:
    """A map chunk of a batch function: its items go to the function in calls, not one by one.

    The chunk's items are grouped by ``key`` and cut at ``max_batch_size``
    as a batch's are (:func:`~gristmill._batched.plan_calls`), then each call
    runs through :func:`~gristmill._batched.call_batch` (dedupe, split).
    """
    values: list[Any] = [None] * len(items)
    errors: Errors = {}
    plan = plan_calls([fn] * len(items), [(item,) for item in items])
    for index, error in plan.refused:
        errors[index] = error
    for function, members in plan.calls:
        outcomes, _ = call_batch(function, [items[i] for i in members])
        for index, (ok, value) in zip(members, outcomes, strict=True):
            if ok:
                values[index] = value
            else:
                errors[index] = value
    return values, errors or None


def _refuse_coroutines(fn: Callable[..., Any], values: list[Any], errors: Errors | None) -> Errors:
    """Fail each item whose call returned a coroutine (closed): nothing would await it."""
    errors = errors or {}
    for index, value in enumerate(values):
        if type(value) is CoroutineType:
            values[index] = None
            errors[index] = _coroutine_result(fn, value)
    return errors


def _fill(values: list[Any], errors: Errors | None, holes: Errors) -> tuple[list[Any], Errors]:
    """Put the items that never left the parent back in their places, failed."""
    ran = iter(enumerate(values))
    full: list[Any] = []
    merged: Errors = {}
    for index in range(len(values) + len(holes)):
        if index in holes:
            full.append(None)
            merged[index] = holes[index]
            continue
        position, value = next(ran)
        full.append(value)
        if errors and position in errors:
            merged[index] = errors[position]
    return full, merged


_PLAIN = frozenset({str, int, float, bool, type(None), bytes})
"""Types whose values always survive a pickle round trip."""


def _encode_result(result: ChunkResult) -> bytes:
    """Pickle ``result`` for the trip back; what will not make it fails its own item."""
    if result.errors:
        result = result._replace(remote={i: _remote_text(e) for i, e in result.errors.items()})
    elif _PLAIN.issuperset(map(type, result.values)):
        return pickle.dumps(result, _PROTOCOL)  # nothing to check
    try:
        blob = pickle.dumps(result, _PROTOCOL)
        pickle.loads(blob)  # some objects pickle but refuse to unpickle
    except Exception:
        blob = pickle.dumps(_portable(result), _PROTOCOL)
    return blob


def _portable(result: ChunkResult) -> ChunkResult:
    """Replace every value or exception that fails a pickle round trip by an error naming it."""
    values = list(result.values)
    errors = dict(result.errors or {})
    for index, value in enumerate(values):
        if index not in errors and (problem := _round_trip_problem(value)) is not None:
            values[index] = None
            errors[index] = unpicklable(f"the result ({describe(value)})", problem, _RESULT_HINT)
    for index, exc in list(errors.items()):
        if (problem := _round_trip_problem(exc)) is not None:
            errors[index] = unpicklable(
                f"the exception ({describe(exc)})", problem, _EXCEPTION_HINT
            )
    return result._replace(values=values, errors=errors or None)


def _round_trip_problem(obj: object) -> Exception | None:
    try:
        pickle.loads(pickle.dumps(obj, _PROTOCOL))
    except Exception as problem:
        return problem
    return None


def _decode(blob: bytes) -> ChunkResult:
    """Parent side: unpickle a worker's chunk result, re-attaching each remote traceback."""
    try:
        result: ChunkResult = pickle.loads(blob)
    except Exception as problem:
        raise UnpicklableError(
            "the results of this map chunk cannot be unpickled in the parent "
            f"({type(problem).__name__}: {problem}); return data whose classes the parent "
            "can import"
        ) from problem
    if result.remote and result.errors:
        for index, text in result.remote.items():
            if index in result.errors and text:
                result.errors[index].__cause__ = RemoteTraceback(text)
    return result
