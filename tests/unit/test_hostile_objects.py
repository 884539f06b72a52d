"""Objects that fight back: naming them in a message, or checking them at enqueue, never fails.

A message names the callable, argument or exception at fault, and reading a
name runs the object's own code (``__qualname__``, ``__getattr__``,
``__repr__``, ``__str__``). These tests hand the helpers objects whose every
such hook raises, and check the fallbacks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn

import pytest

from gristmill._naming import describe, error_text, name_of, repr_of, text_of, type_name
from gristmill._validate import sync_callable


def _fail(*_: object) -> NoReturn:
    raise RuntimeError("hostile")


class Hostile:
    """A callable whose hash, equality, text and every missing attribute raise."""

    __hash__ = _fail
    __eq__ = _fail
    __repr__ = _fail
    __str__ = _fail

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")

    def __call__(self) -> int:
        return 1


class HostileError(Exception):
    """An exception whose text cannot be read."""

    __str__ = _fail
    __repr__ = _fail


class Interrupting:
    """Every name lookup raises ``KeyboardInterrupt``: a message still does not."""

    def __getattr__(self, name: str) -> Any:
        raise KeyboardInterrupt

    def __call__(self) -> None:
        """Never called."""


class WrongTypes:
    """``__qualname__`` and ``__str__`` that are not strings."""

    def __getattr__(self, name: str) -> Any:
        return 42

    def __str__(self) -> Any:
        return 42

    def __call__(self) -> None:
        """Never called."""


class Meta(type):
    """A metaclass whose classes will not say their names."""

    def __getattribute__(cls, name: str) -> Any:
        if name in ("__name__", "__qualname__", "__module__"):
            raise RuntimeError("no name")
        return super().__getattribute__(name)


def nameless() -> Callable[[], None]:
    """A callable whose class will not say its name (made here: pytest reads module classes)."""

    class Nameless(metaclass=Meta):
        def __call__(self) -> None:
            """Never called."""

    return Nameless()


class AsyncByClass:
    """An object whose ``__getattr__`` raises, with an async ``__call__``."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)

    async def __call__(self) -> None:
        """Never awaited."""


def test_names_fall_back_when_the_object_refuses_to_say() -> None:
    hostile = Hostile()
    assert name_of(hostile) == "(a tests.unit.test_hostile_objects.Hostile)"
    assert describe(hostile) == "a tests.unit.test_hostile_objects.Hostile"
    assert repr_of(hostile) == "<unprintable Hostile object>"
    assert text_of(hostile) == "<unprintable Hostile object>"
    assert name_of(Interrupting()) == "(a tests.unit.test_hostile_objects.Interrupting)"
    assert name_of(WrongTypes()) == "(a tests.unit.test_hostile_objects.WrongTypes)"
    assert text_of(WrongTypes()) == "<unprintable WrongTypes object>"


def test_a_type_whose_name_cannot_be_read_is_unnamed() -> None:
    assert type_name(nameless()) == "<unnamed type>"
    assert type_name(nameless(), qualified=True) == "<unnamed type>"
    assert describe(nameless()) == "a <unnamed type>"
    # object.__repr__ reads the name at the C level, past the metaclass.
    assert "Nameless object at" in repr_of(nameless())


def test_error_text_reads_like_the_last_line_of_a_traceback() -> None:
    assert error_text(ValueError("bad")) == "ValueError: bad"
    assert error_text(HostileError()) == "HostileError: <unprintable HostileError object>"


def test_names_of_ordinary_objects_are_unchanged() -> None:
    assert name_of(functools.reduce) == "reduce"
    assert describe(len) == "a builtin_function_or_method len"
    assert describe(object()) == "an object"
    assert describe(name_of) == "a function name_of"


def test_an_async_call_is_still_refused_behind_a_raising_getattr() -> None:
    with pytest.raises(TypeError, match="AsyncByClass\\) is an async function"):
        sync_callable(AsyncByClass())


def test_a_non_callable_with_a_raising_class_attribute_is_refused_by_its_type() -> None:
    class Sly:
        @property  # type: ignore[misc]
        def __class__(self) -> type:
            raise RuntimeError("no class")

    with pytest.raises(TypeError, match=r"fn must be callable, got Sly$"):
        sync_callable(Sly())
