"""The pickled form of a chunk on its way to a process worker, and of its outcomes on the way back.

One bad item must not spoil its chunk, so a chunk does not travel as one
pickle, which fails as a whole when any part of it will not unpickle::

    parent: encode_calls
      ├─ each distinct function, and each distinct argument that is not plain
      │  data, is pickled on its own ──► objects: [(pickle, what it is), ...]
      │     one that will not pickle fails the items that use it, here
      └─ the calls, plain data inline, the rest as indices into objects
                                    ──► one pickle of [(fn, args, kwargs, refs), ...]
    worker: decode_calls
      ├─ each object is unpickled on its own; one that will not unpickle fails
      │  the items that use it with an UnpicklableError naming it
      └─ the calls are rebuilt around the objects
    worker: encode_outcomes ── a result or exception that will not pickle, or will
       │                       not unpickle again, fails its own item
       ▼
    parent: decode_outcomes ── re-attaches each worker traceback as a RemoteTraceback

Plain data (``None``, bools, ints, floats, complex numbers, strings, bytes)
unpickles anywhere, so the common chunk, many calls of one function on plain
arguments, still costs one pickle of the calls and one of the function. An
object passed to several items of a chunk is pickled once, and those items
share one copy of it in the worker. Pure functions; the worker side runs in
pool workers, the parent side on the owning loop.

What still fails a whole chunk: outcomes that unpickle in the worker (where
they are checked) but not in the parent, such as a result whose class only
the worker can import.
"""

from __future__ import annotations

import contextlib
import pickle
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ._errors import RemoteTraceback, UnpicklableError
from ._naming import describe, error_text, name_of, repr_of

__all__ = [
    "Call",
    "Dumps",
    "Outcome",
    "Payload",
    "decode_calls",
    "decode_outcomes",
    "encode_calls",
    "encode_outcomes",
]

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any] | None]
Outcome = tuple[bool, Any]
Dumps = Callable[[Any], bytes]

Where = int | str | None
"""Where an object goes in its call: a position, a keyword, or ``None`` for all the keywords."""

Entry = tuple[int, tuple[Any, ...], dict[str, Any] | None, tuple[tuple[Where, int], ...]]
"""One call on the wire: its function's index, its plain arguments, and where the objects go."""

Payload = tuple[list[tuple[bytes, str]], bytes]
"""``(objects, calls)``: each object's pickle and what it is; the pickled list of entries."""

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_PLAIN = frozenset(map(id, (type(None), bool, int, float, complex, str, bytes)))
"""Ids of the types whose exact instances travel inline: they unpickle anywhere.

Ids, so that the check never hashes a type (whose metaclass could be anyone's).
"""

_FUNCTION_HINT = (
    "submit a function defined at the top level of a module "
    "(lambdas, closures and nested functions cannot be pickled)"
)
_SEND_HINT = (
    "pass picklable data, and for callables a function defined at the top level of a "
    "module (lambdas and closures cannot be pickled)"
)
_LOAD_HINT = (
    "pass objects that survive pickle.loads(pickle.dumps(obj)) in a fresh process "
    "(classes importable by the worker, a __reduce__ that rebuilds them), or use a thread pool"
)
_IMPORT_HINT = (
    "submit a function that the worker process can import: defined at the top level of "
    "a module the worker can import"
)
_RESULT_HINT = "return picklable data (plain values, or instances of top-level classes)"
_EXCEPTION_HINT = (
    "raise an exception that pickles: pass every __init__ argument on to "
    "super().__init__() and keep its attributes picklable"
)


def _dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, _PROTOCOL)


class _Refused(Exception):
    """An item's function or argument will not pickle; carries the item's error."""

    def __init__(self, error: UnpicklableError) -> None:
        super().__init__()
        self.error = error


