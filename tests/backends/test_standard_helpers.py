"""leasepool's backend helpers: normalize_backend, resolve_executor_cls, build_executor."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from gristmill import ExecutorBackend, UnsupportedBackendError, WrongTypeError
from gristmill.backends import build_executor, normalize_backend, resolve_executor_cls


def _thread_name() -> str:
    return threading.current_thread().name


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        ("thread", ExecutorBackend.THREAD),
        ("THREAD", ExecutorBackend.THREAD),
        ("Process", ExecutorBackend.PROCESS),
        ("interpreter", ExecutorBackend.INTERPRETER),
        (ExecutorBackend.PROCESS, ExecutorBackend.PROCESS),
    ],
)
def test_normalize_backend_names_a_built_in_kind_in_any_case(
    given: ExecutorBackend | str, kind: ExecutorBackend
) -> None:
    assert normalize_backend(given) is kind


@pytest.mark.parametrize("given", ["gpu", "", 3])
def test_normalize_backend_refuses_what_is_no_built_in_kind(given: object) -> None:
    with pytest.raises(ValueError, match="Unsupported backend") as raised:
        normalize_backend(given)  # type: ignore[arg-type]
    assert isinstance(raised.value, UnsupportedBackendError)


def test_normalize_backend_points_a_registered_backend_to_the_manager() -> None:
    with pytest.raises(UnsupportedBackendError, match=r"pass backend='loky' to LeasedExecutor"):
        normalize_backend("loky")


def test_resolve_executor_cls_gives_the_stdlib_classes() -> None:
    assert resolve_executor_cls("thread") is ThreadPoolExecutor
    assert resolve_executor_cls(ExecutorBackend.PROCESS) is ProcessPoolExecutor


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14 has InterpreterPoolExecutor")
def test_resolve_executor_cls_refuses_interpreters_before_3_14() -> None:
    with pytest.raises(UnsupportedBackendError, match=r"Python 3\.14"):
        resolve_executor_cls("interpreter")


def test_build_executor_names_thread_workers_after_prefix_and_sequence() -> None:
    executor = build_executor(
        backend="THREAD", max_workers=1, name_prefix="api", executor_seq=7, executor_kwargs={}
    )
    try:
        assert isinstance(executor, ThreadPoolExecutor)
        assert executor.submit(_thread_name).result(timeout=10).startswith("api-7")
    finally:
        executor.shutdown(wait=True)


def test_build_executor_lets_a_given_thread_name_prefix_win() -> None:
    executor = build_executor(
        backend="thread",
        max_workers=1,
        name_prefix="api",
        executor_seq=1,
        executor_kwargs={"thread_name_prefix": "mine"},
    )
    try:
        assert executor.submit(_thread_name).result(timeout=10).startswith("mine")
    finally:
        executor.shutdown(wait=True)


def test_build_executor_passes_initializer_through() -> None:
    seen: list[str] = []
    executor = build_executor(
        backend="thread",
        max_workers=1,
        name_prefix="p",
        executor_seq=1,
        executor_kwargs={"initializer": seen.append, "initargs": ("ready",)},
    )
    try:
        executor.submit(int).result(timeout=10)
        assert seen == ["ready"]
    finally:
        executor.shutdown(wait=True)


def test_build_executor_gives_process_pools_the_managers_start_method() -> None:
    spawn = multiprocessing.get_context("spawn")
    executor = build_executor(
        backend="process",
        max_workers=1,
        name_prefix="ignored",
        executor_seq=1,
        executor_kwargs={"mp_context": spawn},
    )
    try:
        assert isinstance(executor, ProcessPoolExecutor)
        assert executor.submit(abs, -42).result(timeout=60) == 42
    finally:
        executor.shutdown(wait=True)


@pytest.mark.parametrize(("workers", "error"), [(0, ValueError), ("2", WrongTypeError)])
def test_build_executor_checks_max_workers(workers: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_workers must be"):
        build_executor(
            backend="thread",
            max_workers=workers,  # type: ignore[arg-type]
            name_prefix="p",
            executor_seq=1,
            executor_kwargs={},
        )
