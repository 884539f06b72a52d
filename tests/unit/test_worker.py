"""The chunk runner and its pickle codec (gristmill._worker), without processes.

``encode_calls`` → ``run_pickled`` → ``decode_outcomes`` is exactly the trip a
chunk makes to a process worker and back, so running it in-process checks the
per-item isolation that the process backend relies on.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

from gristmill import GristmillError, RemoteTraceback, UnpicklableError
from gristmill._worker import Call, Outcome, call_each, decode_outcomes, encode_calls, run_pickled


class TwoArgError(Exception):
    """Raises fine; unpickling calls ``TwoArgError(message)`` and fails."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"code {code}: {reason}")


class FlakyPickle:
    """Refuses to pickle on the first and fourth attempt only."""

    def __init__(self) -> None:
        self.attempts = 0

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        self.attempts += 1
        if self.attempts in (1, 4):
            raise pickle.PicklingError("not this time")
        return (int, (0,))


def _refuse() -> None:
    raise RuntimeError("refusing to be rebuilt")


class Unloadable:
    """Pickles fine; unpickling it raises."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (_refuse, ())


class UnloadableCallable:
    """A callable that pickles fine; unpickling it raises."""

    def __call__(self, *args: Any) -> None:
        """Never runs: it does not get through unpickling."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (_refuse, ())


def _interrupt_rebuild() -> None:
    raise KeyboardInterrupt("while rebuilding")


def _exit_rebuild() -> None:
    raise SystemExit(3)


class Interrupting:
    """Pickles fine; unpickling it raises ``KeyboardInterrupt``."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (_interrupt_rebuild, ())


class Exiting:
    """Pickles fine; unpickling it raises ``SystemExit``."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (_exit_rebuild, ())


