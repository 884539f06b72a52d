"""The pickled form of a chunk's calls on their way to a process worker.

One bad item must not spoil its chunk, so a chunk does not travel as one
pickle of its calls, which fails as a whole when any part of it will not
unpickle (the outcomes' way back is in :mod:`gristmill._worker`)::

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

Plain data (``None``, bools, ints, floats, complex numbers, strings, bytes)
unpickles anywhere. The common chunk, many calls of one function on plain
positional arguments, is recognised in a few passes at C speed and travels as
two pickles: the function, and the list of argument tuples. An object passed
to several items of a chunk is pickled once, and those items share one copy
of it in the worker. Found by identity and type, never by hash or equality, so
no user code runs on the loop but a ``__reduce__`` (and an argument tuple's
``__iter__``), whose failure is its item's own. Pure functions; the worker side
runs in pool workers, the parent side on the owning loop.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any, NoReturn

from ._errors import UnpicklableError
from ._naming import describe, error_text, name_of, repr_of

__all__ = [
    "PROTOCOL",
    "Call",
    "Dumps",
    "Outcome",
    "Payload",
    "decode_calls",
    "encode_calls",
    "unpicklable",
]

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any] | None]
Outcome = tuple[bool, Any]
Dumps = Callable[[Any], bytes]

Where = int | str | None
"""Where an object goes in its call: a position, a keyword, or ``None`` for all the keywords."""

Entry = tuple[int, tuple[Any, ...], dict[str, Any] | None, tuple[tuple[Where, int], ...]]
"""One call on the wire: its function's index, its plain arguments, and where the objects go."""

Payload = tuple[list[tuple[bytes, str]], bytes, bool]
"""``(objects, calls, uniform)``: each object's pickle and what it is, then the calls.

``uniform``: every call is of ``objects[0]`` on plain positional arguments
alone, and ``calls`` is the pickled list of their argument tuples. Otherwise
``calls`` is the pickled list of :data:`Entry`.
"""

PROTOCOL = pickle.HIGHEST_PROTOCOL
_PLAIN = frozenset(map(id, (type(None), bool, int, float, complex, str, bytes)))
"""Ids of the types whose exact instances travel inline: they unpickle anywhere.

Ids, so that the check never hashes a type (whose metaclass could be anyone's).
"""

_TUPLE = frozenset({id(tuple)})

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


def _dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, PROTOCOL)


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
        if type(args) is not tuple:  # Work(args=a_namedtuple): the call sees the same values
            args = tuple(args)
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
        if type(kwargs) is not dict or not all(type(key) is str for key in kwargs):
            index = self._ref(kwargs)  # str subclass keys: the whole mapping travels as one
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
        return _Refused(unpicklable(subject, self._refused[id(obj)], hint))


def encode_calls(
    calls: Sequence[Call], dumps: Dumps = _dumps
) -> tuple[Payload, list[tuple[int, BaseException]]]:
    """Pickle a chunk in the parent with ``dumps``; never raises for an item's own data.

    Returns:
        The payload for the calls that pickle, and ``(index, error)`` for each
        call that does not; those are left out of the payload.
    """
    arguments = _uniform_arguments(calls)
    if arguments is not None:  # the common chunk: one function, plain arguments
        fn = calls[0][0]
        try:
            return ([(dumps(fn), describe(fn))], dumps(arguments), True), []
        except BaseException:  # the function will not pickle: the general path names it
            pass
    encoder = _Encoder(dumps)
    known = encoder.known
    plain = _PLAIN
    entries: list[Entry] = []
    bad: list[tuple[int, BaseException]] = []
    for index, call in enumerate(calls):
        fn, args, kwargs = call
        fn_index = known.get(id(fn))
        if fn_index is not None and not kwargs and type(args) is tuple:  # inline: a known
            for arg in args:  # function on plain arguments
                if id(type(arg)) not in plain:
                    break
            else:
                entries.append((fn_index, args, None, ()))
                continue
        try:
            entries.append(encoder.entry(call))
        except _Refused as refused:
            bad.append((index, refused.error))
        except BaseException as problem:  # its own code failed (a tuple subclass's __iter__)
            bad.append((index, unpicklable("the call", problem, _SEND_HINT)))
    try:
        return (encoder.objects, dumps(entries), False), bad
    except Exception as problem:  # plain data always pickles; a broken ``dumps`` does not
        error = unpicklable("the chunk of calls", problem, _SEND_HINT)
        left_out = {index for index, _ in bad}
        good = [(index, error) for index in range(len(calls)) if index not in left_out]
        return ([], dumps([]), False), sorted([*bad, *good], key=_first)


def _uniform_arguments(calls: Sequence[Call]) -> list[tuple[Any, ...]] | None:
    """The calls' argument tuples, if all call one function on plain positional arguments.

    Checked in a few passes at C speed, by identity and by type, so that no
    user code runs (no ``__hash__``, no ``__iter__`` of a tuple subclass).
    """
    if not calls:
        return None
    fns, arguments, keywords = zip(*calls, strict=True)
    if len(set(map(id, fns))) != 1 or any(keywords):
        return None
    if not set(map(id, map(type, arguments))) <= _TUPLE:
        return None
    if not set(map(id, map(type, chain.from_iterable(arguments)))) <= _PLAIN:
        return None
    return list(arguments)


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
    objects, blob, uniform = payload
    loaded: list[Any] = [_load(data) for data, _ in objects]
    try:
        entries: list[Any] = pickle.loads(blob)
    except BaseException as problem:
        raise UnpicklableError(
            "the calls of this chunk cannot be unpickled in the worker "
            f"({error_text(problem)}); use a thread pool if this persists"
        ) from problem
    if uniform:
        fn = loaded[0]
        if type(fn) is _Broken:
            return [_broken_function(objects[0][1], fn.problem) for _ in entries]
        return [(fn, args, None) for args in entries]
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
        return _broken_function(objects[fn_index][1], fn.problem)
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


def _broken_function(noun: str, problem: BaseException) -> Call:
    return _failing(f"the callable ({noun})", problem, _IMPORT_HINT)


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


def unpicklable(subject: str, problem: BaseException, hint: str) -> UnpicklableError:
    """The error for ``subject``, which will not pickle (``problem`` is what pickle raised)."""
    return UnpicklableError(
        f"{subject} cannot be pickled to cross the process boundary ({error_text(problem)}); {hint}"
    )
