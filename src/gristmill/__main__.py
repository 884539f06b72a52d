"""``python -m gristmill``: the ``gristmill`` command line."""

from gristmill._cli import main

raise SystemExit(main())
