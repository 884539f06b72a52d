"""Refuse to start from a program whose main module lacks its ``if __name__ == "__main__":`` guard.

With the ``spawn`` and ``forkserver`` start methods, every process worker
imports the program's main module again before it runs any job. Top-level code
that starts a manager then runs once more in each worker, which tries to start
process pools of its own; the stdlib answers with a page of ``RuntimeError``
("... before the current process has finished its bootstrapping phase"),
``BrokenProcessPool`` tracebacks and leaked semaphores, once per worker. Two
checks turn that into one clear :class:`~gristmill.MissingMainGuardError`:

- in the program, before any worker exists: the main module's code that is
  running on this thread is not inside an ``if __name__ == "__main__":`` block,
  and the manager is about to start process pools that re-import it;
- in a worker that is still importing the main module (the stdlib's own test
  for that bootstrapping phase): any manager start at all.
"""

from __future__ import annotations

import ast
import linecache
import multiprocessing
import os
import sys
from types import FrameType

from ._errors import MissingMainGuardError

__all__ = ["check_main_guard", "unguarded"]

_REIMPORTING_METHODS = frozenset({"spawn", "forkserver"})
"""Start methods whose workers import the main module again (``fork`` copies it instead)."""


def check_main_guard(start_method: str | None) -> None:
    """Raise :class:`MissingMainGuardError` if starting now would re-run the program in workers.

    ``start_method`` is the multiprocessing start method of the manager's
    process pools, or ``None`` if it builds no stdlib process pools.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise MissingMainGuardError(
            "a process worker started a gristmill manager while it was importing the "
            "program's main module: the code that starts gristmill runs at import time. "
            'Put it under `if __name__ == "__main__":`'
        )
    if start_method not in _REIMPORTING_METHODS:
        return
    frame = _main_module_frame()
    if frame is None:
        return
    path, line = frame.f_code.co_filename, frame.f_lineno
    source = "".join(linecache.getlines(path, frame.f_globals))
    if source and unguarded(source, line):
        raise MissingMainGuardError(
            f"the manager is started by top-level code of {path} (line {line}) that is not "
            'under `if __name__ == "__main__":`. Each process worker imports that file '
            f"again ({start_method!r} start method), which would run this code "
            'once more in every worker. Move it under `if __name__ == "__main__":`, '
            "as in the quickstart"
        )


def unguarded(source: str, line: int) -> bool:
    """Whether ``line`` of a module's ``source`` lies outside every ``if __name__ ...:`` block.

    Any ``if`` whose test mentions ``__name__`` counts as a guard, whichever
    way it compares. Source that does not parse is given the benefit of the doubt.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _mentions_name(node.test):
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            if node.lineno <= line <= end:
                return False
    return True


def _mentions_name(test: ast.expr) -> bool:
    return any(isinstance(node, ast.Name) and node.id == "__name__" for node in ast.walk(test))


def _main_module_frame() -> FrameType | None:
    """The frame running the main script's own top-level code on this thread, if any.

    Only a main module that is a file counts, since only a file is imported
    again by the workers (an interactive session or ``-c`` is not).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        return None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "<module>" and frame.f_globals is vars(main):
            return frame if os.path.abspath(code.co_filename) == os.path.abspath(path) else None
        frame = frame.f_back
    return None
