"""Job functions shared by the examples.

Process-pool workers start through ``forkserver`` and find a job by its module
and name, so jobs for ``backend="process"`` must be top-level functions in an
importable module, not closures or lambdas. Running ``python examples/X.py``
puts ``examples/`` first on ``sys.path``, and the workers inherit that path, so
``import _jobs`` works on both sides.

Every job is deterministic in its arguments: the same caller gets the same
result, or the same failure, on every run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)


class UpstreamError(Exception):
    """The simulated profile service answered with a server error."""


def fetch_profile(user_id: int) -> dict[str, int]:
    """Blocking SDK call: sleeps 5–20 ms; one user in 37 gets a 503."""
    latency_ms = 5 + (user_id * 7919) % 16
    time.sleep(latency_ms / 1000)
    if user_id % 37 == 0:
        raise UpstreamError(f"503 Service Unavailable for user {user_id}")
    return {"user_id": user_id, "tier": user_id % 3, "latency_ms": latency_ms}


def write_receipt(directory: str, order_id: int, amount_cents: int) -> int:
    """Write a small JSON receipt to disk; return the bytes written."""
    text = json.dumps({"order_id": order_id, "amount_cents": amount_cents})
    Path(directory, f"receipt-{order_id}.json").write_text(text, encoding="utf-8")
    return len(text)


def read_receipt(directory: str, order_id: int) -> int:
    """Read a receipt back; raises ``FileNotFoundError`` if it was never written."""
    text = Path(directory, f"receipt-{order_id}.json").read_text(encoding="utf-8")
    amount: int = json.loads(text)["amount_cents"]
    return amount


def count_primes(limit: int) -> int:
    """Count primes below ``limit`` by trial division: pure Python, holds the GIL."""
    count = 0
    for n in range(2, limit):
        divisor = 2
        while divisor * divisor <= n:
            if n % divisor == 0:
                break
            divisor += 1
        else:
            count += 1
    return count


def score_document(doc_id: int, size: int) -> int:
    """CPU-heavy scoring (about 1.5–5 ms for sizes 2500–6000); rejects empty documents."""
    if size <= 0:
        raise ValueError(f"document {doc_id} is empty (size={size})")
    return count_primes(size)


def logged_square(n: int) -> int:
    """Square ``n`` and log from inside the worker process."""
    logger.info("squaring n=%d", n)
    if n < 0:
        logger.warning("negative input n=%d", n)
    return n * n


def burn_cpu(seconds: float) -> float:
    """Keep one core busy for about ``seconds``; return the time it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        pass
    return time.perf_counter() - started
