"""``leasepool.exceptions``: leasepool's exception names, answered by gristmill's classes."""

from gristmill import (
    LeaseExpiredError,
    LeasePoolError,
    LeasePoolNotStartedError,
    LeaseUnavailableError,
    UnsupportedBackendError,
)

__all__ = [
    "LeaseExpiredError",
    "LeasePoolError",
    "LeasePoolNotStartedError",
    "LeaseUnavailableError",
    "UnsupportedBackendError",
]
