"""The public surface of the ``gristmill`` package: ``__all__`` matches the real exports,
the leasepool-compatible names exist, the error tree is sound, and everything public is
documented."""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterator

import pytest

import gristmill

REQUIRED = {
    "WorkGrinder",
    "LeasedExecutorManager",
    "ExecutorLease",
    "ExecutorBackend",
    "ProcessLoggingConfig",
    "GristmillError",
    "LeasePoolError",
    "LeasePoolNotStartedError",
    "LeaseUnavailableError",
    "LeaseExpiredError",
    "UnsupportedBackendError",
}

LIFECYCLE_ERRORS = ["NotStartedError", "LeasePoolNotStartedError", "WrongLoopError"]


def _exported() -> Iterator[tuple[str, object]]:
    for name in gristmill.__all__:
        yield name, getattr(gristmill, name)


def test_every_name_in_all_exists() -> None:
    missing = [name for name in gristmill.__all__ if not hasattr(gristmill, name)]
    assert missing == []
    assert len(set(gristmill.__all__)) == len(gristmill.__all__)


def test_every_public_attribute_is_listed_in_all() -> None:
    public = {
        name
        for name, value in vars(gristmill).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - set(gristmill.__all__) == set()


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from gristmill import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(gristmill.__all__)


def test_required_leasepool_compatible_names_are_exported() -> None:
    assert set(gristmill.__all__) >= REQUIRED


def test_version_is_a_string() -> None:
    assert isinstance(gristmill.__version__, str)
    assert gristmill.__version__.count(".") >= 1


def test_error_tree() -> None:
    root = gristmill.GristmillError
    assert gristmill.LeasePoolError is root
    assert issubclass(root, Exception)
    errors = [
        value
        for _, value in _exported()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
    assert len(errors) >= 8
    outside_the_tree = [error.__name__ for error in errors if not issubclass(error, root)]
    assert outside_the_tree == []


def test_every_exported_error_is_drawn_in_the_error_tree_and_defined_there() -> None:
    from gristmill import _errors

    tree = inspect.getdoc(_errors) or ""
    errors = {
        value
        for _, value in _exported()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    undrawn = sorted(error.__name__ for error in errors if f" {error.__name__}" not in tree)
    elsewhere = sorted(error.__name__ for error in errors if error.__module__ != _errors.__name__)
    assert undrawn == []
    assert elsewhere == []


@pytest.mark.parametrize("name", [*LIFECYCLE_ERRORS, "GrinderCrashedError"])
def test_lifecycle_errors_are_runtime_errors(name: str) -> None:
    error = getattr(gristmill, name)
    assert issubclass(error, RuntimeError)
    assert issubclass(error, gristmill.GristmillError)


def test_not_started_alias_is_the_same_class() -> None:
    assert gristmill.LeasePoolNotStartedError is gristmill.NotStartedError


def test_unsupported_backend_is_a_value_error() -> None:
    assert issubclass(gristmill.UnsupportedBackendError, ValueError)
    with pytest.raises(gristmill.UnsupportedBackendError, match="Unsupported backend"):
        gristmill.LeasedExecutorManager(backend="carrier-pigeon", max_pools=1)


def test_lease_errors_are_not_runtime_errors() -> None:
    assert not issubclass(gristmill.LeaseUnavailableError, RuntimeError)
    assert not issubclass(gristmill.LeaseExpiredError, RuntimeError)


def _documented_members(cls: type) -> Iterator[tuple[str, object]]:
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(member, property):
            yield name, member.fget
        elif isinstance(member, staticmethod | classmethod):
            yield name, member.__func__
        elif inspect.isfunction(member) and name != "__init__":
            yield name, member


def test_every_public_class_function_and_method_has_a_docstring() -> None:
    undocumented: list[str] = []
    for name, value in _exported():
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if not (inspect.getdoc(value) or "").strip():
            undocumented.append(name)
        if inspect.isclass(value) and value.__module__.startswith("gristmill"):
            for member_name, member in _documented_members(value):
                if not (getattr(member, "__doc__", None) or "").strip():
                    undocumented.append(f"{name}.{member_name}")
    assert undocumented == []


def test_the_package_logger_has_a_null_handler() -> None:
    import logging

    handlers = logging.getLogger("gristmill").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


def test_the_testing_kit_is_importable() -> None:
    from gristmill import testing

    assert set(testing.__all__) >= {"FakeClock", "Clock"}
    assert inspect.getdoc(testing.FakeClock)
