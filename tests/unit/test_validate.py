"""Pure coercers: positive integers, durations and optional timeouts."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from gristmill import WrongTypeError
from gristmill._validate import duration, optional_timeout, positive_int, whole_number


@pytest.mark.parametrize("value", [1, 2, 10**9])
def test_positive_int_accepts_whole_numbers(value: int) -> None:
    assert positive_int("size", value) == value
    assert type(positive_int("size", value)) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, True, False, math.nan, math.inf, Fraction(3)])
def test_positive_int_rejects_bad_values_with_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        positive_int("size", value)


@pytest.mark.parametrize("value", ["3", None, [3], Decimal(3), b"3"])
def test_positive_int_rejects_wrong_types_with_an_error_both_type_and_value(
    value: object,
) -> None:
    for caught in (TypeError, ValueError, WrongTypeError):
        with pytest.raises(caught, match="size must be an integer > 0"):
            positive_int("size", value)


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        (0, "size must be > 0, got 0"),
        (-1, "size must be > 0"),
        (2.5, "size must be an integer > 0"),
        (True, "size must be an integer > 0, not a bool"),
    ],
)
def test_positive_int_messages_carry_leasepools_wording(value: object, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase) as raised:
        positive_int("size", value)
    assert not isinstance(raised.value, TypeError)  # a bad value, not a wrong type


def test_whole_number_names_its_own_minimum() -> None:
    with pytest.raises(ValueError, match="retries must be >= 0, got -1"):
        whole_number("retries", -1, minimum=0)


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1.0), (0.25, 0.25), (300, 300.0), (Fraction(1, 2), 0.5)]
)
def test_duration_returns_float_seconds(value: object, expected: float) -> None:
    got = duration("wait", value)
    assert got == expected
    assert type(got) is float


@pytest.mark.parametrize("value", [0, 0.0, -0.0, -1, -1e-9, math.nan, math.inf, -math.inf, True])
def test_duration_rejects_zero_negative_non_finite_and_bool(value: object) -> None:
    with pytest.raises(ValueError, match="wait"):
        duration("wait", value)


def test_duration_allow_zero_accepts_zero_but_not_negative() -> None:
    assert duration("grace", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="grace"):
        duration("grace", -0.5, allow_zero=True)
    with pytest.raises(ValueError, match="grace"):
        duration("grace", False, allow_zero=True)


@pytest.mark.parametrize("value", ["five", "", None, [5], b"5"])
def test_duration_rejects_wrong_types_with_an_error_both_type_and_value(value: object) -> None:
    for caught in (TypeError, ValueError, WrongTypeError):
        with pytest.raises(caught, match=r"wait must be a finite number > 0 \(seconds\)"):
            duration("wait", value)


@pytest.mark.parametrize(("value", "expected"), [("2.5", 2.5), (" 10 ", 10.0), ("1e-3", 0.001)])
def test_duration_reads_a_string_that_holds_a_number(value: str, expected: float) -> None:
    assert duration("wait", value) == expected


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_a_numeric_string_is_checked_like_the_number_it_holds(value: str) -> None:
    with pytest.raises(ValueError, match="wait must be") as raised:
        duration("wait", value)
    assert not isinstance(raised.value, TypeError)


@pytest.mark.parametrize(
    ("value", "allow_zero", "phrase"),
    [
        (0, False, "wait must be > 0, got 0"),
        (-1, True, "wait must be >= 0, got -1"),
        (math.nan, False, "wait must be a finite number > 0"),
        (True, False, "wait must be a finite number > 0 .*not a bool"),
    ],
)
def test_duration_messages_carry_leasepools_wording(
    value: object, allow_zero: bool, phrase: str
) -> None:
    with pytest.raises(ValueError, match=phrase):
        duration("wait", value, allow_zero=allow_zero)


def test_optional_timeout_passes_none_and_allows_zero() -> None:
    assert optional_timeout("timeout", None) is None
    assert optional_timeout("timeout", 0) == 0.0
    assert optional_timeout("timeout", 2.5) == 2.5


@pytest.mark.parametrize("value", [-1, math.nan, math.inf, True])
def test_optional_timeout_rejects_bad_values(value: object) -> None:
    with pytest.raises(ValueError, match="timeout"):
        optional_timeout("timeout", value)


def test_optional_timeout_rejects_wrong_type() -> None:
    with pytest.raises(TypeError, match="timeout"):
        optional_timeout("timeout", "one")
