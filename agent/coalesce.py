"""Pure rules for shrinking a pile of results without losing a state change (no I/O here).

A *state* is what the collector's outage logic looks at: ok and reason. While results wait
in the spool, a result whose state equals the spooled row before it (same component and probe)
extends that row instead of adding one: the row keeps its first sample (`ts`, `detail`,
`latency_ms`) and gains `count` and `until` (the ts of the last sample) — the wire form of
"n identical results from ts to until".

When the spool is over its cap, `plan_drops` picks victims: first rows that are not a state
change (a run continued after its head was shipped or frozen in a batch — losing one costs
the collector some samples, never an outage boundary), oldest first; only if that is not
enough, the oldest rows of all (each such loss is counted apart, and logged as lost changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def state_of(result: Mapping[str, Any]) -> str:
    """The part of a result that decides outages: ok and reason."""
    return f"{int(bool(result.get('ok')))}|{result.get('reason')}"


def can_extend(row: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
    """True when `result` continues the run of `row` (same check, system, state, interval)."""
    return (
        row.get("component") == result.get("component")
        and row.get("probe") == result.get("probe")
        and row.get("system") == result.get("system")
        and state_of(row) == state_of(result)
        and row.get("interval") == result.get("interval")
    )


def extend(row: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """`row` extended by `result`: count summed, `until` moved to the last sample.

    The first sample's fields stay (the run started then, and that is the evidence); the
    newest `value` replaces the old one, since a stateful check compares with the latest.
    """
    out = dict(row)
    out["count"] = int(row.get("count", 1)) + int(result.get("count", 1))
    out["until"] = result.get("until") or result["ts"]
    if "value" in result:
        out["value"] = result["value"]
    return out


@dataclass(frozen=True, slots=True)
class RowInfo:
    """What the cap needs to know about one unbatched spool row."""

    id: int
    size: int
    count: int
    change: bool


@dataclass(frozen=True, slots=True)
class DropPlan:
    ids: tuple[int, ...]
    freed: int  # bytes
    results: int  # samples lost (sum of counts)
    changes: int  # rows that were state changes


def plan_drops(rows: Iterable[RowInfo], excess: int) -> DropPlan:
    """Rows (oldest first) to drop so at least `excess` bytes are freed; see module doc."""
    ordered = list(rows)
    chosen: list[RowInfo] = []
    freed = 0
    for only_continuations in (True, False):
        for row in ordered:
            if freed >= excess:
                break
            if only_continuations and row.change:
                continue
            if not only_continuations and not row.change:
                continue  # taken in the first pass already, or not needed
            chosen.append(row)
            freed += row.size
    chosen.sort(key=lambda r: r.id)
    return DropPlan(
        ids=tuple(r.id for r in chosen),
        freed=freed,
        results=sum(r.count for r in chosen),
        changes=sum(1 for r in chosen if r.change),
    )
