"""What a job carries from its caller's context (gristmill._context), without processes.

``Carrier.carry`` builds the call; ``encode_calls`` → ``run_pickled`` →
``decode_outcomes`` is the trip it makes to a process worker and back, so
running it in-process checks what a worker does with the carried values.
"""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar, copy_context
from types import SimpleNamespace
from typing import Any, cast

import pytest

from gristmill import UnpicklableError
from gristmill._context import Carried, Carrier, PropagatedVar, propagated_variables
from gristmill._job import Job
from gristmill._worker import Call, Outcome, call_each, decode_outcomes, encode_calls, run_pickled

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant: ContextVar[str] = ContextVar("tenant")
aliased: ContextVar[int] = ContextVar("a-name-no-module-uses")

MODULE = __name__


def _refuse() -> None:
    raise RuntimeError("refusing to be rebuilt")


class Unloadable:
    """Pickles fine; unpickling it raises."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (_refuse, ())


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class RefusesHostilely:
    """Refuses to pickle with an exception that cannot even be printed."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        raise Unprintable()


def read_both() -> tuple[str | None, str]:
    return request_id.get(), tenant.get("no tenant")


def overwrite(value: str) -> str | None:
    seen = request_id.get()
    request_id.set(value)
    return seen


def stop() -> None:
    raise StopIteration


def job_for(fn: Callable[..., Any], *args: Any, **values: Any) -> Job:
    """A stand-in job whose caller's context holds ``values`` (``request_id``, ``tenant``)."""
    context = copy_context()
    for name, value in values.items():
        context.run(globals()[name].set, value)
    return cast(Job, SimpleNamespace(fn=fn, args=args, kwargs=None, context=context, trace=None))


def carrier(*variables: ContextVar[Any], trace: Any = None) -> Carrier:
    return Carrier(propagated_variables(variables), pickle.dumps, trace)


def round_trip(calls: list[Call]) -> list[Outcome]:
    """Pickle the calls, run them as a process worker would (in this process), decode."""
    payload, bad = encode_calls(calls)
    assert bad == []
    return decode_outcomes(run_pickled(payload))


# -- propagated_variables ------------------------------------------------------------------


def test_a_variable_is_found_where_it_is_a_module_global() -> None:
    assert propagated_variables([request_id]) == (PropagatedVar(request_id, MODULE, "request_id"),)


def test_a_variable_is_found_under_an_attribute_name_other_than_its_own() -> None:
    (found,) = propagated_variables((aliased,))
    assert (found.module, found.name, found.path) == (MODULE, "aliased", f"{MODULE}.aliased")


def test_variables_keep_their_order_and_count_once() -> None:
    found = propagated_variables([tenant, request_id, tenant])
    assert [variable.var for variable in found] == [tenant, request_id]


def test_no_variables_is_fine() -> None:
    assert propagated_variables([]) == ()
    assert propagated_variables(()) == ()


@pytest.mark.parametrize("value", [request_id, "request_id", b"x", 3, None])
def test_anything_but_a_collection_of_variables_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="propagate_context must be a list of contextvars"):
        propagated_variables(value)


def test_an_item_that_is_not_a_context_variable_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"item #2 must be a contextvars.ContextVar, got str"):
        propagated_variables([request_id, "tenant"])


def test_a_variable_that_no_module_holds_is_a_value_error() -> None:
    local: ContextVar[str] = ContextVar("local")
    with pytest.raises(ValueError, match=r"'local' is not a global of any imported module"):
        propagated_variables([local])


def test_odd_entries_in_sys_modules_do_not_stop_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "an_object_without_a_dict", cast(Any, object()))
    assert propagated_variables([tenant])[0].module == MODULE


# -- the trip to a worker ------------------------------------------------------------------


def test_a_job_whose_caller_set_nothing_travels_as_its_plain_call() -> None:
    job = job_for(read_both)
    assert carrier(request_id, tenant).carry(job) == (read_both, (), None)


def test_each_set_variable_reaches_the_worker_and_unset_ones_keep_their_default() -> None:
    set_one = job_for(read_both, request_id="req-7")
    set_both = job_for(read_both, request_id="req-8", tenant="acme")
    calls = [cast(Call, carrier(request_id, tenant).carry(job)) for job in (set_one, set_both)]
    assert [type(call[0]) for call in calls] == [Carried, Carried]
    assert round_trip(calls) == [(True, ("req-7", "no tenant")), (True, ("req-8", "acme"))]


def test_a_variable_left_out_of_propagate_context_does_not_travel() -> None:
    job = job_for(read_both, request_id="req-1", tenant="acme")
    call = cast(Call, carrier(tenant).carry(job))
    assert round_trip([call]) == [(True, (None, "acme"))]


def test_what_a_carried_job_sets_stays_in_its_own_context() -> None:
    token = request_id.set("the worker's own")
    try:
        first = carrier(request_id).carry(job_for(overwrite, "changed", request_id="a"))
        plain = (overwrite, ("changed again",), None)
        assert round_trip([cast(Call, first), plain]) == [(True, "a"), (True, "the worker's own")]
    finally:
        request_id.reset(token)


def test_an_unpicklable_value_fails_its_job_with_an_error_naming_the_variable() -> None:
    job = job_for(read_both, request_id=cast(Any, threading.Lock()))
    error = carrier(request_id).carry(job)
    assert isinstance(error, UnpicklableError)
    message = str(error)
    assert f"context variable {MODULE}.request_id (a _thread.lock)" in message
    assert "leave it out of propagate_context" in message
    assert isinstance(error.__cause__, TypeError)


