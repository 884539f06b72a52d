"""``make compat``: leasepool 0.1.3's own test suite, run against gristmill (see run.py)."""
