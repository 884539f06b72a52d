"""``python -m gristmill``: the ``gristmill`` command line."""

from gristmill._cli import main

if __name__ == "__main__":  # process workers import the main module again
    raise SystemExit(main())
