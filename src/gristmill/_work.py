"""Work: one call plus its per-item options, kept apart from the call's own keywords."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, final

from . import _validate as validate
from ._scheduler_settings import check_priority

__all__ = ["Work"]

T = TypeVar("T")


@final
@dataclass(frozen=True, slots=True)
class Work(Generic[T]):
    """One call for a grinder, with options that apply to this item alone.

    ``submit()`` passes every keyword on to the callable, as the spec
    requires, so per-item options cannot be keywords there. A ``Work`` holds
    the call and its options side by side instead; hand it to
    :meth:`WorkGrinder.submit_work`, :meth:`~WorkGrinder.enqueue_work` or
    :meth:`~WorkGrinder.submit_work_from_thread`::

        work = Work(resize, args=(image,), kwargs={"width": 200}, deadline_seconds=0.5)
        thumbnail = await grinder.submit_work(work)

    A ``Work`` is a plain immutable value; it can be submitted more than once.

    Attributes:
        fn: The sync callable to run.
        args: Its positional arguments.
        kwargs: Its keyword arguments.
        owner: Who the item is for, like ``submit(..., owner=...)``: the key
            of fairness and quotas (``scheduler="fair"``,
            ``max_pending_per_owner``).
        deadline_seconds: The item must be dispatched within this many
            seconds of being queued, or it fails with ``TimeoutError`` without
            running. ``None`` uses the grinder's ``deadline_seconds``.
        run_timeout_seconds: Hard limit on the item's run time (process
            backend): past it, its pool's workers are killed and the item
            fails with ``TimeoutError``. ``None`` uses the grinder's
            ``run_timeout_seconds``.
        priority: Higher goes first, on a grinder with ``scheduler="fair"``
            (where it can rise while the item waits, with
            ``priority_aging_seconds``). The ``"fifo"`` scheduler refuses any
            priority but 0 with ``ValueError``, at submission.

    Raises:
        TypeError: a field has the wrong type, or ``fn`` is not a sync callable.
        ValueError: a time is zero, negative, NaN or infinite; a priority
            that is a bool or beyond ±(2**31 - 1).
    """

    fn: Callable[..., T]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    owner: str | None = None
    deadline_seconds: float | None = None
    run_timeout_seconds: float | None = None
    priority: int = 0

    def __post_init__(self) -> None:
        validate.sync_callable(self.fn)
        if not isinstance(self.args, tuple):
            raise TypeError(f"Work.args must be a tuple, got {type(self.args).__name__}")
        if not isinstance(self.kwargs, Mapping) or not all(
            isinstance(key, str) for key in self.kwargs
        ):
            raise TypeError("Work.kwargs must be a mapping with str keys")
        if self.owner is not None and not isinstance(self.owner, str):
            raise TypeError(f"Work.owner must be a str or None, got {type(self.owner).__name__}")
        validate.optional_duration("Work.deadline_seconds", self.deadline_seconds)
        validate.optional_duration("Work.run_timeout_seconds", self.run_timeout_seconds)
        check_priority("Work.priority", self.priority)
