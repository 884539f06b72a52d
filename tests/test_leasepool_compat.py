"""gristmill is a drop-in for leasepool 0.1.3: same names, compatible signatures, a
superset of the stats keys, and a leasepool program prints the same under gristmill."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import multiprocessing
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import leasepool
import pytest

import gristmill

P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
VARIADIC = (P.VAR_POSITIONAL, P.VAR_KEYWORD)

NOT_COMPARED = {
    # Leases are built by the manager, never by user code: leasepool's takes
    # the manager, ours the pool and clock behind it.
    "ExecutorLease.__init__",
}
KNOWN_DEFAULT_DIFFERENCES = {
    # Only labels pool threads; lease ids are not derived from it in leasepool.
    ("LeasedExecutorManager.__init__", "name_prefix"): ("leasepool", "gristmill"),
}


def _leasepool_callables() -> Iterator[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    for name in leasepool.__all__:
        theirs, ours = getattr(leasepool, name), getattr(gristmill, name)
        if not inspect.isclass(theirs):
            yield name, theirs, ours
            continue
        if issubclass(theirs, BaseException) or issubclass(theirs, leasepool.ExecutorBackend):
            continue
        for member, value in vars(theirs).items():
            public = not member.startswith("_") or member in {"__init__", "__aenter__", "__aexit__"}
            if public and inspect.isfunction(value):
                yield f"{name}.{member}", value, getattr(ours, member)


def _signature_problems(
    where: str, theirs: Callable[..., Any], ours: Callable[..., Any]
) -> list[str]:
    their_sig, our_sig = inspect.signature(theirs), inspect.signature(ours)
    their_params, our_params = their_sig.parameters, our_sig.parameters
    problems: list[str] = []
    their_positional = [p.name for p in their_params.values() if p.kind in POSITIONAL]
    our_positional = [p.name for p in our_params.values() if p.kind in POSITIONAL]
    if our_positional != their_positional:
        problems.append(f"{where}: positional parameters {our_positional} != {their_positional}")
    for name, param in their_params.items():
        if param.kind in VARIADIC:
            if not any(p.kind is param.kind for p in our_params.values()):
                problems.append(f"{where}: missing {param.kind.description} parameter")
            continue
        mine = our_params.get(name)
        if mine is None:
            problems.append(f"{where}: missing parameter {name!r}")
            continue
        if mine.kind is not param.kind:
            problems.append(
                f"{where}: {name!r} is {mine.kind.description}, not {param.kind.description}"
            )
        if mine.default != param.default:
            known = KNOWN_DEFAULT_DIFFERENCES.get((where, name))
            if known != (param.default, mine.default):
                problems.append(
                    f"{where}: {name!r} defaults to {mine.default!r}, not {param.default!r}"
                )
    for name, mine in our_params.items():
        if name in their_params or mine.kind in VARIADIC:
            continue
        if mine.kind is not P.KEYWORD_ONLY or mine.default is P.empty:
            problems.append(
                f"{where}: extra parameter {name!r} must be keyword-only with a default"
            )
    if inspect.iscoroutinefunction(theirs) != inspect.iscoroutinefunction(ours):
        problems.append(f"{where}: async-ness differs")
    return problems


def test_every_leasepool_name_is_exported() -> None:
    assert set(leasepool.__all__) <= set(gristmill.__all__)


def test_every_leasepool_callable_has_a_compatible_signature() -> None:
    compared = 0
    problems: list[str] = []
    for where, theirs, ours in _leasepool_callables():
        if where in NOT_COMPARED:
            continue
        compared += 1
        problems += _signature_problems(where, theirs, ours)
    assert problems == []
    assert compared >= 20


def test_known_default_differences_are_still_real() -> None:
    for (where, name), (theirs, ours) in KNOWN_DEFAULT_DIFFERENCES.items():
        cls_name, method = where.split(".")
        their_fn = getattr(getattr(leasepool, cls_name), method)
        our_fn = getattr(getattr(gristmill, cls_name), method)
        assert inspect.signature(their_fn).parameters[name].default == theirs
        assert inspect.signature(our_fn).parameters[name].default == ours


def test_every_leasepool_property_exists() -> None:
    missing = [
        f"{name}.{member}"
        for name in leasepool.__all__
        if inspect.isclass(cls := getattr(leasepool, name))
        for member, value in vars(cls).items()
        if isinstance(value, property)
        and not isinstance(getattr(getattr(gristmill, name), member, None), property)
    ]
    assert missing == []


def test_backend_members_match() -> None:
    theirs = {member.name: member.value for member in leasepool.ExecutorBackend}
    ours = {member.name: member.value for member in gristmill.ExecutorBackend}
    assert theirs.items() <= ours.items()


def test_process_logging_config_fields_match() -> None:
    def fields(cls: Any) -> dict[str, object]:
        return {field.name: field.default for field in dataclasses.fields(cls)}

    assert fields(leasepool.ProcessLoggingConfig) == fields(gristmill.ProcessLoggingConfig)


def test_exception_hierarchy_is_mirrored() -> None:
    names = [
        name
        for name in leasepool.__all__
        if inspect.isclass(getattr(leasepool, name))
        and issubclass(getattr(leasepool, name), BaseException)
    ]
    assert len(names) == 5
    for sub in names:
        for base in names:
            if issubclass(getattr(leasepool, sub), getattr(leasepool, base)):
                assert issubclass(getattr(gristmill, sub), getattr(gristmill, base)), (sub, base)


async def _observe(lib: Any) -> dict[str, set[str]]:
    """Start a manager and grinder of ``lib`` briefly and collect their stats keys."""
    manager = lib.LeasedExecutorManager(max_pools=1, workers_per_pool=1)
    grinder = lib.WorkGrinder(executor_manager=manager, batch_size_threshold=2)
    before = set(grinder.stats())
    await manager.start()
    await grinder.start()
    future = await grinder.enqueue(abs, -1)
    lease = await manager.acquire(owner="compat")
    try:
        manager_stats = manager.stats()
        grinder_stats = grinder.stats()
        lease_attributes = {name for name in dir(lease) if not name.startswith("_")}
    finally:
        await lease.release()
        future.cancel()
        await grinder.stop()
        await manager.stop()
    return {
        "grinder before start": before,
        "grinder": set(grinder_stats),
        "manager": set(manager_stats),
        "lease entry": set(manager_stats["leases"][0]),
        "lease attributes": lease_attributes,
    }


def test_stats_keys_and_lease_attributes_are_a_superset_of_leasepools() -> None:
    theirs = asyncio.run(_observe(leasepool))
    ours = asyncio.run(_observe(gristmill))
    for what, keys in theirs.items():
        assert keys, what
        assert keys <= ours[what], (what, keys - ours[what])


LEASEPOOL_PROGRAM = textwrap.dedent(
    """
    import asyncio

    from leasepool import (
        ExecutorBackend,
        LeasedExecutorManager,
        LeaseExpiredError,
        LeasePoolError,
        LeasePoolNotStartedError,
        LeaseUnavailableError,
        UnsupportedBackendError,
        WorkGrinder,
    )


    def square(x):
        return x * x


    def fail(x):
        raise ValueError(f"bad input {x}")


    async def main():
        try:
            LeasedExecutorManager(backend="nope", max_pools=1)
        except ValueError:
            print("unknown backend rejected")
        try:
            interpreters = LeasedExecutorManager(backend="interpreter", max_pools=1)
            await interpreters.start()
        except UnsupportedBackendError as exc:
            print("no interpreter backend; library error:", isinstance(exc, LeasePoolError))
        for spelling in ("thread", "Thread", "PROCESS"):
            spelled = LeasedExecutorManager(backend=spelling, max_pools=1)
            print(spelling, "->", spelled.backend.value)
        for bad in (0, -1, 1.5, True):
            try:
                LeasedExecutorManager(max_pools=bad)
            except ValueError:
                print("bad max_pools rejected:", repr(bad))
        try:
            WorkGrinder(executor_manager=None, batch_size_threshold=0)
        except ValueError:
            print("bad threshold rejected")

        manager = LeasedExecutorManager(
            backend=ExecutorBackend.THREAD, max_pools=1, workers_per_pool=2
        )
        try:
            await manager.acquire()
        except LeasePoolNotStartedError:
            print("acquire before start refused")
        await manager.start()
        print("after start: total", manager.total_count, "available", manager.available_count)
        async with await manager.acquire(owner="me", lease_seconds=30) as lease:
            print("leased count:", manager.leased_count)
            print("lease.run:", await lease.run(square, 7))
            print("executor.submit:", lease.executor.submit(square, 3).result())
            try:
                lease.executor.shutdown()
            except RuntimeError:
                print("executor shutdown refused")
            try:
                await manager.acquire(wait=False)
            except LeaseUnavailableError as exc:
                print("no lease free; library error:", isinstance(exc, LeasePoolError))
            try:
                await manager.acquire(timeout=0.05)
            except TimeoutError:
                print("acquire timed out")
            info = manager.stats()["leases"][0]
            print("lease owner:", info["owner"], "id is str:", isinstance(info["lease_id"], str))
        print("leased after release:", manager.leased_count)
        try:
            lease.executor.submit(square, 2)
        except LeaseExpiredError as exc:
            print("submit after release refused; library error:", isinstance(exc, LeasePoolError))

        grinder = WorkGrinder(
            executor_manager=manager, batch_size_threshold=3, max_wait_seconds=0.05
        )
        print("stats before start:", grinder.stats()["started"], grinder.stats()["pending"])
        try:
            await grinder.submit(square, 1)
        except RuntimeError:
            print("submit before start refused")
        await grinder.start()
        results = await asyncio.gather(*(grinder.submit(square, i) for i in range(6)))
        print("grinder results:", results)
        try:
            await grinder.submit(fail, 4)
        except ValueError as exc:
            print("job error:", exc)
        future = await grinder.enqueue(square, 9, owner="x")
        print("enqueue:", await future)
        try:
            grinder.submit_from_thread(square, 1)
        except RuntimeError:
            print("submit_from_thread on the loop thread refused")
        try:
            grinder.stats_from_thread()
        except RuntimeError:
            print("stats_from_thread on the loop thread refused")
        concurrent_future = await asyncio.to_thread(grinder.submit_from_thread, square, 5)
        print("from thread:", await asyncio.wrap_future(concurrent_future))
        thread_stats = await asyncio.to_thread(grinder.stats_from_thread, 5)
        print("thread stats:", thread_stats["started"], thread_stats["batch_size_threshold"])
        stats = await grinder.astats()
        print("stats:", *(stats[key] for key in (
            "started", "stopping", "pending", "batch_size_threshold", "max_wait_seconds",
            "lease_seconds",
        )))
        await grinder.stop()
        print("after stop:", grinder.stats()["started"])
        try:
            await grinder.enqueue(square, 1)
        except RuntimeError:
            print("enqueue after stop refused")
        await manager.stop()
        try:
            await manager.acquire()
        except LeasePoolNotStartedError:
            print("acquire after stop refused")
        print("done")


    asyncio.run(main())
    """
)


def _run_program(source: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.timeout(120)
def test_a_leasepool_program_prints_the_same_under_gristmill() -> None:
    import_line = "from leasepool import ("
    assert LEASEPOOL_PROGRAM.count(import_line) == 1
    expected = _run_program(LEASEPOOL_PROGRAM)
    assert expected.splitlines()[-1] == "done"
    assert len(expected.splitlines()) == 35
    ours = _run_program(LEASEPOOL_PROGRAM.replace(import_line, "from gristmill import ("))
    assert ours == expected


def _base(a: int, /, b: int = 1, *, c: str = "x") -> None: ...
def _other_default(a: int, /, b: int = 2, *, c: str = "x") -> None: ...
def _missing_keyword(a: int, /, b: int = 1) -> None: ...
def _keyword_became_positional(a: int, /, b: int = 1, c: str = "x") -> None: ...
def _extra_without_default(a: int, /, b: int = 1, *, c: str = "x", d: int) -> None: ...
def _extra_keyword_with_default(a: int, /, b: int = 1, *, c: str = "x", d: int = 0) -> None: ...


@pytest.mark.parametrize(
    ("ours", "flagged"),
    [
        (_base, False),
        (_extra_keyword_with_default, False),
        (_other_default, True),
        (_missing_keyword, True),
        (_keyword_became_positional, True),
        (_extra_without_default, True),
    ],
)
def test_the_signature_check_itself_flags_incompatible_changes(
    ours: Callable[..., Any], flagged: bool
) -> None:
    assert bool(_signature_problems("f", _base, ours)) is flagged


def test_the_globals_example_differs_from_leasepool_only_in_the_default_start_method(
    tmp_path: Path,
) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "migrating_globals.py"
    source = example.read_text()
    imports = re.findall(r"^from gristmill import .*$", source, re.MULTILINE)
    assert len(imports) == 1  # the one line a migration changes
    before = tmp_path / "with_leasepool.py"
    before.write_text(source.replace(imports[0], imports[0].replace("gristmill", "leasepool")))
    ours, theirs = _lines(example), _lines(before)
    assert ours["thread"] == theirs["thread"] == "hello, world"
    assert ours["process, initializer"] == theirs["process, initializer"] == "hello, world"
    # gristmill never forks unless asked: a worker imports the module afresh.
    assert ours["process, default start"] == "unset, world"
    forks_by_default = multiprocessing.get_start_method() == "fork"
    assert theirs["process, default start"] == (
        "hello, world" if forks_by_default else "unset, world"
    )
    if "fork" in multiprocessing.get_all_start_methods():
        assert ours["process, fork"] == theirs["process, fork"] == "hello, world"


def _lines(script: Path) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    pairs = (line.split(":", 1) for line in result.stdout.splitlines())
    return {label.strip(): value.strip() for label, value in pairs}