class _Encoder:
    """Pickles each distinct object of a chunk once, found by identity, never by hash."""

    def __init__(self, dumps: Dumps) -> None:
        self.dumps = dumps
        self.objects: list[tuple[bytes, str]] = []
        self.known: dict[int, int] = {}  # id(obj) -> its place in objects
        self._refused: dict[int, BaseException] = {}  # id(obj) -> why it will not pickle

    def entry(self, call: Call) -> Entry:
        """Return ``call`` as a wire entry.

        Raises:
            _Refused: its function or an argument will not pickle.
        """
        fn, args, kwargs = call
        fn_index = self._ref(fn)
        if fn_index < 0:
            raise self._refusal(fn, f"the function {name_of(fn)}", _FUNCTION_HINT)
        refs: list[tuple[Where, int]] = []
        plain = _PLAIN
        if not all(id(type(arg)) in plain for arg in args):
            inline = list(args)
            for position, arg in enumerate(args):
                if id(type(arg)) not in plain:
                    index = self._ref(arg)
                    if index < 0:
                        subject = f"positional argument #{position + 1} ({describe(arg)})"
                        raise self._refusal(arg, subject, _SEND_HINT)
                    refs.append((position, index))
                    inline[position] = None
            args = tuple(inline)
        if kwargs:
            kwargs = self._keywords(kwargs, refs)
        return fn_index, args, kwargs, tuple(refs)

    def _keywords(
        self, kwargs: dict[str, Any], refs: list[tuple[Where, int]]
    ) -> dict[str, Any] | None:
        """Return the inline keywords, adding a ref for each that travels as an object."""
        plain = _PLAIN
        if not all(type(key) is str for key in kwargs):  # str subclasses travel as objects
            index = self._ref(kwargs)
            if index < 0:
                raise self._refusal(kwargs, "the keyword arguments", _SEND_HINT)
            refs.append((None, index))
            return None
        if all(id(type(value)) in plain for value in kwargs.values()):
            return kwargs
        inline: dict[str, Any] = {}
        for key, value in kwargs.items():
            inline[key] = value
            if id(type(value)) not in plain:
                index = self._ref(value)
                if index < 0:
                    subject = f"keyword argument {key!r} ({describe(value)})"
                    raise self._refusal(value, subject, _SEND_HINT)
                refs.append((key, index))
                inline[key] = None
        return inline

    def _ref(self, obj: object) -> int:
        """Return where ``obj`` is in the objects, pickling it if new; -1 if it will not pickle."""
        key = id(obj)  # the chunk holds every object, so an id stays unique meanwhile
        index = self.known.get(key)
        if index is not None:
            return index
        if key in self._refused:
            return -1
        try:
            blob = self.dumps(obj)
        except BaseException as problem:  # the item's own code (a __reduce__) failed
            self._refused[key] = problem
            return -1
        self.known[key] = index = len(self.objects)
        self.objects.append((blob, describe(obj)))
        return index

    def _refusal(self, obj: object, subject: str, hint: str) -> _Refused:
        return _Refused(_unpicklable(subject, self._refused[id(obj)], hint))


def encode_calls(
    calls: Sequence[Call], dumps: Dumps = _dumps
) -> tuple[Payload, list[tuple[int, BaseException]]]:
    """Pickle a chunk in the parent with ``dumps``; never raises for an item's own data.

    Returns:
        The payload for the calls that pickle, and ``(index, error)`` for each
        call that does not; those are left out of the payload.
    """
    encoder = _Encoder(dumps)
    known = encoder.known
    plain = _PLAIN
    entries: list[Entry] = []
    bad: list[tuple[int, BaseException]] = []
    for index, call in enumerate(calls):
        fn, args, kwargs = call
        fn_index = known.get(id(fn))
        if fn_index is not None and not kwargs:  # the common case, inline: a known function
            for arg in args:
                if id(type(arg)) not in plain:
                    break
            else:  # ... on plain arguments
                entries.append((fn_index, args, None, ()))
                continue
        try:
            entries.append(encoder.entry(call))
        except _Refused as refused:
            bad.append((index, refused.error))
    try:
        return (encoder.objects, dumps(entries)), bad
    except Exception as problem:  # plain data always pickles; a broken ``dumps`` does not
        error = _unpicklable("the chunk of calls", problem, _SEND_HINT)
        left_out = {index for index, _ in bad}
        good = [(index, error) for index in range(len(calls)) if index not in left_out]
        return ([], dumps([])), sorted([*bad, *good], key=_first)


def _first(pair: tuple[int, BaseException]) -> int:
    return pair[0]


class _Broken:
    """Stands in for an object that did not unpickle in the worker."""

    __slots__ = ("problem",)

    def __init__(self, problem: BaseException) -> None:
        self.problem = problem