class InterruptsPickling:
    """Pickling it raises ``KeyboardInterrupt``."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        raise KeyboardInterrupt("while pickling")


class Key(str):
    """A ``str`` subclass, as a keyword name."""


class ShapeShifter(Exception):
    """An exception that unpickles as whatever ``becomes()`` makes."""

    def __init__(self, becomes: Callable[[], object]) -> None:
        super().__init__()
        self.becomes = becomes

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (self.becomes, ())


def raise_shape_shifter(becomes: Callable[[], object]) -> None:
    raise ShapeShifter(becomes)


def return_interrupting() -> InterruptsPickling:
    return InterruptsPickling()


class Pair(NamedTuple):
    """Positional arguments in a tuple subclass, as ``Work(args=...)`` allows."""

    first: int
    second: int


class Unlistable(tuple[Any, ...]):
    """Positional arguments whose iteration raises."""

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("no iterating")


def square(x: int) -> int:
    return x * x


def fail_with_key(key: str) -> None:
    raise KeyError(key)


def call_with(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def exit_with(code: int) -> None:
    raise SystemExit(code)


def interrupt() -> None:
    raise KeyboardInterrupt


def next_of_empty() -> int:
    return next(iter([]))


def raise_two_arg_error() -> None:
    raise TwoArgError(3, "raised")


def return_two_arg_error() -> TwoArgError:
    return TwoArgError(4, "returned")


def return_lock() -> object:
    return threading.Lock()


def return_unloadable() -> Unloadable:
    return Unloadable()


def _through_a_worker(calls: list[Call]) -> tuple[list[Outcome], list[tuple[int, BaseException]]]:
    payload, bad = encode_calls(calls)
    return decode_outcomes(run_pickled(payload)), bad


def test_run_calls_returns_each_outcome_in_order() -> None:
    outcomes = call_each(
        [(square, (3,), None), (fail_with_key, ("k",), None), (call_with, (1,), {"x": 2})]
    )

    assert outcomes[0] == (True, 9)
    ok, error = outcomes[1]
    assert not ok
    assert isinstance(error, KeyError)
    assert error.args == ("k",)
    assert outcomes[2] == (True, ((1,), {"x": 2}))


def test_run_calls_keeps_going_after_system_exit_and_keyboard_interrupt() -> None:
    outcomes = call_each([(exit_with, (2,), None), (interrupt, (), None), (square, (5,), None)])

    assert [ok for ok, _ in outcomes] == [False, False, True]
    assert isinstance(outcomes[0][1], SystemExit)
    assert outcomes[0][1].code == 2
    assert isinstance(outcomes[1][1], KeyboardInterrupt)
    assert outcomes[2][1] == 25


def test_stop_iteration_becomes_a_runtime_error_a_future_can_carry() -> None:
    ((ok, error),) = call_each([(next_of_empty, (), None)])

    assert not ok
    assert isinstance(error, RuntimeError)
    assert "next_of_empty" in str(error)
    assert "StopIteration" in str(error)
    assert isinstance(error.__cause__, StopIteration)


def test_round_trip_keeps_results_and_errors_with_their_remote_traceback() -> None:
    outcomes, bad = _through_a_worker(
        [(square, (4,), None), (fail_with_key, ("lost",), None), (call_with, (), {"fn": 1})]
    )

    assert bad == []
    assert outcomes[0] == (True, 16)
    assert outcomes[2] == (True, ((), {"fn": 1}))
    ok, error = outcomes[1]
    assert not ok
    assert type(error) is KeyError
    assert error.args == ("lost",)
    cause = error.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "fail_with_key" in cause.text
    assert "KeyError: 'lost'" in cause.text
    assert str(cause) == cause.text


def test_round_trip_delivers_system_exit_and_stop_iteration_errors() -> None:
    outcomes, _ = _through_a_worker([(exit_with, (7,), None), (next_of_empty, (), None)])

    exit_error, stop_error = (error for _, error in outcomes)
    assert isinstance(exit_error, SystemExit)
    assert exit_error.code == 7
    assert isinstance(stop_error, RuntimeError)
    assert isinstance(stop_error.__cause__, RemoteTraceback)
    assert "StopIteration" in stop_error.__cause__.text


def test_unpicklable_arguments_are_reported_by_position_and_left_out() -> None:
    lock = threading.Lock()
    calls: list[Call] = [
        (square, (1,), None),
        (call_with, (lambda: 0,), None),
        (square, (2,), None),
        (call_with, (1, lock), None),
        (call_with, (), {"guard": lock}),
        (lambda: 0, (), None),
        (square, (3,), None),
    ]
    outcomes, bad = _through_a_worker(calls)

    assert [index for index, _ in bad] == [1, 3, 4, 5]
    messages = [str(error) for _, error in bad]
    assert all(isinstance(error, UnpicklableError) for _, error in bad)
    assert "positional argument #1 (a function " in messages[0]
    assert "<lambda>" in messages[0]
    assert "positional argument #2 (a _thread.lock)" in messages[1]
    assert "keyword argument 'guard' (a _thread.lock)" in messages[2]
    assert "the function " in messages[3]
    assert "<lambda>" in messages[3]
    for message in messages[:3]:
        assert "pass picklable data" in message
        assert "lambdas and closures cannot be pickled" in message
    assert "submit a function defined at the top level of a module" in messages[3]
    assert not any("thread pool" in message for message in messages)
    assert outcomes == [(True, 1), (True, 4), (True, 9)]


def test_an_argument_that_fails_to_pickle_once_fails_only_its_call() -> None:
    flaky = FlakyPickle()
    outcomes, bad = _through_a_worker([(call_with, (flaky,), None), (square, (2,), None)])

    ((index, error),) = bad
    assert index == 0
    assert isinstance(error, UnpicklableError)
    assert "positional argument #1 (a tests.unit.test_worker.FlakyPickle)" in str(error)
    assert "PicklingError: not this time" in str(error)
    assert outcomes == [(True, 4)]
    assert flaky.attempts == 1  # pickled once, not once per attempt to find the culprit


def test_a_dumps_that_refuses_the_list_of_calls_fails_every_call_without_raising() -> None:
    def refuses_lists(obj: Any) -> bytes:
        if type(obj) is list and obj:
            raise pickle.PicklingError("no lists today")
        return pickle.dumps(obj)

    payload, bad = encode_calls([(square, (1,), None), (square, (2,), None)], refuses_lists)

    assert [index for index, _ in bad] == [0, 1]
    assert all(isinstance(error, UnpicklableError) for _, error in bad)
    assert "the chunk of calls" in str(bad[0][1])
    assert decode_outcomes(run_pickled(payload)) == []


def test_an_argument_that_does_not_unpickle_fails_only_the_calls_that_use_it() -> None:
    shared = Unloadable()
    outcomes, bad = _through_a_worker(
        [
            (square, (1,), None),
            (call_with, (TwoArgError(1, "as argument"),), None),
            (call_with, (2,), {"extra": shared}),
            (square, (3,), None),
            (call_with, (shared, 4), None),
            (square, (5,), None),
        ]
    )

    assert bad == []
    assert [outcomes[i] for i in (0, 3, 5)] == [(True, 1), (True, 9), (True, 25)]
    errors = [outcomes[i][1] for i in (1, 2, 4)]
    for error in errors:
        assert isinstance(error, UnpicklableError)
        assert "was pickled in the parent but cannot be unpickled in the worker" in str(error)
        assert "pickle.loads(pickle.dumps(obj)) in a fresh process" in str(error)
        assert isinstance(error.__cause__, RemoteTraceback)  # the worker's unpickling traceback
    assert "positional argument #1 (a tests.unit.test_worker.TwoArgError)" in str(errors[0])
    assert "missing 1 required positional argument" in str(errors[0])
    assert "keyword argument 'extra' (a tests.unit.test_worker.Unloadable)" in str(errors[1])
    assert "RuntimeError: refusing to be rebuilt" in str(errors[1])
    assert "refusing to be rebuilt" in errors[1].__cause__.text
    assert "positional argument #1 (a tests.unit.test_worker.Unloadable)" in str(errors[2])


def test_a_callable_that_does_not_unpickle_fails_only_its_calls() -> None:
    outcomes, bad = _through_a_worker(
        [(UnloadableCallable(), (1,), None), (square, (2,), None), (UnloadableCallable(), (), None)]
    )

    assert bad == []
    assert outcomes[1] == (True, 4)
    for _, error in (outcomes[0], outcomes[2]):
        assert isinstance(error, UnpicklableError)
        assert "the callable (a tests.unit.test_worker.UnloadableCallable)" in str(error)
        assert "a function that the worker process can import" in str(error)


def test_unpickling_that_raises_a_base_exception_fails_only_its_call() -> None:
    outcomes, _ = _through_a_worker(
        [
            (call_with, (Interrupting(),), None),
            (square, (3,), None),
            (call_with, (Exiting(),), None),
        ]
    )

    assert outcomes[1] == (True, 9)
    for _, error in (outcomes[0], outcomes[2]):
        assert isinstance(error, UnpicklableError)
    assert "KeyboardInterrupt: while rebuilding" in str(outcomes[0][1])
    assert "SystemExit: 3" in str(outcomes[2][1])


def test_plain_arguments_travel_inline_and_other_objects_once_per_chunk() -> None:
    config = {"scale": 2}
    calls: list[Call] = [(call_with, (i, "s", 1.5, None, b"b"), {"k": i}) for i in range(50)]
    calls += [(call_with, (config,), {"again": config}), (call_with, (), {"cfg": config})]
    (objects, _, uniform), bad = encode_calls(calls)

    assert (bad, uniform) == ([], False)
    assert [noun for _, noun in objects] == [
        "a function call_with",
        "a dict",
    ]
    outcomes, _ = _through_a_worker(calls)
    assert outcomes[7] == (True, ((7, "s", 1.5, None, b"b"), {"k": 7}))
    ((shared,), again) = outcomes[50][1]
    assert shared == config
    assert again["again"] is shared  # one copy per chunk, shared as on a thread pool
    assert outcomes[51][1][1]["cfg"] is shared


def test_a_chunk_of_one_function_on_plain_arguments_is_two_pickles() -> None:
    calls: list[Call] = [(square, (i,), None) for i in range(100)]
    (objects, _, uniform), bad = encode_calls(calls)

    assert (bad, uniform, len(objects)) == ([], True, 1)
    outcomes, _ = _through_a_worker(calls)
    assert outcomes == [(True, i * i) for i in range(100)]


def test_a_function_that_does_not_unpickle_fails_each_call_of_a_uniform_chunk() -> None:
    shared = UnloadableCallable()
    outcomes, bad = _through_a_worker([(shared, (i,), None) for i in range(3)])

    assert bad == []
    errors = [error for _, error in outcomes]
    assert len({id(error) for error in errors}) == 3  # each caller gets its own error
    for ok, error in outcomes:
        assert not ok
        assert isinstance(error, UnpicklableError)
        assert "the callable (a tests.unit.test_worker.UnloadableCallable)" in str(error)


def test_a_tuple_subclass_of_arguments_travels_as_a_plain_tuple() -> None:
    outcomes, bad = _through_a_worker([(call_with, Pair(1, 2), None), (square, (3,), None)])

    assert bad == []
    assert outcomes == [(True, ((1, 2), {})), (True, 9)]


def test_arguments_whose_iteration_raises_fail_only_their_call() -> None:
    outcomes, bad = _through_a_worker([(call_with, Unlistable((1,)), None), (square, (4,), None)])

    ((index, error),) = bad
    assert index == 0
    assert isinstance(error, UnpicklableError)
    assert "the call cannot be pickled" in str(error)
    assert "RuntimeError: no iterating" in str(error)
    assert outcomes == [(True, 16)]


def test_keywords_with_str_subclass_keys_travel_as_one_object() -> None:
    key = Key("label")
    outcomes, bad = _through_a_worker([(call_with, (1,), {key: 2})])

    assert bad == []
    ((ok, (args, kwargs)),) = outcomes
    assert ok
    assert (args, kwargs) == ((1,), {"label": 2})
    assert type(next(iter(kwargs))) is Key


def test_an_exception_that_comes_back_as_something_else_fails_with_unpicklable_error() -> None:
    outcomes, _ = _through_a_worker(
        [(raise_shape_shifter, (int,), None), (raise_shape_shifter, (StopIteration,), None)]
    )

    for ok, error in outcomes:
        assert not ok
        assert isinstance(error, UnpicklableError)
        assert "came back from the worker as a" in str(error)
        assert "which a future cannot carry" in str(error)
    assert "as an int" in str(outcomes[0][1])
    assert "as a StopIteration" in str(outcomes[1][1])


def test_a_result_whose_pickling_raises_a_base_exception_fails_only_its_call() -> None:
    outcomes, _ = _through_a_worker([(return_interrupting, (), None), (square, (4,), None)])

    assert outcomes[1] == (True, 16)
    ok, error = outcomes[0]
    assert not ok
    assert isinstance(error, UnpicklableError)
    assert "the result (a tests.unit.test_worker.InterruptsPickling)" in str(error)
    assert "KeyboardInterrupt: while pickling" in str(error)


def test_unpicklable_results_and_exceptions_fail_only_their_own_call() -> None:
    outcomes, _ = _through_a_worker(
        [
            (return_lock, (), None),
            (square, (6,), None),
            (raise_two_arg_error, (), None),
            (return_two_arg_error, (), None),
            (return_unloadable, (), None),
            (square, (7,), None),
        ]
    )

    assert [outcomes[1], outcomes[5]] == [(True, 36), (True, 49)]
    lock_error, exception_error, returned_error, unloadable_error = (
        outcomes[i][1] for i in (0, 2, 3, 4)
    )
    assert isinstance(lock_error, UnpicklableError)
    assert "the result (a _thread.lock)" in str(lock_error)
    assert "return picklable data" in str(lock_error)
    assert isinstance(exception_error, UnpicklableError)
    assert "the exception (a tests.unit.test_worker.TwoArgError)" in str(exception_error)
    assert "super().__init__()" in str(exception_error)
    assert isinstance(exception_error.__cause__, RemoteTraceback)
    assert "raise_two_arg_error" in exception_error.__cause__.text
    assert "code 3: raised" in exception_error.__cause__.text
    assert isinstance(returned_error, UnpicklableError)
    assert "the result (a tests.unit.test_worker.TwoArgError)" in str(returned_error)
    assert isinstance(unloadable_error, UnpicklableError)
    assert "refusing to be rebuilt" in str(unloadable_error)


def test_outcomes_that_do_not_unpickle_in_the_parent_raise_unpicklable_error() -> None:
    blob = pickle.dumps([(True, Unloadable())])

    with pytest.raises(UnpicklableError, match="cannot be unpickled in the parent") as caught:
        decode_outcomes(blob)
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_errors_for_the_process_boundary_are_gristmill_errors_that_pickle() -> None:
    assert issubclass(UnpicklableError, TypeError)
    assert issubclass(UnpicklableError, GristmillError)
    assert issubclass(RemoteTraceback, GristmillError)
    remote = pickle.loads(pickle.dumps(RemoteTraceback("worker text")))
    assert isinstance(remote, RemoteTraceback)
    assert remote.text == str(remote) == "worker text"
