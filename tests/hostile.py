"""Hostile items for the fuzz tests: callables, arguments, results and owners that fight back.

Each *kind* builds one item (its call, its owner) together with what its
caller must get on each backend: its own result, or one exception. Hostility
that only matters where data is pickled (a process pool) leaves the item
unharmed on a thread pool. Workers import this module by name, so everything
an item carries is defined at its top level.

Kinds:

- callables: an unhashable ``@dataclass`` with ``__call__``; one whose
  ``__hash__``, ``__eq__``, ``__repr__``, ``__str__`` and every missing
  attribute raise (it pickles, but does not unpickle); one raising each
  BaseException kind; one raising an exception whose text cannot be read, one
  that will not unpickle, one that comes back as something else;
- results that will not pickle, will not unpickle, raise ``KeyboardInterrupt``
  while pickling, or have raising dunders;
- arguments (positional or keyword) that will not pickle, whose ``__reduce__``
  raises (also ``KeyboardInterrupt``), that do not unpickle, whose unpickling
  raises a BaseException, that have raising dunders, or that are shared by
  every item of their kind;
- owners: a ``str`` subclass whose ``__hash__``, ``__eq__``, ``__repr__``,
  ``__str__`` and ``__format__`` raise.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from gristmill import UnpicklableError
from tests.process.jobs import CustomBaseError, TwoArgError, raise_base_exception, square

__all__ = ["KINDS", "Case", "Expected", "build"]


def _hostile(*_: object) -> NoReturn:
    raise RuntimeError("hostile")


class Prickly:
    """Pickles normally; its ``__hash__``, ``__eq__``, ``__repr__`` and ``__str__`` raise."""

    __hash__ = _hostile
    __eq__ = _hostile
    __repr__ = _hostile
    __str__ = _hostile

    def __init__(self, n: int) -> None:
        self.n = n


class HostileOwner(str):
    """An owner label whose hash, equality, ``__repr__``, ``__str__`` and ``__format__`` raise."""

    __hash__ = _hostile
    __eq__ = _hostile
    __repr__ = _hostile
    __str__ = _hostile
    __format__ = _hostile


@dataclass
class AddTo:
    """A callable ``@dataclass``: unhashable (``eq=True`` sets ``__hash__`` to None)."""

    n: int

    def __call__(self, x: int) -> int:
        return x + self.n


class Shifty:
    """A callable whose dunders and every missing attribute raise.

    It pickles, but unpickling looks ``__setstate__`` up on the instance and
    meets ``__getattr__``, so it never reaches a process worker.
    """

    __hash__ = _hostile
    __eq__ = _hostile
    __repr__ = _hostile
    __str__ = _hostile

    def __init__(self, n: int) -> None:
        self.n = n

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")

    def __call__(self, x: int) -> int:
        return x + self.n


class RefusesPickle:
    """Its ``__reduce__`` raises ``exc_type``."""

    def __init__(self, exc_type: type[BaseException]) -> None:
        self.exc_type = exc_type

    def __reduce__(self) -> NoReturn:
        raise self.exc_type("refusing to be pickled")


def _refuse_rebuild() -> NoReturn:
    raise RuntimeError("refusing to be rebuilt")


class Unloadable:
    """Pickles fine; unpickling it raises ``RuntimeError``."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (_refuse_rebuild, ())


class UnloadsWith:
    """Pickles fine; unpickling it raises the BaseException named ``kind``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (raise_base_exception, (self.kind,))


class UnprintableError(Exception):
    """An exception whose ``__str__`` and ``__repr__`` raise."""

    __str__ = _hostile
    __repr__ = _hostile


class ShapeShifter(Exception):
    """An exception that unpickles as the int 0."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (int, ())


class InterruptsPickling:
    """Pickling it raises ``KeyboardInterrupt``."""

    def __reduce__(self) -> NoReturn:
        raise KeyboardInterrupt("while pickling")


SHARED_UNLOADABLE = Unloadable()
"""One argument passed to every item of its kind: pickled once per chunk, failing them all."""

SHARED_CONFIG = {"scale": 3}
"""One good argument passed to every item of its kind."""


def raise_unprintable() -> NoReturn:
    raise UnprintableError


def raise_shape_shifter() -> NoReturn:
    raise ShapeShifter


def return_lock() -> object:
    return threading.Lock()


def return_unloadable() -> Unloadable:
    return Unloadable()


def return_interrupts_pickling() -> InterruptsPickling:
    return InterruptsPickling()


def return_prickly(n: int) -> Prickly:
    return Prickly(n)


def value_of(value: object = None) -> object:
    """What the worker received: ``n`` of a :class:`Prickly`, a dict's ``scale``, else the type."""
    if type(value) is Prickly:
        return value.n
    if type(value) is dict:
        return value["scale"]
    return type(value).__name__


def raise_two_arg_error() -> NoReturn:
    raise TwoArgError(7, "bad input")


@dataclass(frozen=True)
class Expected:
    """What a caller must get: an exception of exactly type ``error``, or a result ``ok`` takes."""

    error: type[BaseException] | None = None
    ok: Callable[[object], bool] = field(default=lambda _: True)

    def holds(self, outcome: object, raised: bool) -> bool:
        if self.error is not None:
            return raised and type(outcome) is self.error
        return not raised and self.ok(outcome)