def decode_calls(payload: Payload) -> list[Call]:
    """Worker side: rebuild the calls; one whose objects do not unpickle raises its error.

    Such a call is replaced by one that raises the :class:`UnpicklableError`
    naming the object, so that it fails in its place and the rest still run.

    Raises:
        UnpicklableError: the list of calls itself does not unpickle (only
            plain data is in it, so only a worker out of memory gets here).
    """
    objects, blob = payload
    loaded: list[Any] = [_load(data) for data, _ in objects]
    try:
        entries: list[Entry] = pickle.loads(blob)
    except BaseException as problem:
        raise UnpicklableError(
            "the calls of this chunk cannot be unpickled in the worker "
            f"({error_text(problem)}); use a thread pool if this persists"
        ) from problem
    if any(type(value) is _Broken for value in loaded):
        return [_rebuild(entry, loaded, objects) for entry in entries]
    return [  # the common case, inline: every object unpickled
        (loaded[fn], args, kwargs) if not refs else _rebuild(entry, loaded, objects)
        for entry in entries
        for fn, args, kwargs, refs in (entry,)
    ]


def _load(data: bytes) -> object:
    try:
        return pickle.loads(data)
    except BaseException as problem:  # the item's own code (a reconstructor) failed
        return _Broken(problem)


def _rebuild(entry: Entry, loaded: list[Any], objects: list[tuple[bytes, str]]) -> Call:
    fn_index, args, kwargs, refs = entry
    fn = loaded[fn_index]
    if type(fn) is _Broken:
        return _failing(f"the callable ({objects[fn_index][1]})", fn.problem, _IMPORT_HINT)
    if refs:
        values = list(args)
        for where, index in refs:
            value = loaded[index]
            if type(value) is _Broken:
                return _failing(_subject(where, objects[index][1]), value.problem, _LOAD_HINT)
            if where is None:
                kwargs = value
            elif isinstance(where, int):  # the encoder's own ints and strs
                values[where] = value
            elif kwargs is not None:
                kwargs[where] = value
        args = tuple(values)
    return fn, args, kwargs


def _subject(where: Where, noun: str) -> str:
    if where is None:
        return f"the keyword arguments ({noun})"
    if type(where) is int:
        return f"positional argument #{where + 1} ({noun})"
    return f"keyword argument {repr_of(where)} ({noun})"


def _failing(subject: str, problem: BaseException, hint: str) -> Call:
    """A call that fails with the error for ``subject``, which did not unpickle."""
    error = UnpicklableError(
        f"{subject} was pickled in the parent but cannot be unpickled in the worker "
        f"({error_text(problem)}); {hint}"
    )
    error.__cause__ = problem
    return _raise, (error,), None


def _raise(error: BaseException) -> NoReturn:
    raise error


def encode_outcomes(outcomes: Sequence[Outcome]) -> bytes:
    """Worker side: pickle the outcomes; one that will not make the trip fails alone.

    Each exception travels with its formatted traceback. The pickle is
    unpickled once here, since some objects pickle but refuse to unpickle (an
    exception whose ``__init__`` takes extra arguments).
    """
    wire = [
        outcome if outcome[0] else (False, outcome[1], format_exception(outcome[1]))
        for outcome in outcomes
    ]
    try:
        blob = pickle.dumps(wire, _PROTOCOL)
        pickle.loads(blob)
    except BaseException:  # the items' own code (a __reduce__, a reconstructor) failed
        blob = pickle.dumps([_portable(entry) for entry in wire], _PROTOCOL)
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


def format_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` as the text of a :class:`RemoteTraceback`."""
    try:
        text = "".join(traceback.format_exception(exc))
    except BaseException:  # the message must not fail because of what it describes
        text = f"{error_text(exc)} (its traceback could not be formatted)\n"
    return '\n"""\n' + text + '"""'


def _portable(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return ``entry`` if it survives a pickle round trip, else a failure naming the culprit."""
    try:
        pickle.loads(pickle.dumps(entry, _PROTOCOL))
    except BaseException as problem:  # the item's own code failed
        value = entry[1]
        if entry[0]:
            subject = f"the result ({describe(value)})"
            return (False, _unpicklable(subject, problem, _RESULT_HINT), "")
        subject = f"the exception ({describe(value)})"
        return (False, _unpicklable(subject, problem, _EXCEPTION_HINT), entry[2])
    return entry


def _unpicklable(subject: str, problem: BaseException, hint: str) -> UnpicklableError:
    return UnpicklableError(
        f"{subject} cannot be pickled to cross the process boundary ({error_text(problem)}); {hint}"
    )