def test_a_value_whose_pickling_error_cannot_be_printed_still_fails_cleanly() -> None:
    job = job_for(read_both, request_id=cast(Any, RefusesHostilely()))
    error = carrier(request_id).carry(job)
    assert isinstance(error, UnpicklableError)
    assert "Unprintable: <unprintable Unprintable object>" in str(error)


class ReprBomb:
    """Cannot be pickled by reference, and raises if pickle tries to describe it."""

    def __reduce__(self) -> str:
        return "no_such_global_name"

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


def test_a_value_that_raises_in_repr_still_fails_only_its_job() -> None:
    job = job_for(read_both, request_id=cast(Any, ReprBomb()))
    error = carrier(request_id).carry(job)
    assert isinstance(error, UnpicklableError)
    assert f"context variable {MODULE}.request_id" in str(error)


def test_a_value_that_will_not_unpickle_in_the_worker_fails_its_job_alone() -> None:
    bad = cast(
        Call, carrier(request_id).carry(job_for(read_both, request_id=cast(Any, Unloadable())))
    )
    good = cast(Call, carrier(request_id).carry(job_for(read_both, request_id="fine")))
    (failed, error), succeeded = round_trip([bad, good])
    assert not failed
    assert isinstance(error, UnpicklableError)
    assert f"{MODULE}.request_id cannot be unpickled in the worker" in str(error)
    assert succeeded == (True, ("fine", "no tenant"))


def test_a_variable_the_worker_cannot_import_fails_its_job() -> None:
    blob = pickle.dumps("value")
    missing = Carried(read_both, (("no_such_module_anywhere", "request_id", blob),), None)
    not_a_var = Carried(read_both, ((MODULE, "MODULE", blob),), None)
    ((ok_1, error_1), (ok_2, error_2)) = call_each([(missing, (), None), (not_a_var, (), None)])
    assert not ok_1
    assert isinstance(error_1, UnpicklableError)
    assert "no_such_module_anywhere.request_id cannot be imported in the worker" in str(error_1)
    assert not ok_2
    assert isinstance(error_2, UnpicklableError)
    assert f"{MODULE}.MODULE is a str in the worker, not a ContextVar" in str(error_2)


def test_errors_about_a_carried_call_name_the_job_not_the_wrapper() -> None:
    stopping = Carried(stop, (), None)
    ((ok, error),) = call_each([(stopping, (), None)])
    assert not ok
    assert isinstance(error, RuntimeError)
    assert str(error).startswith("stop raised StopIteration")

    lambda_job = Carried(lambda: None, (), None)
    _, bad = encode_calls([(lambda_job, (), None)])
    assert "the function test_errors_about_a_carried_call_name_the_job_not_the_wrapper." in str(
        bad[0][1]
    )


def test_a_trace_carrier_travels_with_a_job_whose_caller_set_nothing() -> None:
    shipped = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    call = carrier(request_id, trace=lambda job: shipped).carry(job_for(read_both))
    assert isinstance(call, tuple)
    assert isinstance(call[0], Carried)
    assert call[0].trace == shipped
    plain = carrier(request_id, trace=lambda job: None).carry(job_for(read_both))
    assert cast(Call, plain)[0] is read_both


# -- call_each with contexts ----------------------------------------------------------------


def test_call_each_runs_each_call_in_its_own_context() -> None:
    contexts = [copy_context(), copy_context()]
    contexts[0].run(request_id.set, "first")
    outcomes = call_each(
        [(overwrite, ("set by the first",), None), (overwrite, ("set by the second",), None)],
        contexts=contexts,
    )
    assert outcomes == [(True, "first"), (True, None)]
    assert contexts[0][request_id] == "set by the first"
    assert contexts[1][request_id] == "set by the second"
    assert request_id.get() is None


def test_calls_whose_callers_had_empty_contexts_never_see_each_others_writes() -> None:
    calls: list[Call] = [
        (read_both, (), None),
        (overwrite, ("first write",), None),
        (read_both, (), None),
        (overwrite, ("second write",), None),
        (overwrite, ("third write",), None),
    ]
    outcomes = call_each(calls, contexts=[None] * len(calls))
    assert outcomes == [
        (True, (None, "no tenant")),
        (True, None),
        (True, (None, "no tenant")),
        (True, None),
        (True, None),
    ]
    assert request_id.get() is None


def test_empty_and_copied_contexts_mixed_in_one_chunk_stay_apart() -> None:
    own = copy_context()
    own.run(request_id.set, "own")
    calls: list[Call] = [
        (overwrite, ("written in a new context",), None),
        (overwrite, ("written in own",), None),
        (read_both, (), None),
    ]
    seen: list[int] = []
    outcomes = call_each(calls, seen.append, contexts=[None, own, None])
    assert outcomes == [(True, None), (True, "own"), (True, (None, "no tenant"))]
    assert own[request_id] == "written in own"
    assert seen == [0, 1, 2, 3]


def test_call_each_passes_keyword_arguments_inside_a_context() -> None:
    outcomes = call_each([(overwrite, (), {"value": "kw"})], contexts=[copy_context()])
    assert outcomes == [(True, None)]
