"""The pure scheduling rules (``gristmill._scheduling``) and the scheduling settings."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from gristmill._scheduler_settings import PRIORITY_LIMIT, SchedulerSettings, check_priority
from gristmill._scheduling import (
    MIN_LEAD_SECONDS,
    DeficitRing,
    item_order_key,
    latest_start,
    level_key,
    owner_key,
)


class HostileOwner(str):
    """An owner whose every dunder a dict would call raises."""

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __str__(self) -> str:
        raise RuntimeError("str")


class PairsMapping(Mapping[Any, Any]):
    """A mapping that hands out its pairs as given, without hashing the keys."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: Any) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(key for key, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> Any:
        return list(self._pairs)


class TestOwnerKey:
    def test_plain_strings_and_none_pass_through(self) -> None:
        owner = "tenant"
        assert owner_key(owner) is owner
        assert owner_key(None) is None

    def test_a_hostile_str_subclass_becomes_a_plain_copy_without_running_its_methods(
        self,
    ) -> None:
        key = owner_key(HostileOwner("tenant"))
        assert type(key) is str
        assert key == "tenant"
        assert hash(key) == hash("tenant")

    @pytest.mark.parametrize("owner", [3, b"tenant", ("a",), object()])
    def test_anything_else_is_a_type_error(self, owner: object) -> None:
        with pytest.raises(TypeError, match="owner must be a str or None"):
            owner_key(owner)

    def test_an_object_whose_class_lookup_raises_is_a_type_error(self) -> None:
        class Liar:
            @property  # type: ignore[misc]
            def __class__(self) -> type:
                raise RuntimeError("no class for you")

        with pytest.raises(TypeError, match="owner must be a str or None"):
            owner_key(Liar())


class TestLevelKey:
    def test_without_aging_the_higher_priority_has_the_smaller_key(self) -> None:
        assert level_key(5, 100.0, None) < level_key(1, 0.0, None)

    def test_with_aging_one_period_of_waiting_is_worth_one_priority_step(self) -> None:
        waited = level_key(0, 0.0, 10.0)  # queued at 0, priority 0
        fresh = level_key(1, 10.0, 10.0)  # queued one period later, priority 1
        assert waited == fresh
        assert level_key(0, -0.5, 10.0) < fresh  # waited a little longer: goes first

    def test_the_aging_key_does_not_depend_on_the_time_it_is_read(self) -> None:
        # Effective priority p + (now - t) / a orders levels the same at any now.
        for now in (10.0, 100.0, 1e6):
            low = 0 + (now - 0.0) / 10.0
            high = 3 + (now - 25.0) / 10.0
            assert (low > high) == (level_key(0, 0.0, 10.0) < level_key(3, 25.0, 10.0))


class TestItemOrderKey:
    def test_without_aging_the_key_is_the_deadline(self) -> None:
        assert item_order_key(7.0, 1.0, None) == 7.0
        assert item_order_key(math.inf, 1.0, None) == math.inf

    def test_with_aging_no_key_is_later_than_one_period_after_queueing(self) -> None:
        assert item_order_key(math.inf, 1.0, 10.0) == 11.0
        assert item_order_key(50.0, 1.0, 10.0) == 11.0
        assert item_order_key(5.0, 1.0, 10.0) == 5.0


class TestLatestStart:
    def test_the_expected_run_time_is_the_head_start(self) -> None:
        assert latest_start(10.0, 2.0) == 8.0

    def test_there_is_always_a_small_head_start(self) -> None:
        assert latest_start(10.0, None) == 10.0 - MIN_LEAD_SECONDS
        assert latest_start(10.0, 0.0) == 10.0 - MIN_LEAD_SECONDS


@dataclass
class FakeLane:
    name: str
    live: int
    quantum: float = 1.0
    deficit: float = 0.0
    ringed: bool = False


def lanes_only(on_idle: Callable[[str], None] | None = None) -> DeficitRing[FakeLane, str]:
    """A ring of lanes only: no lone entries."""

    def idle(lane: FakeLane) -> None:
        if on_idle is not None:
            on_idle(lane.name)

    return DeficitRing(FakeLane, lambda lone: None, idle)


def serve(ring: DeficitRing[FakeLane, Any], count: int) -> list[str]:
    order = []
    for _ in range(count):
        turn = ring.next_turn()
        if isinstance(turn, FakeLane):
            turn.live -= 1
            order.append(turn.name)
            ring.served(turn)
        else:
            order.append(f"lone {turn}")
    return order


