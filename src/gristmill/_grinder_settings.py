"""The grinder's settings, validated once into one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, get_args

from . import _validate as validate
from ._admission import Overflow
from ._context import PropagatedVar, propagated_variables
from ._errors import WrongTypeError
from ._scheduler_settings import SchedulerSettings

__all__ = ["GrinderSettings", "ManagerTraits"]


class ManagerTraits(Protocol):
    """What the settings are checked against: the manager's size and backend."""

    @property
    def max_pools(self) -> int: ...

    @property
    def supports_run_timeout(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class GrinderSettings:
    """The grinder's validated settings; see ``WorkGrinder`` for each."""

    threshold: int
    max_wait: float
    lease_seconds: float
    max_concurrent: int
    max_batch: int
    owner_prefix: str
    max_pending: int | None
    overflow: Overflow
    deadline: float | None
    run_timeout: float | None
    max_retries: int
    propagate: tuple[PropagatedVar, ...] = ()
    scheduling: SchedulerSettings = field(default_factory=SchedulerSettings)

    @classmethod
    def build(
        cls,
        *,
        max_wait_seconds: object,
        batch_size_threshold: object,
        lease_seconds: object,
        owner_prefix: object,
        max_concurrent_batches: object,
        max_batch_size: object,
        max_pending: object,
        overflow: object,
        deadline_seconds: object,
        run_timeout_seconds: object,
        max_retries: object,
        manager: ManagerTraits,
        propagate_context: object = (),
        scheduling: SchedulerSettings | None = None,
    ) -> GrinderSettings:
        """Check the grinder's keyword arguments, in order, and return the policy.

        ``max_concurrent_batches=None`` means every pool ``manager`` can lend.
        ``scheduling`` (already checked by ``SchedulerSettings.build``)
        defaults to the spec's: FIFO order, batches on their triggers.

        Raises:
            ValueError: a number out of range, a bool, or a fraction where a
                count belongs; ``max_batch_size`` below the threshold; an
                unknown ``overflow``; a run timeout on a backend that cannot
                stop a running job; a context variable a worker could not
                import.
            WrongTypeError: a value of the wrong type (a ``TypeError`` and a
                ``ValueError``); the message names the field.
        """
        max_wait = validate.duration("max_wait_seconds", max_wait_seconds)
        threshold = validate.positive_int("batch_size_threshold", batch_size_threshold)
        lease = validate.duration("lease_seconds", lease_seconds)
        if not isinstance(owner_prefix, str):
            raise WrongTypeError(f"owner_prefix must be a str, got {type(owner_prefix).__name__}")
        max_concurrent = validate.positive_int(
            "max_concurrent_batches",
            manager.max_pools if max_concurrent_batches is None else max_concurrent_batches,
        )
        max_batch = validate.positive_int(
            "max_batch_size", max(threshold, 4096) if max_batch_size is None else max_batch_size
        )
        if max_batch < threshold:
            raise ValueError(
                f"max_batch_size ({max_batch_size}) must be >= batch_size_threshold "
                f"({batch_size_threshold})"
            )
        pending = None if max_pending is None else validate.positive_int("max_pending", max_pending)
        run_timeout = validate.optional_duration("run_timeout_seconds", run_timeout_seconds)
        if run_timeout is not None:
            require_run_timeout_support(manager)
        return cls(
            threshold,
            max_wait,
            lease,
            max_concurrent,
            max_batch,
            owner_prefix,
            pending,
            validate.choice("overflow", overflow, get_args(Overflow)),
            validate.optional_duration("deadline_seconds", deadline_seconds),
            run_timeout,
            validate.whole_number("max_retries", max_retries, minimum=0),
            propagated_variables(propagate_context),
            SchedulerSettings() if scheduling is None else scheduling,
        )


def require_run_timeout_support(manager: ManagerTraits) -> None:
    """Raise ``ValueError`` unless ``manager``'s backend can stop a job that overruns."""
    if not manager.supports_run_timeout:
        raise ValueError(
            "run_timeout_seconds needs a backend that can stop a running job (the process "
            "backend); threads cannot be interrupted. Use deadline_seconds to bound queueing"
        )
