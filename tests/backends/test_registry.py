"""The backend registry: registering, replacing and resolving names, and what is available."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import gristmill
from gristmill import (
    Backend,
    ExecutorBackend,
    LeasedExecutorManager,
    UnsupportedBackendError,
    available_backends,
    register_backend,
)
from tests.backends.support import RecordingBackend


def test_the_public_module_and_the_package_export_the_same_objects() -> None:
    from gristmill import backends

    assert backends.Backend is gristmill.Backend
    assert backends.register_backend is gristmill.register_backend
    assert backends.available_backends is gristmill.available_backends
    assert backends.ExecutorBackend is gristmill.ExecutorBackend
    assert set(backends.__all__) == {
        "Backend",
        "BackendFactory",
        "ExecutorBackend",
        "available_backends",
        "build_executor",
        "normalize_backend",
        "register_backend",
        "resolve_executor_cls",
    }


def test_available_backends_are_sorted_and_list_what_runs_here() -> None:
    names = available_backends()
    assert names == sorted(names)
    assert {"thread", "process", "loky"} <= set(names)  # loky is installed in the test venv
    assert ("interpreter" in names) == (sys.version_info >= (3, 14))


def test_a_registered_name_builds_managers_in_any_letter_case() -> None:
    register_backend("Recording", RecordingBackend)
    assert "recording" in available_backends()
    for spelling in ("recording", "RECORDING", "Recording"):
        manager = LeasedExecutorManager(backend=spelling, max_pools=1)
        assert manager.backend == "recording"
        assert manager.stats()["backend"] == "recording"


def test_each_manager_gets_its_own_instance_from_the_factory() -> None:
    made: list[RecordingBackend] = []

    def factory() -> RecordingBackend:
        made.append(RecordingBackend())
        return made[-1]

    register_backend("recording", factory)
    LeasedExecutorManager(backend="recording", max_pools=1)
    LeasedExecutorManager(backend="recording", max_pools=1)
    assert len(made) == 2
    assert made[0] is not made[1]


def test_a_taken_name_is_refused_unless_replace_is_given() -> None:
    register_backend("recording", RecordingBackend)
    with pytest.raises(ValueError, match="'recording' is already registered") as caught:
        register_backend("RECORDING", lambda: RecordingBackend("other"))
    assert "replace=True" in str(caught.value)
    assert LeasedExecutorManager(backend="recording", max_pools=1).backend == "recording"

    register_backend("RECORDING", lambda: RecordingBackend("other"), replace=True)
    assert LeasedExecutorManager(backend="recording", max_pools=1).backend == "other"


def test_built_in_names_are_registered_through_the_same_registry() -> None:
    with pytest.raises(ValueError, match="'thread' is already registered"):
        register_backend("thread", RecordingBackend)
    register_backend("thread", RecordingBackend, replace=True)
    manager = LeasedExecutorManager(backend=ExecutorBackend.THREAD, max_pools=1)
    assert manager.stats()["backend"] == "recording"


@pytest.mark.parametrize(
    ("name", "factory", "error", "message"),
    [
        (b"thread", RecordingBackend, TypeError, "backend name must be a str, got bytes"),
        (None, RecordingBackend, TypeError, "backend name must be a str, got NoneType"),
        ("mine", RecordingBackend(), TypeError, "must be a zero-argument callable"),
        ("mine", "RecordingBackend", TypeError, "got str"),
        ("", RecordingBackend, ValueError, "non-empty and without spaces"),
        ("my pool", RecordingBackend, ValueError, "got 'my pool'"),
    ],
)
def test_bad_registrations_are_refused(
    name: Any, factory: Any, error: type[Exception], message: str
) -> None:
    before = available_backends()
    with pytest.raises(error, match=message):
        register_backend(name, factory)
    assert available_backends() == before


def test_a_factory_that_returns_no_backend_fails_the_manager_with_type_error() -> None:
    register_backend("broken-factory", lambda: object())  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="'broken-factory' returned a object, not a Backend"):
        LeasedExecutorManager(backend="broken-factory", max_pools=1)


@pytest.mark.parametrize("name", ["fiber", "", " thread", None, 3, object()])
def test_unknown_backends_are_refused_with_the_available_names(name: Any) -> None:
    register_backend("recording", RecordingBackend)
    with pytest.raises(UnsupportedBackendError, match="Unsupported backend") as caught:
        LeasedExecutorManager(backend=name, max_pools=1)
    message = str(caught.value)
    assert f"choose one of: {', '.join(available_backends())}," in message
    assert "recording" in message
    assert "pass a Backend instance" in message


def test_a_backend_instance_is_used_as_is() -> None:
    backend = RecordingBackend("mine")
    assert isinstance(backend, Backend)
    manager = LeasedExecutorManager(backend=backend, max_pools=1)
    assert manager.backend == "mine"
    assert "mine" not in available_backends()  # passing an instance registers nothing


def test_manager_backend_is_the_enum_member_for_built_ins_and_the_name_otherwise() -> None:
    assert LeasedExecutorManager(backend="Process", max_pools=1).backend is ExecutorBackend.PROCESS
    custom = LeasedExecutorManager(backend=RecordingBackend("mine"), max_pools=1).backend
    assert custom == "mine"
    assert not isinstance(custom, ExecutorBackend)


def test_executor_options_are_checked_against_the_backends_accepted_options() -> None:
    LeasedExecutorManager(backend=RecordingBackend(), max_pools=1, tag="ok")
    with pytest.raises(TypeError, match="backend 'recording' does not accept executor option"):
        LeasedExecutorManager(backend=RecordingBackend(), max_pools=1, initializer=print)