def _returns(value: object) -> Expected:
    return Expected(ok=lambda got: type(got) is type(value) and got == value)


def _returns_prickly(n: int) -> Expected:
    return Expected(ok=lambda got: type(got) is Prickly and got.n == n)


def _returns_type(kind: type) -> Expected:
    return Expected(ok=lambda got: type(got) is kind)


_UNPICKLABLE = Expected(UnpicklableError)


@dataclass(frozen=True)
class Case:
    """One drawn item: its call, its owner, and what its caller must get on each backend.

    ``process`` is ``None`` when the item fares on a process pool as on a thread pool.
    """

    kind: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    thread: Expected
    process: Expected | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None

    def expected(self, backend: str) -> Expected:
        return self.thread if backend == "thread" or self.process is None else self.process


Build = Callable[[str, int, bool], Case]
"""``build(kind, n, keyword)``: make an item of ``kind``; ``n`` varies its data."""


def _argument(value: object, thread: Expected, process: Expected | None = _UNPICKLABLE) -> Build:
    """A kind whose hostility is its one argument, passed by position or as ``value=``."""

    def build(kind: str, n: int, keyword: bool) -> Case:
        if keyword:
            return Case(kind, value_of, (), thread, process, kwargs={"value": value})
        return Case(kind, value_of, (value,), thread, process)

    return build


def _fresh_argument(make: Callable[[], object], name: str) -> Build:
    """Like :func:`_argument`, with a new value per item; harmless on threads, fatal to pickling."""

    def build(kind: str, n: int, keyword: bool) -> Case:
        return _argument(make(), _returns(name))(kind, n, keyword)

    return build


def _call(fn: Callable[..., Any], thread: Expected, process: Expected | None = None) -> Build:
    return lambda kind, n, keyword: Case(kind, fn, (), thread, process)


def _raises(name: str) -> Build:
    error = BASE_EXCEPTIONS[name]
    return lambda kind, n, keyword: Case(kind, raise_base_exception, (name,), Expected(error))


def _unloads_with(name: str) -> Build:
    return _fresh_argument(lambda: UnloadsWith(name), "UnloadsWith")


def _kinds_of_base_exceptions() -> dict[str, Build]:
    kinds: dict[str, Build] = {}
    for name in BASE_EXCEPTIONS:
        kinds[f"raises {name}"] = _raises(name)
        kinds[f"argument unpickles with {name}"] = _unloads_with(name)
    return kinds


BASE_EXCEPTIONS: dict[str, type[BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "SystemExit": SystemExit,
    "GeneratorExit": GeneratorExit,
    "CancelledError": asyncio.CancelledError,
    "CustomBaseError": CustomBaseError,
}

KINDS: dict[str, Build] = {
    "innocent": lambda kind, n, _: Case(kind, square, (n,), _returns(n * n)),
    "unhashable callable": lambda kind, n, _: Case(kind, AddTo(n), (1,), _returns(n + 1)),
    "callable with raising dunders": lambda kind, n, _: Case(
        kind, Shifty(n), (1,), _returns(n + 1), _UNPICKLABLE
    ),
    "hostile owner": lambda kind, n, _: Case(
        kind, square, (n,), _returns(n * n), owner=HostileOwner("owner")
    ),
    "raises unprintable exception": _call(raise_unprintable, Expected(UnprintableError)),
    "raises exception that does not unpickle": _call(
        raise_two_arg_error, Expected(TwoArgError), _UNPICKLABLE
    ),
    "raises exception that unpickles as an int": _call(
        raise_shape_shifter, Expected(ShapeShifter), _UNPICKLABLE
    ),
    "returns unpicklable result": _call(
        return_lock, _returns_type(type(threading.Lock())), _UNPICKLABLE
    ),
    "returns result that does not unpickle": _call(
        return_unloadable, _returns_type(Unloadable), _UNPICKLABLE
    ),
    "returns result whose pickling interrupts": _call(
        return_interrupts_pickling, _returns_type(InterruptsPickling), _UNPICKLABLE
    ),
    "returns result with raising dunders": lambda kind, n, _: Case(
        kind, return_prickly, (n,), _returns_prickly(n)
    ),
    "unpicklable argument": _fresh_argument(threading.Lock, "lock"),
    "argument whose pickling raises": _fresh_argument(
        lambda: RefusesPickle(RuntimeError), "RefusesPickle"
    ),
    "argument whose pickling interrupts": _fresh_argument(
        lambda: RefusesPickle(KeyboardInterrupt), "RefusesPickle"
    ),
    "argument that does not unpickle": _fresh_argument(Unloadable, "Unloadable"),
    "shared argument that does not unpickle": _argument(SHARED_UNLOADABLE, _returns("Unloadable")),
    "argument with raising dunders": lambda kind, n, keyword: _argument(
        Prickly(n), _returns(n), None
    )(kind, n, keyword),
    "shared good argument": _argument(SHARED_CONFIG, _returns(3), None),
    **_kinds_of_base_exceptions(),
}
"""Every kind of item, by name."""


def build(kind: str, n: int, keyword: bool) -> Case:
    """Make one item of ``kind``; ``keyword`` passes an argument kind's value by keyword."""
    return KINDS[kind](kind, n, keyword)
