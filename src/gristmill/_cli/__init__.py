"""The ``gristmill`` command (``python -m gristmill``): ``gristmill map MODULE:FUNC INPUT``.

The standard library is enough to run it; the ``cli`` extra
(``pip install 'gristmill[cli]'``) adds ``rich`` for a progress bar.
See ``docs/cli.md``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

from ._options import UsageError, load_function, parse
from ._run import EXIT_INTERRUPTED, map_lines

__all__ = ["main"]

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    err = sys.stderr
    try:
        options = parse(argv)
        fn = load_function(options.function)
        if options.input is not None and not options.input.is_file():
            raise UsageError(f"INPUT {str(options.input)!r} is not a file")
    except UsageError as problem:
        err.write(f"gristmill map: error: {problem}\n")
        return EXIT_USAGE
    try:
        outcome = asyncio.run(map_lines(options, fn, err))
    except (ValueError, TypeError) as problem:  # options the backend or grinder refused
        err.write(f"gristmill map: error: {problem}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the run could take Ctrl-C over (pools starting)
        err.write("gristmill map: interrupted before the first line was written\n")
        return EXIT_INTERRUPTED
    err.write(outcome.summary(str(options.output or "stdout")) + "\n")
    err.flush()
    status = outcome.exit_status(options.allow_failures)
    if outcome.forced:
        # Something was still running when the run was cut short; a thread cannot be
        # stopped, and waiting for it at exit would undo the bounded grace.
        sys.stdout.flush()
        os._exit(status)
    return status
