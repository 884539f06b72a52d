"""Batch functions: one call ``fn(items)`` over many callers' items.

A :class:`BatchFunction` wraps a sync function that takes a list of items and
returns a sequence of results, one per item, in order. Submitted to a grinder
with one item, it joins the grinder's queue like any job; when a batch is cut,
its items are grouped into calls, and each caller gets its own element back::

    callers: submit(embed, "a"), submit(embed, "b"), submit(embed, "c") ...
                    │ one batch, cut by the grinder's usual rules
                    ▼
    plan_calls: group by function (and key), cap at max_batch_size
                    ▼
    worker: call_batch ── dedupe ── embed(["a", "b", "c"]) ── on error: split in halves
                    ▼
    results[i] ──► caller i  (an Exception element fails that caller alone)

The worker side (:func:`call_batch`) is pure and runs in pool workers; the
parent side (:func:`plan_calls`, :func:`check_batch_args`) runs on the owning
loop.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import operator
import sys
import types
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast, final, get_args, overload

from . import _validate as validate
from ._errors import WrongTypeError
from ._naming import name_of

__all__ = [
    "BatchFunction",
    "CallPlan",
    "OnError",
    "batched",
    "call_batch",
    "check_batch_args",
    "plan_calls",
]

I = TypeVar("I")  # noqa: E741  (the item type, as in the docs)
R = TypeVar("R")
J = TypeVar("J")

OnError = Literal["fail", "split"]
Outcome = tuple[bool, Any]


@final
class BatchFunction(Generic[I, R]):
    """A sync function over a list of items that a grinder calls once for many callers.

    Made by :func:`batched`. Called directly, it is the plain function:
    ``embed(["a", "b"])`` runs ``embed`` on the list. Submitted to a grinder,
    it takes exactly one positional argument, the item::

        vector = await grinder.submit(embed, "hello")

    and the grinder joins the items of many callers into calls ``fn(items)``.
    A module-level batch function pickles by reference (its function is
    found as ``module.<name>.fn``), so process workers import it as any
    top-level function; ``key`` stays in the parent.

    Attributes:
        fn: The wrapped function, ``fn(list[I]) -> Sequence[R]``.
        max_batch_size: Most items one call takes; ``None`` for no cap.
        key: Items whose ``key(item)`` differ never share a call; ``None``: one group.
        dedupe: Equal, hashable items of one call are passed to ``fn`` once.
        on_error: ``"fail"``: when ``fn`` raises, every item of the call fails
            with that error; ``"split"``: the call is retried in halves until
            only the items that make ``fn`` raise fail.
    """

    __slots__ = (
        "__dict__",
        "dedupe",
        "fn",
        "key",
        "max_batch_size",
        "on_error",
    )

    __name__: str
    __qualname__: str
    fn: Callable[[list[I]], Sequence[R]]
    max_batch_size: int | None
    key: Callable[[I], Hashable] | None
    dedupe: bool
    on_error: OnError

    def __init__(
        self,
        fn: Callable[[list[I]], Sequence[R]],
        *,
        max_batch_size: int | None = None,
        key: Callable[[I], Hashable] | None = None,
        dedupe: bool = False,
        on_error: OnError = "fail",
    ) -> None:
        validate.sync_callable(fn)
        self.fn = fn
        self.max_batch_size = (
            None
            if max_batch_size is None
            else validate.positive_int("max_batch_size", max_batch_size)
        )
        if key is not None and not callable(key):
            raise WrongTypeError(f"key must be a callable or None, got {type(key).__name__}")
        self.key = key
        if not isinstance(dedupe, bool):
            raise WrongTypeError(f"dedupe must be a bool, got {type(dedupe).__name__}")
        self.dedupe = dedupe
        self.on_error = validate.choice("on_error", on_error, get_args(OnError))
        functools.update_wrapper(self, fn)  # __name__, __qualname__, __module__, __doc__

    def __call__(self, items: list[I]) -> Sequence[R]:
        """Call the wrapped function on ``items``, exactly as if it were not decorated."""
        return self.fn(items)

    def __reduce__(self) -> tuple[Callable[..., BatchFunction[I, R]], tuple[Any, ...]]:
        """Pickle the wrapped function (by reference where it can be) and what workers need.

        ``key`` and ``max_batch_size`` act in the parent only, so they do not
        travel: a lambda ``key`` never stops a call from reaching a process.
        """
        _reachable_through(self)
        return _restore, (self.fn, self.dedupe, self.on_error)

    def __repr__(self) -> str:
        return f"<BatchFunction {name_of(self.fn)} max_batch_size={self.max_batch_size}>"


@overload
def batched(fn: Callable[[list[I]], Sequence[R]], /) -> BatchFunction[I, R]: ...


@overload
def batched(
    fn: None = None,
    /,
    *,
    max_batch_size: int | None = None,
    key: Callable[[Any], Hashable] | None = None,
    dedupe: bool = False,
    on_error: OnError = "fail",
) -> Callable[[Callable[[list[I]], Sequence[R]]], BatchFunction[I, R]]: ...


def batched(
    fn: Callable[[list[I]], Sequence[R]] | None = None,
    /,
    *,
    max_batch_size: int | None = None,
    key: Callable[[Any], Hashable] | None = None,
    dedupe: bool = False,
    on_error: OnError = "fail",
) -> BatchFunction[I, R] | Callable[[Callable[[list[I]], Sequence[R]]], BatchFunction[I, R]]:
    """Make a sync function over a list into a :class:`BatchFunction`: ``@batched(...)``.

    ``fn`` takes a list of items and returns a sequence of the same length,
    in the same order. An element that is an ``Exception`` instance fails
    that one item (the DataLoader convention); a result of the wrong length,
    or that is not a sequence, fails every item of the call with an error
    that names the function and both lengths.

    Args:
        fn: The function, when used as ``@batched`` without arguments.
        max_batch_size: Most items one call takes; ``None`` (default): no cap.
        key: A function of one item returning a hashable; items with
            different keys never share a call (a model name, a tenant).
        dedupe: Pass equal, hashable items of one call to ``fn`` once and
            give the result to each of their callers.
        on_error: ``"fail"`` (default) or ``"split"``; see :class:`BatchFunction`.

    Raises:
        TypeError: ``fn`` is not callable or is an ``async def`` function; a
            parameter has the wrong type.
        ValueError: ``max_batch_size`` is not a whole number > 0; an unknown
            ``on_error``.
    """
    options: dict[str, Any] = {
        "max_batch_size": max_batch_size,
        "key": key,
        "dedupe": dedupe,
        "on_error": on_error,
    }
    if fn is None:
        BatchFunction(_check_only, **options)  # validate the options now, at decoration

        def decorate(function: Callable[[list[J]], Sequence[R]]) -> BatchFunction[J, R]:
            return BatchFunction(function, **options)

        return decorate
    return BatchFunction(fn, **options)


def _reachable_through(wrapper: BatchFunction[Any, Any]) -> None:
    """Let pickle find a decorated module-level function by reference, as ``module.<name>.fn``.

    ``@batched`` rebinds the function's module-level name to the wrapper, so
    the plain function can no longer be found under its own name: its
    qualified name is pointed at the wrapper's ``fn`` attribute instead. A
    function still reachable under its own name (``fast = batched(slow)``),
    or defined inside another function (cloudpickle-based backends ship it by
    value), is left alone.
    """
    fn = wrapper.fn
    name = getattr(fn, "__qualname__", None)
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    if not isinstance(fn, types.FunctionType) or not isinstance(name, str) or module is None:
        return
    try:
        target: object = functools.reduce(getattr, name.split("."), module)
    except Exception:  # not reachable by name: nothing to point
        return
    if target is wrapper:
        fn.__qualname__ = f"{name}.fn"


def _restore(fn: Callable[[list[Any]], Sequence[Any]], dedupe: bool, on_error: OnError) -> Any:
    """Rebuild a batch function in a worker from what :meth:`BatchFunction.__reduce__` sent."""
    return BatchFunction(fn, dedupe=dedupe, on_error=on_error)


def _check_only(items: list[Any]) -> list[Any]:
    """Stands in for the function while ``batched(...)`` checks its options."""
    return items


def check_batch_args(fn: BatchFunction[Any, Any], args: tuple[Any, ...], kwargs: object) -> None:
    """Refuse a batch-function submission that is not exactly one positional item.

    Raises:
        TypeError: keywords, or a number of positional arguments other than one.
    """
    if len(args) != 1 or kwargs:
        raise TypeError(
            f"a batch function takes exactly one positional argument, the item, when it is "
            f"submitted ({name_of(fn.fn)} got {len(args)} positional argument(s)"
            f"{' and keywords' if kwargs else ''}); submit each item on its own, and the "
            "grinder joins them into calls"
        )


# -- the parent side: which items share a call ------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallPlan:
    """How a batch's items reach their workers.

    Attributes:
        singles: Positions of the items that run as plain calls, in order.
        calls: For each call of a batch function: the function and the
            positions of its items, at most ``max_batch_size`` of them.
        refused: Positions of items whose ``key`` failed, with the error.
    """

    singles: list[int]
    calls: list[tuple[BatchFunction[Any, Any], list[int]]]
    refused: list[tuple[int, BaseException]]


def plan_calls(fns: Sequence[Any], args: Sequence[tuple[Any, ...]]) -> CallPlan:
    """Group the items of a batch into calls: by batch function, then by key.

    ``fns[i]`` is item ``i``'s callable and ``args[i]`` its positional
    arguments (a batch function's item is its only one).
    Groups keep the order in which their first item came; a group larger
    than its cap is cut into calls of as even a size as the cap allows. A
    ``key`` that raises, or returns something unhashable, refuses that item
    alone. Never raises for an item's own fault.
    """
    first = fns[0] if fns else None
    if (
        type(first) is BatchFunction
        and first.key is None
        and all(map(operator.is_, fns, itertools.repeat(first)))
    ):  # the common batch: one batch function, no key
        return CallPlan(
            [],
            [(first, part) for part in _even_parts(list(range(len(fns))), first.max_batch_size)],
            [],
        )
    singles: list[int] = []
    refused: list[tuple[int, BaseException]] = []
    groups: dict[tuple[int, Any], list[int]] = {}
    owners: dict[int, BatchFunction[Any, Any]] = {}
    for index, fn in enumerate(fns):
        if type(fn) is not BatchFunction:
            singles.append(index)
            continue
        try:
            group = (id(fn), None if fn.key is None else fn.key(args[index][0]))
            members = groups.setdefault(group, [])
        except Exception as exc:
            refused.append((index, _key_error(fn, exc)))
            continue
        owners[id(fn)] = fn
        members.append(index)
    calls = [
        (owners[fn_id], part)
        for (fn_id, _), members in groups.items()
        for part in _even_parts(members, owners[fn_id].max_batch_size)
    ]
    return CallPlan(singles, calls, refused)


def _even_parts(members: list[int], cap: int | None) -> list[list[int]]:
    """Cut ``members`` into ``ceil(len / cap)`` parts whose sizes differ by at most one."""
    if cap is None or len(members) <= cap:
        return [members]
    count = math.ceil(len(members) / cap)
    size, extra = divmod(len(members), count)
    parts: list[list[int]] = []
    start = 0
    for number in range(count):
        end = start + size + (number < extra)
        parts.append(members[start:end])
        start = end
    return parts


def _key_error(fn: BatchFunction[Any, Any], exc: Exception) -> TypeError:
    error = TypeError(
        f"the key of batch function {name_of(fn.fn)} failed for this item "
        f"({type(exc).__name__}); key must return a hashable value for every item"
    )
    error.__cause__ = exc
    return error


# -- the worker side: one call -----------------------------------------------------------------


def call_batch(function: BatchFunction[Any, Any], items: list[Any]) -> tuple[list[Outcome], int]:
    """Call ``function`` over ``items``; return each item's outcome and how many calls it took.

    Never raises for the function's own failure: every exception, a
    ``BaseException`` included, becomes the outcome of the items it concerns.
    """
    if not function.dedupe:
        return _call(function, items)
    unique, slots = _dedupe(items)
    outcomes, calls = _call(function, unique)
    return [outcomes[slot] for slot in slots], calls


def _call(function: BatchFunction[Any, Any], items: list[Any]) -> tuple[list[Outcome], int]:
    outcomes, error = _attempt(function, items)
    if error is None:
        return outcomes, 1
    if function.on_error == "split" and len(items) > 1:
        found, calls = _isolate(function, items, error)
        return found, 1 + calls
    return [(False, copy) for copy in _one_each(error, len(items))], 1


def _attempt(
    function: BatchFunction[Any, Any], items: list[Any]
) -> tuple[list[Outcome], BaseException | None]:
    """Call ``function`` once over ``items``: their outcomes, or the error the call raised."""
    try:
        results = function.fn(list(items))
    except BaseException as exc:  # each item's outcome belongs to its caller
        return [], _worker_error(function, exc)
    return _spread(function, results, len(items)), None


def _isolate(
    function: BatchFunction[Any, Any], items: list[Any], error: BaseException
) -> tuple[list[Outcome], int]:
    """Find the items whose presence makes ``function`` raise; every other item gets its result.

    ``items`` together raised ``error``. A binary search follows one poison
    item at a time: the left half of the failing group is called; if it
    succeeds, the poison is in the right half, which is not called but split
    again; if it fails, the right half waits. Once a poison is alone, it
    fails with the error of the last call that held it, and everything that
    waited is called together, to be searched the same way if it fails too.

    The first search's last step spares that extra call: when the left half
    is one item, the waiting items ride along with it. If that call
    succeeds, everything in it is served and the other item is the poison;
    if it fails, the other item is called with the waiting ones, and if that
    succeeds the first item is the poison. If both fail, another poison is
    among the waiting, and the first item called alone says which group the
    search goes on in; no group is called again to learn what is known.

    So one poison among ``n`` items costs about ``log2(n) + 0.5`` calls on
    average, within a few hundredths of the least any strategy can average
    when each good item must still get its result
    (``benchmarks/split_bound.py`` computes that bound). When nearly every
    item fails (a database that is down) each item costs up to about
    ``log2(n)`` calls: 3.4 for 16 items, 7 for 256, so a function that may
    fail wholesale is better left on ``"fail"``. This assumes that an item's
    presence is what makes a call fail, not a combination of items.

    Returns:
        Each item's outcome and the calls made.
    """
    outcomes: list[Outcome | None] = [None] * len(items)
    calls = 0

    def attempt(indices: list[int]) -> BaseException | None:
        """Call ``function`` over ``indices``; serve them if it succeeds, else return its error."""
        nonlocal calls
        calls += 1
        found, raised = _attempt(function, [items[i] for i in indices])
        if raised is None:
            for index, outcome in zip(indices, found, strict=True):
                outcomes[index] = outcome
        return raised

    failing = list(range(len(items)))  # holds a poison; raised `error` together
    waiting: list[int] = []  # unserved, unknown
    first = True  # no poison found yet: the waiting items may ride along
    while failing:
        if len(failing) == 1:  # a poison, found
            outcomes[failing[0]] = (False, error)
            first = False
            failing, waiting = waiting, []
            if failing and (raised := attempt(failing)) is not None:
                error = raised
                continue
            break
        left, right = failing[: len(failing) // 2], failing[len(failing) // 2 :]
        if first and len(left) == 1 and waiting:  # the last step of the first search
            raised = attempt(left + waiting)
            if raised is None:
                failing, waiting = right, []
                continue
            other = attempt(right + waiting)
            if other is None:  # so the left item is the poison
                outcomes[left[0]] = (False, raised)
                break
            first = False  # another poison is about: the left item alone says where
            alone = attempt(left)
            if alone is not None:  # the left item is a poison; the rest failed together
                outcomes[left[0]] = (False, alone)
                failing, error, waiting = right + waiting, other, []
            elif len(right) == 1:  # the right item is the poison, and the waiting hold one
                outcomes[right[0]] = (False, other)
                failing, error, waiting = waiting, raised, []
            else:  # the right half holds a poison, and so do the waiting
                failing, error = right, other
            continue
        raised = attempt(left)
        if raised is None:
            failing = right
            continue
        waiting += right
        failing, error = left, raised
    return cast(list[Outcome], outcomes), calls  # every item was settled above


def _spread(function: BatchFunction[Any, Any], results: object, expected: int) -> list[Outcome]:
    """Pair each result with its item: an ``Exception`` element fails that item alone."""
    try:
        if isinstance(results, (str, bytes, Mapping)) or not hasattr(results, "__getitem__"):
            raise TypeError("not a sequence")
        values = list(cast(Sequence[Any], results))
    except Exception:
        error: Exception = TypeError(
            f"batch function {name_of(function.fn)} returned a {type(results).__name__}, not a "
            f"sequence of {expected} results, one per item in order"
        )
        return [(False, copy_error) for copy_error in _one_each(error, expected)]
    if len(values) != expected:
        error = ValueError(
            f"batch function {name_of(function.fn)} returned {len(values)} results for "
            f"{expected} items; it must return exactly one result per item, in order"
        )
        return [(False, copy_error) for copy_error in _one_each(error, expected)]
    return [(False, value) if isinstance(value, Exception) else (True, value) for value in values]


def _worker_error(function: BatchFunction[Any, Any], exc: BaseException) -> BaseException:
    if isinstance(exc, StopIteration):  # a future refuses to carry one
        error = RuntimeError(
            f"batch function {name_of(function.fn)} raised StopIteration, which cannot be "
            "delivered through a future; raise another exception instead"
        )
        error.__cause__ = exc
        return error
    return exc


def _one_each(error: BaseException, count: int) -> list[BaseException]:
    """``count`` copies of ``error``, so no caller's traceback piles up on another's."""
    copies = [error]
    for _ in range(count - 1):
        try:
            twin = copy.copy(error)
        except Exception:  # an exception that will not copy is shared, as a last resort
            twin = error
        else:
            twin.__cause__, twin.__context__ = error.__cause__, error.__context__
            twin.__traceback__ = error.__traceback__
        copies.append(twin)
    return copies


def _dedupe(items: list[Any]) -> tuple[list[Any], list[int]]:
    """Return the distinct items and, per item, where its one copy sits among them.

    Items that cannot be hashed or compared (their ``__hash__`` or ``__eq__``
    raises) are never merged.
    """
    first: dict[Any, int] = {}
    unique: list[Any] = []
    slots: list[int] = []
    for item in items:
        try:
            slot = first.get(item)
            if slot is None:
                slot = first[item] = len(unique)
                unique.append(item)
        except Exception:
            slot = len(unique)
            unique.append(item)
        slots.append(slot)
    return unique, slots
