"""The ``gristmill`` command line: its parser, and the checked options of ``gristmill map``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from .. import _validate as validate

__all__ = ["MapOptions", "UsageError", "load_function", "parse"]

BACKENDS = ("thread", "process", "loky", "dask")


class UsageError(Exception):
    """The command line cannot run as given; the message says why (exit status 2)."""


@dataclass(frozen=True)
class MapOptions:
    """``gristmill map``'s options, checked."""

    function: str
    input: Path | None  # None: standard input
    output: Path | None  # None: standard output
    backend: str
    pools: int
    workers: int
    batch_size: int
    max_wait: float
    run_timeout: float | None
    retries: int
    ordered: bool
    resume: bool
    star: bool
    allow_failures: bool
    grace: float
    max_in_flight: int | None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gristmill",
        description="Run sync Python functions over many inputs on leased, bounded pools.",
    )
    parser.add_argument("--version", action="version", version=f"gristmill {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "map",
        help="call MODULE:FUNC on each line of a JSON Lines file",
        description=(
            "Call FUNCTION on each JSON value of INPUT (JSON Lines, one argument per line) and "
            'write one JSON line per input line to OUTPUT: {"line": n, "result": ...} or '
            '{"line": n, "error": {"type": ..., "message": ...}}. Exit status: 0 when every '
            "line succeeded, 1 when some failed (0 with --allow-failures), 2 for a usage "
            "error, 130 when interrupted (Ctrl-C or SIGTERM; run again with --resume)."
        ),
    )
    run.add_argument("function", metavar="MODULE:FUNC", help="the function, e.g. mypkg.jobs:score")
    run.add_argument("input", metavar="INPUT", help="JSON Lines file, or - for standard input")
    run.add_argument("-o", "--output", metavar="OUTPUT", help="where to write (default: stdout)")
    run.add_argument("--backend", choices=BACKENDS, default="thread", help="default: thread")
    run.add_argument("--pools", default="1", help="executor pools (default: 1)")
    run.add_argument("--workers", default=None, help="workers per pool (default: CPU count)")
    run.add_argument("--batch-size", default="64", help="items that start a batch (default: 64)")
    run.add_argument("--max-wait", default="0.05", help="seconds a batch waits (default: 0.05)")
    run.add_argument("--run-timeout", default=None, help="seconds an item may run (process only)")
    run.add_argument("--retries", default="1", help="runs again after a worker crash (default: 1)")
    order = run.add_mutually_exclusive_group()
    order.add_argument("--ordered", dest="ordered", action="store_true", default=True)
    order.add_argument(
        "--unordered",
        dest="ordered",
        action="store_false",
        help="write each line as it is done (default: in input order)",
    )
    run.add_argument("--resume", action="store_true", help="skip the lines OUTPUT already holds")
    run.add_argument("--star", action="store_true", help="each line is an array of arguments")
    run.add_argument(
        "--allow-failures", action="store_true", help="exit 0 even if some lines failed"
    )
    run.add_argument(
        "--grace", default="10", help="seconds running items get after Ctrl-C (default: 10)"
    )
    run.add_argument("--max-in-flight", default=None, help="most lines read and not yet written")
    return parser


def parse(argv: Sequence[str] | None) -> MapOptions:
    """Parse and check the command line.

    Raises:
        SystemExit: ``--help``, ``--version``, or a malformed command line (status 2).
        UsageError: a value is out of range or the options do not fit together.
    """
    args = _parser().parse_args(argv)
    try:
        return _check(args)
    except (TypeError, ValueError) as problem:
        raise UsageError(str(problem)) from None


def _check(args: argparse.Namespace) -> MapOptions:
    output = None if args.output in (None, "-") else Path(args.output)
    if args.resume and output is None:
        raise UsageError("--resume needs -o OUTPUT: it reads what an earlier run wrote there")
    if args.run_timeout is not None and args.backend != "process":
        raise UsageError(
            "--run-timeout needs --backend process: only worker processes can be stopped mid-item"
        )
    workers = (os.cpu_count() or 1) if args.workers is None else _count("--workers", args.workers)
    return MapOptions(
        function=args.function,
        input=None if args.input == "-" else Path(args.input),
        output=output,
        backend=args.backend,
        pools=_count("--pools", args.pools),
        workers=workers,
        batch_size=_count("--batch-size", args.batch_size),
        max_wait=validate.duration("--max-wait", args.max_wait),
        run_timeout=validate.optional_duration("--run-timeout", args.run_timeout),
        retries=_count("--retries", args.retries, minimum=0),
        ordered=args.ordered,
        resume=args.resume,
        star=args.star,
        allow_failures=args.allow_failures,
        grace=validate.duration("--grace", args.grace, allow_zero=True),
        max_in_flight=(
            None if args.max_in_flight is None else _count("--max-in-flight", args.max_in_flight)
        ),
    )


def _count(name: str, text: str, *, minimum: int = 1) -> int:
    try:
        number = int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, got {text!r}") from None
    return validate.whole_number(name, number, minimum=minimum)


def load_function(spec: str) -> Callable[..., Any]:
    """Import ``MODULE:FUNC`` (``FUNC`` may be dotted), from the current directory too.

    Raises:
        UsageError: the spec is malformed, the module does not import, or the
            name is missing or not callable.
    """
    module_name, colon, qualname = spec.partition(":")
    if not colon or not module_name or not qualname:
        raise UsageError(f"FUNCTION must look like MODULE:FUNC, got {spec!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as problem:
        raise UsageError(
            f"cannot import {module_name!r}: {type(problem).__name__}: {problem}"
        ) from None
    for part in qualname.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no {qualname!r}") from None
    if not callable(target):
        raise UsageError(f"{spec} is a {type(target).__name__}, not a function")
    return target  # type: ignore[no-any-return]