class TestDeficitRing:
    def test_equal_quanta_alternate(self) -> None:
        ring = lanes_only()
        for name in "ab":
            ring.join(FakeLane(name, live=3))
        assert serve(ring, 6) == ["a", "b", "a", "b", "a", "b"]

    def test_quanta_share_by_weight_carrying_fractions(self) -> None:
        ring = lanes_only()
        ring.join(FakeLane("a", live=100, quantum=1.5))
        ring.join(FakeLane("b", live=100, quantum=1.0))
        order = serve(ring, 50)
        assert order[:5] == ["a", "b", "a", "a", "b"]  # a's half credit carries to its next turn
        assert order.count("a") == 30

    def test_a_lane_that_runs_dry_leaves_forgets_its_credit_and_is_reported(self) -> None:
        idle: list[str] = []
        ring = lanes_only(idle.append)
        a = FakeLane("a", live=1, quantum=3.0)
        ring.join(a)
        ring.join(FakeLane("b", live=5))
        assert serve(ring, 3) == ["a", "b", "b"]
        assert idle == ["a"]
        assert (a.ringed, a.deficit) == (False, 0.0)
        assert len(ring) == 1

    def test_a_turn_spans_cuts(self) -> None:
        ring = lanes_only()
        ring.join(FakeLane("a", live=10, quantum=3.0))
        ring.join(FakeLane("b", live=10, quantum=1.0))
        assert serve(ring, 2) + serve(ring, 2) == ["a", "a", "a", "b"]

    def test_a_lone_item_takes_one_turn_and_leaves(self) -> None:
        lanes: dict[str, FakeLane] = {}
        waiting = {"x", "gone"}
        ring: DeficitRing[FakeLane, str] = DeficitRing(
            FakeLane,
            lambda lone: lanes.get(lone) or (lone if lone in waiting else None),
            lambda lane: None,
        )
        ring.join(FakeLane("a", live=3))
        ring.join("x")
        ring.join("gone")
        waiting.discard("gone")  # cancelled before its turn
        assert serve(ring, 3) == ["a", "lone x", "a"]
        assert len(ring) == 1

    def test_a_lone_item_that_grew_a_lane_hands_its_turn_to_the_lane(self) -> None:
        grown = FakeLane("x", live=2, ringed=True)
        lanes = {"x": grown}
        ring: DeficitRing[FakeLane, str] = DeficitRing(FakeLane, lanes.get, lambda lane: None)
        ring.join(FakeLane("a", live=3))
        ring.join("x")
        assert serve(ring, 5) == ["a", "x", "a", "x", "a"]

    def test_lanes_emptied_while_waiting_are_skipped_and_pruned(self) -> None:
        ring = lanes_only()
        lanes = [FakeLane(str(i), live=1) for i in range(200)]
        for lane in lanes:
            ring.join(lane)
        for lane in lanes[:-1]:
            lane.live = 0  # cancelled from outside
        ring.prune(alive=1)
        assert len(ring) == 1
        assert serve(ring, 1) == ["199"]


class TestSchedulerSettings:
    def test_the_defaults_are_the_spec(self) -> None:
        chosen = SchedulerSettings()
        assert (chosen.scheduler, chosen.dispatch) == ("fifo", "wait")
        assert not chosen.owner_aware

    def test_quanta_are_weights_over_the_smallest_and_at_least_one(self) -> None:
        chosen = SchedulerSettings.build(
            scheduler="fair",
            dispatch="wait",
            owner_weights={"a": 0.5, "b": 2, None: 1},
            max_pending_per_owner=None,
            priority_aging_seconds=None,
        )
        assert chosen.quantum("a") == 1.0
        assert chosen.quantum("b") == 4.0
        assert chosen.quantum(None) == 2.0
        assert chosen.quantum("unlisted") == 2.0

    def test_weight_keys_are_copied_as_plain_strings(self) -> None:
        chosen = SchedulerSettings.build(
            scheduler="fair",
            dispatch="wait",
            owner_weights=PairsMapping([(HostileOwner("a"), 3)]),
            max_pending_per_owner=None,
            priority_aging_seconds=None,
        )
        assert [type(key) for key in chosen.weights] == [str]
        assert chosen.quantum("a") == 3.0


class TestCheckPriority:
    def test_in_range_ints_pass(self) -> None:
        assert check_priority("p", -PRIORITY_LIMIT) == -PRIORITY_LIMIT
        assert check_priority("p", PRIORITY_LIMIT) == PRIORITY_LIMIT

    @pytest.mark.parametrize(
        ("value", "error"),
        [(True, ValueError), (PRIORITY_LIMIT + 1, ValueError), (1.0, TypeError), ("1", TypeError)],
    )
    def test_bad_values_name_the_field(self, value: object, error: type[Exception]) -> None:
        with pytest.raises(error, match=r"Work\.priority"):
            check_priority("Work.priority", value)
