"""``leasepool.backends``, answered by ``gristmill.backends``."""

from gristmill.backends import *  # noqa: F403
from gristmill.backends import __all__ as __all__
