"""What a job takes from its caller's ``contextvars`` context into the worker that runs it.

``Engine.put`` copies the caller's context into every job (O(1): contexts are
immutable maps that share their storage). The thread backend runs the call
inside that copy (``call_each(..., contexts=...)``), so nothing here is needed
for threads. A context cannot cross a process, so for process-like backends
the grinder ships the values of the variables named in ``propagate_context``
(and, when it traces, the item's trace context) with each item::

    parent, owning loop                              worker process
    ───────────────────                              ──────────────
    put(): job.context = copy_context()  (None if empty)
    dispatch: Carrier.carry(job)
      each chosen variable set in job.context
        ─► pickled alone: a value that will not
           pickle fails its own item, here
      trace context ─► a W3C carrier (tracing on)
      ─► (Carried(fn, values, trace), args, kwargs) ──► Carried(*args, **kwargs), in a copy of
                                                         the worker's context: set each variable,
                                                         attach the trace context, call fn

A variable crosses by name: it must be a module-level global, so the worker
can import it, just as a pickled function is imported by name. Where it lives
is found once, when the grinder is built.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar, copy_context
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import UnpicklableError
from ._naming import describe, error_text, name_of
from ._worker import Call, Dumps

if TYPE_CHECKING:
    from ._job import Job
    from ._tracing import Tracing

__all__ = ["Carried", "Carrier", "PropagatedVar", "carrier_for", "propagated_variables"]

_MAIN_MODULES = frozenset({"__main__", "__mp_main__"})
_UNSET: Any = object()

TraceCarrier = Callable[["Job"], "dict[str, str] | None"]
"""Returns the W3C trace context to ship with a job, or None for none."""


@dataclass(frozen=True, slots=True)
class PropagatedVar:
    """A context variable whose value travels with each item, and where a worker finds it.

    Attributes:
        var: The variable, in this process.
        module: The module that holds it as a global.
        name: Its attribute name in that module.
    """

    var: ContextVar[Any]
    module: str
    name: str

    @property
    def path(self) -> str:
        """``module.name``, as a worker imports it."""
        return f"{self.module}.{self.name}"


def propagated_variables(value: object) -> tuple[PropagatedVar, ...]:
    """Check ``propagate_context`` and find where each variable lives; duplicates count once.

    Raises:
        TypeError: ``value`` is not an iterable of ``contextvars.ContextVar``.
        ValueError: a variable is not a global of any imported module, so a
            worker process could not import it.
    """
    if isinstance(value, ContextVar | str | bytes) or not isinstance(value, Iterable):
        raise TypeError(
            "propagate_context must be a list of contextvars.ContextVar, got "
            f"{type(value).__name__}; for one variable write propagate_context=[var]"
        )
    found: dict[ContextVar[Any], PropagatedVar] = {}
    for number, var in enumerate(value, start=1):
        if not isinstance(var, ContextVar):
            raise TypeError(
                f"propagate_context item #{number} must be a contextvars.ContextVar, got "
                f"{type(var).__name__}"
            )
        if var not in found:
            found[var] = _locate(var)
    return tuple(found.values())


def _locate(var: ContextVar[Any]) -> PropagatedVar:
    """Find a module that holds ``var`` as a global; prefer real modules to ``__main__``."""
    modules = [(name, _namespace(module)) for name, module in list(sys.modules.items())]
    ordered = sorted(modules, key=lambda entry: entry[0] in _MAIN_MODULES)
    for module, namespace in ordered:  # the usual case: request_id = ContextVar("request_id")
        if namespace.get(var.name) is var:
            return PropagatedVar(var, module, var.name)
    for module, namespace in ordered:
        for name, held in list(namespace.items()):
            if held is var and isinstance(name, str):
                return PropagatedVar(var, module, name)
    raise ValueError(
        f"propagate_context: the ContextVar {var.name!r} is not a global of any imported "
        "module, so a worker process could not import it; define it at the top level of a "
        f"module ({var.name} = ContextVar({var.name!r}))"
    )


def _namespace(module: object) -> dict[Any, Any]:
    try:
        namespace = vars(module)
    except Exception:  # sys.modules may hold stand-ins without a __dict__
        return {}
    return namespace if isinstance(namespace, dict) else {}


class Carrier:
    """Parent side: turns a job into the call that carries its context. Owning loop only.

    Args:
        variables: The variables to propagate.
        dumps: How each value is pickled (the backend's own pickler).
        trace: Builds the trace context to ship with a job, when tracing.
    """

    def __init__(
        self, variables: tuple[PropagatedVar, ...], dumps: Dumps, trace: TraceCarrier | None
    ) -> None:
        self._variables = variables
        self._dumps = dumps
        self._trace = trace

    def carry(self, job: Job) -> Call | UnpicklableError:
        """Return the call to pickle for ``job``, or the error that fails it alone.

        A job whose caller set none of the variables (and has no trace to
        ship) travels as its plain call, at no cost.
        """
        values: list[tuple[str, str, bytes]] = []
        context = job.context
        if context is not None:
            for variable in self._variables:
                value = context.get(variable.var, _UNSET)
                if value is _UNSET:
                    continue
                try:
                    blob = self._dumps(value)
                except Exception as problem:
                    return _unpicklable_value(variable, value, problem)
                values.append((variable.module, variable.name, blob))
        trace = None if self._trace is None else self._trace(job)
        if not values and trace is None:
            return (job.fn, job.args, job.kwargs)
        return (Carried(job.fn, tuple(values), trace), job.args, job.kwargs)


def carrier_for(
    variables: tuple[PropagatedVar, ...], dumps: Dumps | None, tracing: Tracing | None
) -> Carrier | None:
    """The grinder's :class:`Carrier`, or None when nothing must travel with its items.

    ``dumps`` is None for in-process (thread) pools, where jobs run in their
    callers' contexts and nothing needs shipping.
    """
    if dumps is None or not (variables or tracing):
        return None
    return Carrier(variables, dumps, None if tracing is None else tracing.carrier)


class Carried:
    """Worker side: a call that sets its caller's chosen context around itself.

    It is what the worker unpickles in place of the job's function. The call
    runs in a copy of the worker's current context, so the values it sets (and
    whatever the job sets) never linger for the next job in that worker.
    Errors raised for the function name it, not this wrapper.

    Attributes:
        fn: The job's function.
        values: ``(module, name, pickled value)`` for each variable to set.
        trace: The W3C trace context to make current, or ``None``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        values: tuple[tuple[str, str, bytes], ...],
        trace: dict[str, str] | None,
    ) -> None:
        self.fn = fn
        self.values = values
        self.trace = trace
        self.__qualname__ = name_of(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` in a fresh copy of the context, with the values set.

        Raises:
            UnpicklableError: a variable cannot be found, or its value cannot
                be unpickled, in this worker.
            Exception: whatever ``fn`` raised.
        """
        return copy_context().run(self._run, args, kwargs)

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        for module, name, blob in self.values:
            _variable(module, name).set(_value(module, name, blob))
        if self.trace is not None:
            from ._tracing import attach_carrier  # only jobs with a trace pay for the import

            attach_carrier(self.trace)
        return self.fn(*args, **kwargs)


_found: dict[tuple[str, str], ContextVar[Any]] = {}
"""Variables this worker has already looked up, by ``(module, name)``."""


def _variable(module: str, name: str) -> ContextVar[Any]:
    """The worker's own copy of a propagated variable, imported by name."""
    var = _found.get((module, name))
    if var is not None:
        return var
    try:
        held = getattr(importlib.import_module(module), name)
    except Exception as problem:
        raise UnpicklableError(
            f"the context variable {module}.{name} cannot be imported in the worker "
            f"({error_text(problem)}); the worker needs the same modules "
            "as the caller"
        ) from problem
    if not isinstance(held, ContextVar):
        raise UnpicklableError(
            f"{module}.{name} is a {type(held).__name__} in the worker, not a ContextVar; the "
            "worker needs the same modules as the caller"
        )
    _found[(module, name)] = held
    return held


def _value(module: str, name: str, blob: bytes) -> Any:
    try:
        return pickle.loads(blob)
    except Exception as problem:
        raise UnpicklableError(
            f"the value of the context variable {module}.{name} cannot be unpickled in the "
            f"worker ({error_text(problem)}); propagate values whose "
            "classes the worker can import (ids, strings, plain data)"
        ) from problem


def _unpicklable_value(
    variable: PropagatedVar, value: object, problem: Exception
) -> UnpicklableError:
    error = UnpicklableError(
        f"the value of the context variable {variable.path} ({describe(value)}) cannot be "
        f"pickled to cross the process boundary ({error_text(problem)}); "
        "set it to plain data such as an id, or leave it out of propagate_context"
    )
    error.__cause__ = problem
    return error
