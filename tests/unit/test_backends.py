"""Backend names, their resolution, executor-option checks and the default start method."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from typing import Any

import pytest

from gristmill import (
    ExecutorBackend,
    LeasedExecutorManager,
    UnsupportedBackendError,
    WorkGrinder,
    available_backends,
)
from gristmill._backends import check_options, default_mp_context, resolve_backend


def test_executor_backend_is_a_str_enum_of_the_three_kinds() -> None:
    assert [member.value for member in ExecutorBackend] == ["thread", "process", "interpreter"]
    assert ExecutorBackend("process") is ExecutorBackend.PROCESS
    plain: str = ExecutorBackend.THREAD
    assert plain == "thread"
    assert isinstance(ExecutorBackend.INTERPRETER, str)
    assert f"{ExecutorBackend.PROCESS}" == "process"


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("thread", ExecutorBackend.THREAD),
        ("process", ExecutorBackend.PROCESS),
        (ExecutorBackend.PROCESS, ExecutorBackend.PROCESS),
        ("Process", ExecutorBackend.PROCESS),
        ("THREAD", ExecutorBackend.THREAD),
    ],
)
def test_backend_names_resolve_in_any_letter_case(name: str, member: ExecutorBackend) -> None:
    backend = resolve_backend(name)
    assert backend.name == member.value
    assert LeasedExecutorManager(backend=name, max_pools=1).backend is member


def test_only_process_payloads_cross_a_process_boundary() -> None:
    thread = resolve_backend("thread")
    process = resolve_backend("process")
    assert (thread.payloads_cross_process, thread.can_kill_workers) == (False, False)
    assert (process.payloads_cross_process, process.can_kill_workers) == (True, True)
    assert LeasedExecutorManager(backend="process", max_pools=1).payloads_cross_process
    assert not LeasedExecutorManager(backend="thread", max_pools=1).payloads_cross_process


@pytest.mark.parametrize("name", ["fiber", " thread", "", None, 3])
def test_unknown_backend_is_rejected_with_the_choices(name: Any) -> None:
    with pytest.raises(UnsupportedBackendError, match="choose one of: ") as caught:
        LeasedExecutorManager(backend=name, max_pools=1)
    assert f"choose one of: {', '.join(available_backends())}," in str(caught.value)
    assert {"thread", "process"} <= set(available_backends())
    assert issubclass(UnsupportedBackendError, ValueError)


def test_interpreter_backend_is_refused_before_python_3_14() -> None:
    if sys.version_info >= (3, 14):
        manager = LeasedExecutorManager(backend="interpreter", max_pools=1)
        assert manager.backend is ExecutorBackend.INTERPRETER
        return
    with pytest.raises(UnsupportedBackendError, match=r"3\.14") as caught:
        LeasedExecutorManager(backend="interpreter", max_pools=1)
    assert "'process'" in str(caught.value)  # the message says what to use instead


@pytest.mark.skipif(sys.version_info < (3, 14), reason="InterpreterPoolExecutor needs 3.14+")
async def test_interpreter_backend_runs_calls_on_3_14() -> None:
    manager = LeasedExecutorManager(backend="interpreter", max_pools=1, workers_per_pool=1)
    assert manager.payloads_cross_process
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1)
    await manager.start()
    await grinder.start()
    try:
        assert await grinder.submit(pow, 3, 3) == 27
        async with await manager.acquire() as lease:
            assert await lease.run(pow, 2, 10) == 1024
    finally:
        await grinder.stop()
        await manager.stop()


def test_thread_backend_refuses_process_options() -> None:
    with pytest.raises(TypeError, match="max_tasks_per_child, mp_context") as caught:
        LeasedExecutorManager(
            backend="thread",
            max_pools=1,
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=3,
        )
    assert "initargs, initializer" in str(caught.value)  # what it does accept


def test_process_backend_accepts_every_process_pool_option() -> None:
    process = resolve_backend("process")
    options: dict[str, Any] = {
        "initializer": print,
        "initargs": (),
        "mp_context": multiprocessing.get_context("spawn"),
        "max_tasks_per_child": 2,
    }
    assert set(options) <= process.accepted_options
    check_options(process, options)
    assert LeasedExecutorManager(backend="process", max_pools=1, **options).backend == "process"


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_max_workers_is_refused_in_favour_of_workers_per_pool(backend: str) -> None:
    with pytest.raises(TypeError, match="workers_per_pool"):
        LeasedExecutorManager(backend=backend, max_pools=1, max_workers=3)


def test_process_backend_refuses_unknown_executor_options() -> None:
    with pytest.raises(TypeError, match="thread_name_prefix"):
        LeasedExecutorManager(backend="process", max_pools=1, thread_name_prefix="x")


def test_default_start_method_prefers_forkserver_and_never_forks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "forkserver" in multiprocessing.get_all_start_methods():
        assert default_mp_context().get_start_method() == "forkserver"
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn"])
    assert default_mp_context().get_start_method() == "spawn"


def test_thread_pools_name_their_threads_after_the_pool() -> None:
    thread = resolve_backend("thread")
    executor = thread.create(workers=1, name="mill-7", options={})
    try:
        name = executor.submit(lambda: threading.current_thread().name).result(timeout=10)
    finally:
        executor.shutdown()
    assert name.startswith("mill-7")
