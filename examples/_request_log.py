"""A request id that follows each job into its log lines, on threads and in worker processes.

Three pieces, each a few lines:

- ``request_id``, a module-level ``ContextVar`` that a web handler sets per request;
- a log-record factory that stamps every record with the current request id, so a
  format string can use ``%(request_id)s``. It is installed when this module is
  imported: in the parent, and in every worker process that unpickles a job from it;
- ``thumbnail``, a job that logs as usual and knows nothing of requests.

A thread job runs in a copy of its caller's context, so it sees the request id by
itself. A process job sees it because the grinder propagates it
(``propagate_context=[request_id]``).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_make_record = logging.getLogRecordFactory()


def _stamped_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    record.request_id = request_id.get()
    return record


logging.setLogRecordFactory(_stamped_record)

logger = logging.getLogger("thumbnails")


def thumbnail(number: int) -> str:
    """The job: log, as any library code would, and return a result."""
    logger.info("making thumbnail %d", number)
    return f"thumb-{number}"
