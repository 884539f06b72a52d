"""``leasepool``, answered by gristmill: the shim ``make compat`` puts first on the path.

It exists only to run leasepool 0.1.3's own test suite against gristmill
(``compat/run.py``). A program that migrates changes its import line instead.
"""

from gristmill import *  # noqa: F403
from gristmill import __all__ as __all__
