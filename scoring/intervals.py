"""Half-open integer intervals: the algebra every duration in the suite is computed with.

An interval is `(start, end)` with `start <= end`, covering `start <= t < end`. A *set* of
intervals is a list sorted by start, pairwise disjoint and non-touching, with no empty members —
what `merge` returns. Every function here takes sets (or raw lists, for `merge`) and returns sets,
so results compose without re-sorting. Units are whatever integers the caller uses (the scorer
uses microseconds since the epoch).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

Interval = tuple[int, int]
IntervalSet = list[Interval]


def merge(intervals: Iterable[Interval]) -> IntervalSet:
    """Sort, drop empty intervals and join overlapping or touching ones."""
    ordered = sorted(iv for iv in intervals if iv[1] > iv[0])
    out: IntervalSet = []
    for start, end in ordered:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def total(intervals: Sequence[Interval]) -> int:
    """Summed length of a set (disjoint by construction)."""
    return sum(end - start for start, end in intervals)


def union_length(intervals: Iterable[Interval]) -> int:
    """Length of the union of any intervals, overlapping or not."""
    return total(merge(intervals))


def clip(intervals: Sequence[Interval], lo: int, hi: int) -> IntervalSet:
    """The part of a set inside `[lo, hi)`."""
    if not intervals or hi <= lo:
        return []
    if intervals[0][0] >= lo and intervals[-1][1] <= hi:  # all inside: the common case
        return list(intervals)
    # A set is sorted by start and by end alike: find the overlapping run, trim its two ends.
    first = bisect_right(intervals, lo, key=_end)
    last = bisect_left(intervals, hi, key=_start)
    out = list(intervals[first:last])
    if out:
        out[0] = (max(out[0][0], lo), out[0][1])
        out[-1] = (out[-1][0], min(out[-1][1], hi))
    return out


def _start(interval: Interval) -> int:
    return interval[0]


def _end(interval: Interval) -> int:
    return interval[1]


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> IntervalSet:
    """Points in both sets.

    Each interval of the smaller set clips the larger one by binary search, so a component's
    hundred outages against five maintenance windows cost five searches, not a full sweep.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return []
    if len(b) == 1:
        return clip(a, b[0][0], b[0][1])
    out: IntervalSet = []
    for lo, hi in b:
        out.extend(clip(a, lo, hi))
    return out


def complement(a: Sequence[Interval], lo: int, hi: int) -> IntervalSet:
    """Points of `[lo, hi)` not in the set."""
    out: IntervalSet = []
    cursor = lo
    for start, end in clip(a, lo, hi):
        if start > cursor:
            out.append((cursor, start))
        cursor = end
    if cursor < hi:
        out.append((cursor, hi))
    return out


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> IntervalSet:
    """Points of `a` not in `b`."""
    if not a or not b:
        return list(a)
    return intersect(a, complement(b, a[0][0], a[-1][1]))


def union(*sets: Sequence[Interval]) -> IntervalSet:
    """Points in any of the sets."""
    return merge(iv for s in sets for iv in s)


def intersect_all(sets: Sequence[Sequence[Interval]]) -> IntervalSet:
    """Points in every one of the sets (empty for no sets)."""
    if not sets:
        return []
    acc: IntervalSet = list(sets[0])
    for s in sets[1:]:
        acc = intersect(acc, s)
        if not acc:
            break
    return acc


def snap_outward(intervals: Sequence[Interval], grain: int, origin: int = 0) -> IntervalSet:
    """Widen each interval to whole grains counted from `origin` (a touched grain counts whole)."""
    if grain <= 1:
        return list(intervals)
    return merge(
        (
            origin + ((start - origin) // grain) * grain,
            origin + -((origin - end) // grain) * grain,
        )
        for start, end in intervals
    )
