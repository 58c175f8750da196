"""Half-open integer intervals: the algebra every duration in the suite is computed with.

An interval is `(start, end)` with `start <= end`, covering `start <= t < end`. A *set* of
intervals is a list sorted by start, pairwise disjoint and non-touching, with no empty members —
what `merge` returns. Every function here takes sets (or raw lists, for `merge`) and returns sets,
so results compose without re-sorting. Units are whatever integers the caller uses (the scorer
uses microseconds since the epoch).
"""

from __future__ import annotations

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
    out: IntervalSet = []
    for start, end in intervals:
        s, e = max(start, lo), min(end, hi)
        if e > s:
            out.append((s, e))
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> IntervalSet:
    """Points in both sets (linear sweep over two sorted sets)."""
    out: IntervalSet = []
    i = j = 0
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if e > s:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> IntervalSet:
    """Points of `a` not in `b`."""
    out: IntervalSet = []
    j = 0
    for start, end in a:
        cur = start
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            if cur >= end:
                break
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


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
