"""How a grinder orders and admits work: the scheduling options, validated once.

``scheduler="fifo"`` with ``dispatch="wait"`` is the spec's behaviour and the
default; every other option is opt-in. ``GrinderSettings`` carries one of these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from types import MappingProxyType
from typing import Literal, get_args

from . import _validate as validate
from ._scheduling import owner_key

__all__ = ["PRIORITY_LIMIT", "Dispatch", "Scheduler", "SchedulerSettings", "check_priority"]

Scheduler = Literal["fifo", "fair"]
Dispatch = Literal["wait", "eager"]

PRIORITY_LIMIT = 2**31 - 1
"""Largest priority (and, negated, the smallest) a :class:`~gristmill.Work` may carry."""


_NO_WEIGHTS: Mapping[str | None, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """The validated scheduling options; see ``WorkGrinder`` for each.

    Attributes:
        scheduler: ``"fifo"`` (arrival order) or ``"fair"``.
        dispatch: ``"wait"`` (the spec's triggers) or ``"eager"``.
        weights: Owner weights, keyed by plain ``str`` (or ``None``).
        weight_floor: The smallest weight, or 1 if all are larger: a lane's
            round-robin quantum is its weight divided by this, so at least 1.
        per_owner: Most items one owner may have pending, or ``None``.
        aging: Seconds of waiting that raise an item's priority by one, or
            ``None`` for strict priorities.
    """

    scheduler: Scheduler = "fifo"
    dispatch: Dispatch = "wait"
    weights: Mapping[str | None, float] = field(default_factory=lambda: _NO_WEIGHTS)
    weight_floor: float = 1.0
    per_owner: int | None = None
    aging: float | None = None

    @property
    def fair(self) -> bool:
        """Whether items are ordered by priority, owner and deadline."""
        return self.scheduler == "fair"

    @property
    def eager(self) -> bool:
        """Whether a batch starts as soon as a batch slot is free."""
        return self.dispatch == "eager"

    @property
    def owner_aware(self) -> bool:
        """Whether the grinder keeps per-owner books (for fairness or a per-owner quota)."""
        return self.fair or self.per_owner is not None

    def quantum(self, owner: str | None) -> float:
        """Return ``owner``'s round-robin quantum (``owner`` already a plain key): at least 1."""
        return self.weights.get(owner, 1.0) / self.weight_floor

    @classmethod
    def build(
        cls,
        *,
        scheduler: object,
        dispatch: object,
        owner_weights: object,
        max_pending_per_owner: object,
        priority_aging_seconds: object,
    ) -> SchedulerSettings:
        """Check the scheduling keyword arguments and return the settings.

        Raises:
            TypeError: a value of the wrong type; the message names the field.
            ValueError: an unknown ``scheduler`` or ``dispatch``; a weight that
                is not a positive finite number; a count below 1; options that
                need ``scheduler="fair"`` given to the ``"fifo"`` scheduler.
        """
        schedulers: tuple[Scheduler, ...] = get_args(Scheduler)
        dispatches: tuple[Dispatch, ...] = get_args(Dispatch)
        chosen = validate.choice("scheduler", scheduler, schedulers)
        how = validate.choice("dispatch", dispatch, dispatches)
        weights = _weights(owner_weights)
        aging = validate.optional_duration("priority_aging_seconds", priority_aging_seconds)
        per_owner = (
            None
            if max_pending_per_owner is None
            else validate.positive_int("max_pending_per_owner", max_pending_per_owner)
        )
        if chosen == "fifo":
            for name, value in (
                ("owner_weights", owner_weights),
                ("priority_aging_seconds", priority_aging_seconds),
            ):
                if value is not None:
                    raise ValueError(
                        f"{name} needs scheduler='fair'; the 'fifo' scheduler runs items in "
                        "arrival order"
                    )
        floor = min(1.0, *weights.values()) if weights else 1.0
        return cls(chosen, how, MappingProxyType(weights), floor, per_owner, aging)


def check_priority(name: str, value: object) -> int:
    """Return ``value`` as a priority: an ``int`` within ``±PRIORITY_LIMIT``, not a bool.

    Raises:
        TypeError: not an ``int``.
        ValueError: a bool, or out of range.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int, not a bool ({value!r})")
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not -PRIORITY_LIMIT <= value <= PRIORITY_LIMIT:
        raise ValueError(
            f"{name} must be between {-PRIORITY_LIMIT} and {PRIORITY_LIMIT}, got {value!r}"
        )
    return int(value)


def _weights(value: object) -> dict[str | None, float]:
    """Copy ``owner_weights`` into a plain dict, reading the user's mapping exactly once."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"owner_weights must be a mapping of owner to weight, got {type(value).__name__}"
        )
    try:
        items = list(value.items())
    except Exception as exc:
        raise ValueError(f"owner_weights could not be read: {exc!r}") from exc
    weights: dict[str | None, float] = {}
    for owner, weight in items:
        try:
            key = owner_key(owner)
        except TypeError as exc:
            raise TypeError(f"owner_weights keys must be str or None: {exc}") from None
        if isinstance(weight, bool) or not isinstance(weight, Real):
            raise TypeError(f"owner_weights[{key!r}] must be a number, got {type(weight).__name__}")
        try:
            number = float(weight)
        except Exception as exc:
            raise ValueError(f"owner_weights[{key!r}] could not be read as a number") from exc
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"owner_weights[{key!r}] must be a finite number > 0, got {weight!r}")
        weights[key] = number
    return weights
