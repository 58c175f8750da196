"""The interval algebra, against a brute-force model of point sets."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from scoring import intervals as iv

raw = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda t: (min(t), max(t))),
    max_size=8,
)


def points(spans) -> set[int]:
    return {t for s, e in spans for t in range(s, e)}


def is_canonical(spans) -> bool:
    return all(s < e for s, e in spans) and all(a[1] < b[0] for a, b in itertools.pairwise(spans))


def test_merge_joins_overlapping_and_touching_and_drops_empty():
    assert iv.merge([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]) == [(0, 3), (5, 9)]


def test_subtract_splits_around_holes():
    assert iv.subtract([(0, 10)], [(2, 3), (5, 6), (9, 12)]) == [(0, 2), (3, 5), (6, 9)]


def test_snap_outward_counts_a_touched_grain_whole():
    assert iv.snap_outward([(61, 119), (130, 131)], 60) == [(60, 180)]
    assert iv.snap_outward([(61, 119)], 60, origin=1) == [(61, 121)]


@given(raw)
def test_merge_keeps_the_point_set_and_is_canonical(a):
    merged = iv.merge(a)
    assert points(merged) == points(a)
    assert is_canonical(merged)
    assert iv.merge(merged) == merged
    assert iv.union_length(a) == len(points(a))


@given(raw, raw)
def test_intersect_subtract_union_match_set_algebra(a, b):
    ma, mb = iv.merge(a), iv.merge(b)
    assert points(iv.intersect(ma, mb)) == points(a) & points(b)
    assert points(iv.subtract(ma, mb)) == points(a) - points(b)
    assert points(iv.union(ma, mb)) == points(a) | points(b)
    for result in (iv.intersect(ma, mb), iv.subtract(ma, mb), iv.union(ma, mb)):
        assert is_canonical(result)
    assert iv.total(ma) == iv.total(iv.intersect(ma, mb)) + iv.total(iv.subtract(ma, mb))


@given(raw, st.integers(0, 60), st.integers(0, 60))
def test_clip_keeps_only_the_window(a, lo, hi):
    assert points(iv.clip(iv.merge(a), lo, hi)) == {t for t in points(a) if lo <= t < hi}


@given(st.lists(raw, max_size=4))
def test_intersect_all_is_the_common_part(sets):
    merged = [iv.merge(s) for s in sets]
    expected = set.intersection(*(points(s) for s in sets)) if sets else set()
    assert points(iv.intersect_all(merged)) == expected


@given(raw, st.integers(1, 7))
def test_snap_outward_covers_every_touched_grain(a, grain):
    snapped = iv.snap_outward(iv.merge(a), grain)
    touched = {t // grain for t in points(a)}
    assert points(snapped) == {t for g in touched for t in range(g * grain, (g + 1) * grain)}


@given(raw, st.integers(0, 60), st.integers(0, 60))
def test_complement_is_the_rest_of_the_window(a, lo, hi):
    result = iv.complement(iv.merge(a), lo, hi)
    assert points(result) == set(range(lo, hi)) - points(a)
    assert is_canonical(result)
