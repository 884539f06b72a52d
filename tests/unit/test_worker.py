"""The chunk runner and its pickle codec (gristmill._worker), without processes.

``encode_calls`` → ``run_pickled`` → ``decode_outcomes`` is exactly the trip a
chunk makes to a process worker and back, so running it in-process checks the
per-item isolation that the process backend relies on.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from typing import Any

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


def test_chunk_that_pickles_only_call_by_call_fails_every_call_without_raising() -> None:
    payload, bad = encode_calls([(call_with, (FlakyPickle(),), None), (square, (2,), None)])

    assert [index for index, _ in bad] == [0, 1]
    assert all(isinstance(error, UnpicklableError) for _, error in bad)
    assert "the chunk of calls" in str(bad[0][1])
    assert decode_outcomes(run_pickled(payload)) == []


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


def test_payload_that_does_not_unpickle_in_the_worker_raises_unpicklable_error() -> None:
    payload, bad = encode_calls([(call_with, (TwoArgError(1, "as argument"),), None)])

    assert bad == []
    with pytest.raises(UnpicklableError, match="cannot be unpickled in the worker") as caught:
        run_pickled(payload)
    assert isinstance(caught.value.__cause__, TypeError)


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
