"""Pure batch policy (gristmill._batching): when a batch is due, how big it is, how it is
chunked. No event loop."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from gristmill._batching import (
    CHUNK_TARGET_SECONDS,
    CHUNKS_PER_WORKER,
    MAX_CHUNKS,
    batch_size,
    chunk_sizes,
    due_at,
)


class TestDueAt:
    def test_nothing_pending_is_never_due(self) -> None:
        assert due_at(pending=0, threshold=4, oldest_at=1.0, max_wait=10.0, flushing=True) is None
        assert due_at(pending=3, threshold=4, oldest_at=None, max_wait=10.0, flushing=True) is None

    def test_below_threshold_is_due_max_wait_after_the_oldest(self) -> None:
        assert due_at(pending=3, threshold=4, oldest_at=5.0, max_wait=10.0, flushing=False) == 15.0

    def test_reaching_the_threshold_is_due_now(self) -> None:
        assert (
            due_at(pending=4, threshold=4, oldest_at=5.0, max_wait=10.0, flushing=False)
            == -math.inf
        )
        assert (
            due_at(pending=9, threshold=4, oldest_at=5.0, max_wait=10.0, flushing=False)
            == -math.inf
        )

    def test_flushing_is_due_now(self) -> None:
        assert (
            due_at(pending=1, threshold=4, oldest_at=5.0, max_wait=10.0, flushing=True) == -math.inf
        )

    def test_items_left_behind_by_a_due_cut_are_due_now(self) -> None:
        assert (
            due_at(pending=1, threshold=4, oldest_at=5.0, max_wait=10.0, flushing=False, overdue=1)
            == -math.inf
        )
        assert (
            due_at(pending=1, threshold=4, oldest_at=5.0, max_wait=10.0, flushing=False, overdue=0)
            == 15.0
        )


class TestBatchSize:
    def test_a_small_queue_goes_out_whole(self) -> None:
        assert batch_size(pending=3, threshold=4, slots=2, max_batch=100) == 3

    def test_a_backlog_is_split_evenly_over_the_batch_slots(self) -> None:
        assert batch_size(pending=30, threshold=2, slots=2, max_batch=100) == 15
        assert batch_size(pending=31, threshold=2, slots=3, max_batch=100) == 11

    def test_a_share_never_drops_below_the_threshold(self) -> None:
        assert batch_size(pending=40, threshold=20, slots=4, max_batch=100) == 20

    def test_a_remainder_below_the_threshold_rides_along(self) -> None:
        assert batch_size(pending=30, threshold=20, slots=2, max_batch=100) == 30
        assert batch_size(pending=5, threshold=4, slots=2, max_batch=100) == 5

    def test_max_batch_caps_the_cut_even_if_a_small_remainder_is_left(self) -> None:
        assert batch_size(pending=1030, threshold=20, slots=1, max_batch=1024) == 1024
        assert batch_size(pending=25, threshold=20, slots=1, max_batch=20) == 20

    def test_zero_slots_count_as_one(self) -> None:
        assert batch_size(pending=10, threshold=2, slots=0, max_batch=100) == 10

    def test_nothing_pending_cuts_nothing(self) -> None:
        assert batch_size(pending=0, threshold=2, slots=2, max_batch=100) == 0

    @given(
        pending=st.integers(0, 5000),
        threshold=st.integers(1, 200),
        slots=st.integers(0, 16),
        extra=st.integers(0, 2000),
    )
    def test_bounds_hold_for_any_input(
        self, pending: int, threshold: int, slots: int, extra: int
    ) -> None:
        max_batch = threshold + extra
        size = batch_size(pending=pending, threshold=threshold, slots=slots, max_batch=max_batch)
        assert 0 <= size <= min(pending, max_batch)
        if pending > 0:
            assert size >= min(pending, threshold)
        remainder = pending - size
        if 0 < remainder < threshold:
            assert size == max_batch


class TestChunkSizes:
    def test_no_items_no_chunks(self) -> None:
        assert chunk_sizes(0, 4) == []

    def test_few_items_go_one_per_chunk(self) -> None:
        assert chunk_sizes(3, 2) == [1, 1, 1]

    def test_unknown_run_time_shrinks_chunks_down_to_single_items(self) -> None:
        assert CHUNKS_PER_WORKER == 2
        assert chunk_sizes(10, 2) == [3, 2, 2, 1, 1, 1]
        assert chunk_sizes(4, 1) == [2, 1, 1]

    def test_zero_workers_counts_as_one(self) -> None:
        assert chunk_sizes(5, 0) == chunk_sizes(5, 1)

    @given(
        items=st.integers(0, 10_000),
        workers=st.integers(1, 64),
        item_seconds=st.none() | st.floats(1e-9, 10.0),
    )
    def test_chunks_cover_every_item_and_never_grow(
        self, items: int, workers: int, item_seconds: float | None
    ) -> None:
        sizes = chunk_sizes(items, workers, item_seconds)
        assert sum(sizes) == items
        assert all(size >= 1 for size in sizes)
        assert sizes == sorted(sizes, reverse=True)
        assert len(sizes) <= MAX_CHUNKS
        if sizes:  # the first chunk is an even share, over the lanes or the chunk cap, at most
            lanes = min(CHUNKS_PER_WORKER * workers, MAX_CHUNKS)
            assert sizes[0] <= -(-items // lanes)


class TestChunksFollowTheRunTime:
    def test_fast_items_travel_in_equal_shares_one_per_lane(self) -> None:
        assert chunk_sizes(1024, 4, 1e-6) == [128] * 8

    def test_mid_cost_items_keep_one_chunk_per_lane(self) -> None:
        assert chunk_sizes(1024, 2, 25e-6) == [256] * 4

    def test_slow_items_shrink_towards_the_target_duration(self) -> None:
        sizes = chunk_sizes(400, 2, 0.005)
        assert sizes[0] == 100
        assert min(sizes) * 0.005 >= CHUNK_TARGET_SECONDS  # no chunk below the target
        assert len(sizes) > 4  # the tail is cut small, so a slow worker cannot hold it up

    def test_very_slow_items_shrink_to_one_per_chunk(self) -> None:
        assert chunk_sizes(5, 2, 1.0) == [2, 1, 1, 1]
