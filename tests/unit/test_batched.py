"""Batch functions, the pure parts: the decorator, call planning and one call in a worker."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import pytest

from gristmill import BatchFunction, WrongTypeError, batched
from gristmill._batched import call_batch, check_batch_args, plan_calls


def double(items: list[int]) -> list[int]:
    return [item * 2 for item in items]


doubled = batched(double)


@batched(max_batch_size=3, dedupe=True, on_error="split")
def tripled(items: list[int]) -> list[int]:
    return [item * 3 for item in items]


def test_both_decorator_forms_make_a_batch_function_that_is_still_the_plain_function() -> None:
    assert isinstance(doubled, BatchFunction)
    assert isinstance(tripled, BatchFunction)
    assert doubled([1, 2]) == [2, 4]
    assert tripled([1]) == [3]
    assert tripled.__name__ == "tripled"
    assert (tripled.max_batch_size, tripled.dedupe, tripled.on_error) == (3, True, "split")
    assert (doubled.max_batch_size, doubled.key, doubled.dedupe, doubled.on_error) == (
        None,
        None,
        False,
        "fail",
    )


def test_an_async_function_is_refused_at_decoration() -> None:
    async def fetch(items: list[int]) -> list[int]:
        return items

    with pytest.raises(TypeError, match="async"):
        batched(fetch)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async"):
        batched(max_batch_size=2)(fetch)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        ({"max_batch_size": 0}, ValueError, "max_batch_size"),
        ({"max_batch_size": "8"}, TypeError, "max_batch_size"),
        ({"key": 3}, WrongTypeError, "key"),
        ({"dedupe": "yes"}, WrongTypeError, "dedupe"),
        ({"on_error": "retry"}, ValueError, "on_error"),
        ({"on_error": 1}, WrongTypeError, "on_error"),
    ],
)
def test_bad_options_are_refused_when_decorating(
    options: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        batched(**options)


def test_a_module_level_batch_function_pickles_by_reference_without_its_key() -> None:
    keyed = BatchFunction(double, key=lambda item: item % 2)
    twin = pickle.loads(pickle.dumps(doubled))
    assert isinstance(twin, BatchFunction)
    assert twin.fn is double
    assert twin([4]) == [8]
    assert pickle.loads(pickle.dumps(keyed)).key is None  # the key acts in the parent only


def test_a_batch_function_takes_exactly_one_positional_item() -> None:
    check_batch_args(doubled, (1,), None)
    for args, kwargs in [((), None), ((1, 2), None), ((1,), {"x": 1})]:
        with pytest.raises(TypeError, match="exactly one positional argument, the item"):
            check_batch_args(doubled, args, kwargs)


def test_plan_groups_by_function_and_key_and_caps_calls_evenly() -> None:
    parity = BatchFunction(double, key=lambda item: item % 2, max_batch_size=2)
    fns: list[Any] = [print, parity, parity, doubled, parity, print, parity, parity]
    args = [(0,), (1,), (2,), (3,), (3,), (5,), (5,), (7,)]
    plan = plan_calls(fns, args)
    assert plan.singles == [0, 5]
    assert plan.refused == []
    calls = [(fn, members) for fn, members in plan.calls]
    assert calls == [(parity, [1, 4]), (parity, [6, 7]), (parity, [2]), (doubled, [3])]


def test_a_cap_splits_a_group_into_parts_of_even_size() -> None:
    capped = BatchFunction(double, max_batch_size=4)
    plan = plan_calls([capped] * 9, [(i,) for i in range(9)])
    assert [len(members) for _, members in plan.calls] == [3, 3, 3]


def test_a_key_that_raises_or_is_unhashable_refuses_that_item_alone() -> None:
    def key(item: object) -> object:
        if item == "boom":
            raise RuntimeError("no key")
        return [item] if item == "list" else item

    keyed = BatchFunction(double, key=key)
    plan = plan_calls([keyed] * 4, [("a",), ("boom",), ("list",), ("a",)])
    assert [members for _, members in plan.calls] == [[0, 3]]
    assert [index for index, _ in plan.refused] == [1, 2]
    assert all(isinstance(error, TypeError) for _, error in plan.refused)


def test_results_go_to_their_items_and_exception_elements_fail_alone() -> None:
    def mixed(items: list[int]) -> list[object]:
        return [ValueError(f"bad {i}") if i < 0 else i for i in items]

    outcomes, calls = call_batch(BatchFunction(mixed), [1, -2, 3])
    assert calls == 1
    assert outcomes[0] == (True, 1)
    assert outcomes[1][0] is False
    assert str(outcomes[1][1]) == "bad -2"
    assert outcomes[2] == (True, 3)


@pytest.mark.parametrize(
    ("result", "error", "words"),
    [
        ([1], ValueError, "returned 1 results for 3 items"),
        (42, TypeError, "returned a int, not a sequence of 3"),
        ("abc", TypeError, "returned a str"),
        ({"a": 1, "b": 2, "c": 3}, TypeError, "returned a dict"),
    ],
)
def test_a_wrong_result_fails_every_item_of_the_call_and_names_the_function(
    result: object, error: type[Exception], words: str
) -> None:
    def wrong(items: list[int]) -> Any:
        return result

    outcomes, _ = call_batch(BatchFunction(wrong), [1, 2, 3])
    for ok, exc in outcomes:
        assert ok is False
        assert isinstance(exc, error)
        assert "wrong" in str(exc)
        assert words in str(exc)


def test_a_raising_call_fails_every_item_with_its_own_copy_of_the_error() -> None:
    def broken(items: list[int]) -> list[int]:
        raise KeyError("model missing")

    outcomes, calls = call_batch(BatchFunction(broken), [1, 2, 3])
    errors = [exc for _, exc in outcomes]
    assert calls == 1
    assert all(isinstance(exc, KeyError) for exc in errors)
    assert all(exc.args == ("model missing",) for exc in errors)
    assert len({id(exc) for exc in errors}) == 3  # no traceback piles up on another caller's


def test_base_exceptions_and_stop_iteration_stay_with_the_call() -> None:
    def exits(items: list[int]) -> list[int]:
        raise SystemExit(3)

    def stops(items: list[int]) -> list[int]:
        raise StopIteration

    outcomes, _ = call_batch(BatchFunction(exits), [1, 2])
    assert all(isinstance(exc, SystemExit) and exc.code == 3 for _, exc in outcomes)
    outcomes, _ = call_batch(BatchFunction(stops), [1])
    assert isinstance(outcomes[0][1], RuntimeError)
    assert isinstance(outcomes[0][1].__cause__, StopIteration)


def poison_aware(items: Sequence[int]) -> list[int]:
    if any(item < 0 for item in items):
        raise ValueError("negative item")
    return [item + 1 for item in items]


def test_split_fails_only_the_poison_and_counts_its_calls() -> None:
    function = BatchFunction(poison_aware, on_error="split")
    items = list(range(64))
    items[5] = items[40] = -1
    outcomes, calls = call_batch(function, items)
    failed = [i for i, (ok, _) in enumerate(outcomes) if not ok]
    assert failed == [5, 40]
    assert [value for ok, value in outcomes if ok] == [i + 1 for i in items if i >= 0]
    # about log2(n) + 1 extra calls for each bad item, and one more when a call holds several
    assert calls <= 1 + 2 * (6 + 1) + 1


@pytest.mark.parametrize("poison", range(16))
def test_one_poison_among_sixteen_costs_at_most_log2_plus_one_extra_calls(poison: int) -> None:
    items = list(range(16))
    items[poison] = -1
    outcomes, calls = call_batch(BatchFunction(poison_aware, on_error="split"), items)
    assert [i for i, (ok, _) in enumerate(outcomes) if not ok] == [poison]
    assert calls - 1 <= 4 + 1


def test_one_poison_costs_on_average_the_least_any_split_can() -> None:
    # log2(n) + 0.5 for n a power of two: benchmarks/split_bound.py computes that bound
    extra = []
    for poison in range(16):
        items = list(range(16))
        items[poison] = -1
        _, calls = call_batch(BatchFunction(poison_aware, on_error="split"), items)
        extra.append(calls - 1)
    assert sum(extra) / 16 == 4.5


@pytest.mark.parametrize("size", [2, 3, 5, 6, 7, 8, 10])
def test_split_finds_every_set_of_poisons_exactly(size: int) -> None:
    # Every placement of any number of poisons: each poison fails, each good item gets
    # its own result, and the count of calls stays within about log2(n) + 2 per poison.
    for mask in range(1, 2**size):
        items = [-1 if mask >> i & 1 else i for i in range(size)]
        outcomes, calls = call_batch(BatchFunction(poison_aware, on_error="split"), items)
        assert [ok for ok, _ in outcomes] == [item >= 0 for item in items], items
        assert [value for ok, value in outcomes if ok] == [i + 1 for i in items if i >= 0]
        poisons = bin(mask).count("1")
        assert calls - 1 <= poisons * (size.bit_length() + 2), items


def test_split_with_every_item_poisoned_fails_them_all_once() -> None:
    outcomes, calls = call_batch(BatchFunction(poison_aware, on_error="split"), [-1] * 8)
    assert [ok for ok, _ in outcomes] == [False] * 8
    assert len({id(error) for _, error in outcomes}) == 8
    assert calls <= 3 * 8  # the worst case: every item is poison


def test_dedupe_passes_equal_items_once_and_never_merges_what_cannot_be_compared() -> None:
    seen: list[list[object]] = []

    def record(items: list[object]) -> list[object]:
        seen.append(list(items))
        return [repr(item) for item in items]

    class Hostile:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no comparing me")

        __hash__ = object.__hash__

    hostile = Hostile()
    items: list[object] = ["a", "b", "a", [1], [1], hostile, "b"]
    outcomes, calls = call_batch(BatchFunction(record, dedupe=True), items)
    assert calls == 1
    assert seen[0][:2] == ["a", "b"]
    assert len(seen[0]) == 5  # "a", "b", two unhashable lists, the hostile object
    assert [value for _, value in outcomes] == [repr(item) for item in items]
