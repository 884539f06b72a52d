"""How gristmill names a user's object in a message, without trusting the object.

Error messages name what is at fault: the callable, the argument, the
exception. Reading a name can run the user's code (a ``__qualname__``
property, a ``__getattr__``, a ``__repr__`` or ``__str__``), and that code
may raise. A message must never fail because of what it describes, so each
helper here reads what it can and falls back on what cannot fail: a type
whose name cannot be read is ``<unnamed type>``, an object whose text cannot
be read is ``<unprintable X object>``. None of them raises.

Any thread; pure apart from the user code they guard against.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["describe", "error_text", "name_of", "repr_of", "text_of", "type_name"]


def type_name(obj: object, *, qualified: bool = False) -> str:
    """Return the name of ``obj``'s type (``module.qualname`` outside builtins if ``qualified``)."""
    kind = type(obj)
    try:  # a metaclass may override these
        name = kind.__qualname__ if qualified else kind.__name__
        module = kind.__module__ if qualified else "builtins"
        if type(name) is not str or type(module) is not str:
            return "<unnamed type>"
    except BaseException:  # the message must not fail because of what it describes
        return "<unnamed type>"
    return name if module == "builtins" else f"{module}.{name}"


def name_of(fn: object) -> str:
    """Name a callable by its qualified name, or describe it when it has none."""
    name = _qualname(fn)
    return name if name is not None else f"({describe(fn)})"


def describe(obj: object) -> str:
    """Say what ``obj`` is: ``a _thread.lock``, ``a function make.<locals>.<lambda>``."""
    noun = type_name(obj, qualified=True)
    name = _qualname(obj) if callable(obj) else None
    if name is not None:
        noun = f"{noun} {name}"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def text_of(obj: object) -> str:
    """Return ``str(obj)``, or ``<unprintable X object>`` if that raises or is not a str."""
    return _printed(str, obj)


def repr_of(obj: object) -> str:
    """Return ``repr(obj)``, or ``<unprintable X object>`` if that raises or is not a str."""
    return _printed(repr, obj)


def _printed(show: Callable[[object], object], obj: object) -> str:
    try:
        text = show(obj)
    except BaseException:  # the message must not fail because of what it describes
        return _unprintable(obj)
    return text if type(text) is str else _unprintable(obj)


def error_text(exc: BaseException) -> str:
    """Return ``TypeName: message`` for an exception, as a traceback's last line shows it."""
    return f"{type_name(exc)}: {text_of(exc)}"


def _qualname(obj: object) -> str | None:
    try:
        name = getattr(obj, "__qualname__", None)
    except BaseException:  # a __getattr__ or property that raises: the object has no name
        return None
    return name if type(name) is str else None


def _unprintable(obj: object) -> str:
    return f"<unprintable {type_name(obj)} object>"
