"""Pure coercers: positive integers, durations and optional timeouts."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from gristmill._validate import duration, optional_timeout, positive_int


@pytest.mark.parametrize("value", [1, 2, 10**9])
def test_positive_int_accepts_whole_numbers(value: int) -> None:
    assert positive_int("size", value) == value
    assert type(positive_int("size", value)) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, True, False, math.nan, math.inf, Fraction(3)])
def test_positive_int_rejects_bad_values_with_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        positive_int("size", value)


@pytest.mark.parametrize("value", ["3", None, [3], Decimal(3), b"3"])
def test_positive_int_rejects_wrong_types_with_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="size"):
        positive_int("size", value)


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


@pytest.mark.parametrize("value", ["5", None, [5]])
def test_duration_rejects_wrong_types_with_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="wait"):
        duration("wait", value)


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
        optional_timeout("timeout", "1")
