"""The table's rows beyond the platform: `threshold` and `events` items. Pure and exact.

A `threshold` item compares the month's figure with its target and deducts per started step
past it (月均呼叫接通率 ≥ 95%: 0.5 per started 1 % below). An `events` item deducts per
occurrence of each kind of event (0.2 per 未及时报备), a kind with `deduction: all` takes the
whole item (不得分); its kinds are counted from the monthly facts, the collector's inspection
reports (巡检报告, due by the end of the rules' `inspection_reports.due_day` of the next month)
and backups (a backup not done by its due instant is missed). `scoring.score` caps the sum at
the item's points (本项分数扣完为止) as for every item.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from scoring.facts import Facts
from scoring.rules import EventKind, ItemRule, Rules
from scoring.values import EPOCH, US

# The facts an event source is counted from, as the report names what is missing.
SOURCE_FACTS = {
    "monthly": "monthly",
    "inspection_report_late": "inspection_reports",
    "inspection_report_incomplete": "inspection_reports",
    "backup_missed": "backups",
}


@dataclass(slots=True)
class Outcome:
    value: Fraction | None  # None: not measured
    steps: Fraction
    extra: Fraction  # deduction beyond steps × deduction_per_step
    evidence: dict[str, Any]
    missing: list[str] = field(default_factory=list)  # facts keys absent for this item


def started_steps(shortfall: Fraction, step: Fraction, rounding: str) -> Fraction:
    ratio = shortfall / step
    if rounding == "ceil":
        return Fraction(math.ceil(ratio))
    if rounding == "floor":
        return Fraction(math.floor(ratio))
    return ratio


def num(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def threshold(item: ItemRule, facts: Facts) -> Outcome:
    evidence: dict[str, Any] = {
        "unit": item.unit,
        "direction": item.direction,
        "step": num(item.step),
    }
    fact = facts.monthly.get(item.key)
    if fact is None or fact.value is None:
        evidence["reason"] = "no monthly fact for this item"
        evidence["missing"] = ["monthly"]
        return Outcome(None, Fraction(0), Fraction(0), evidence, ["monthly"])
    value = fact.value
    past = item.target - value if item.direction == "at_least" else value - item.target
    steps = started_steps(past, item.step, item.step_rounding) if past > 0 else Fraction(0)
    extra = Fraction(0)
    evidence["shortfall"] = num(max(past, Fraction(0)))
    if item.forfeit_at_zero and value == 0:
        extra = item.max_points
        evidence["forfeited"] = True
    if fact.note is not None:
        evidence["note"] = fact.note
    return Outcome(value, steps, extra, evidence)


def events(item: ItemRule, facts: Facts, rules: Rules, iso: Callable[[int | None], Any]) -> Outcome:
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    evidence: dict[str, Any] = {"unit": "events", "events": rows}
    fact = facts.monthly.get(item.key)
    inspection = _inspection(facts, rules, iso) if facts.inspection_reports is not None else None
    backups = _backups(facts, iso) if facts.backups is not None else None
    forfeited = False
    total = occurrences = Fraction(0)
    for kind in item.events:
        count, points = _count(kind, fact, inspection, backups)
        if count is None:
            name = SOURCE_FACTS[kind.source]
            if name not in missing:
                missing.append(name)
            rows.append(_row(kind, None, None))
            continue
        if kind.deduction is None:
            deduction = item.max_points if count else Fraction(0)
            forfeited |= count > 0
        elif points is not None:
            deduction = sum(points, Fraction(0))
        else:
            deduction = count * kind.deduction
        rows.append(_row(kind, count, deduction, points))
        total += deduction
        occurrences += count
    if inspection is not None and any(k.source.startswith("inspection") for k in item.events):
        evidence["inspection_report"] = inspection
    if backups is not None and any(k.source == "backup_missed" for k in item.events):
        evidence["backups"] = backups
    if fact is not None and fact.note is not None:
        evidence["note"] = fact.note
    if missing:
        evidence["missing"] = missing
    if len(missing) == len({SOURCE_FACTS[k.source] for k in item.events}):
        evidence["reason"] = "no facts for this item: " + ", ".join(missing)
        return Outcome(None, Fraction(0), Fraction(0), evidence, missing)
    if forfeited:
        evidence["forfeited"] = True
    evidence["deduction_before_cap"] = num(total)
    return Outcome(occurrences, Fraction(0), total, evidence, missing)


def _row(
    kind: EventKind,
    count: int | None,
    deduction: Fraction | None,
    points: tuple[Fraction, ...] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind.key,
        "name": kind.name,
        "source": kind.source,
        "each": "all" if kind.deduction is None else num(kind.deduction),
        "count": count,
        "deduction": None if deduction is None else num(deduction),
    }
    if kind.points_range is not None:
        row["each"] = {"min": num(kind.points_range[0]), "max": num(kind.points_range[1])}
        row["points"] = None if points is None else [num(p) for p in points]
    return row


def _count(
    kind: EventKind,
    fact: Any,
    inspection: dict[str, Any] | None,
    backups: dict[str, Any] | None,
) -> tuple[int | None, tuple[Fraction, ...] | None]:
    """(occurrences, each one's deduction for a range kind); (None, None): no facts."""
    if kind.source == "monthly":
        if fact is None:
            return None, None
        if kind.points_range is not None:
            points = fact.points.get(kind.key, ())
            return len(points), points
        return fact.counts.get(kind.key, 0), None
    if kind.source == "backup_missed":
        return (
            (None, None) if backups is None or not backups["counted"] else (backups["missed"], None)
        )
    if inspection is None:
        return None, None
    if kind.source == "inspection_report_late":
        return int(inspection["status"] in ("late", "missing")), None
    return int(inspection["incomplete"]), None


def inspection_deadline(facts: Facts, rules: Rules) -> int:
    """00:00 local on the day after the rules' due day of the scored month: the report on the
    month before is on time when submitted before it (every calendar day counts; holidays do
    not move it)."""
    tz = rules.tz
    start = (EPOCH + facts.month_start * US).astimezone(tz)
    due = datetime(start.year, start.month, rules.inspection_due_day + 1, tzinfo=tz)
    return (due - EPOCH) // US


def previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _inspection(facts: Facts, rules: Rules, iso: Callable[[int | None], Any]) -> dict[str, Any]:
    """The inspection report due in the scored month: the one on the month before."""
    assert facts.inspection_reports is not None
    month = previous_month(facts.month)
    deadline = inspection_deadline(facts, rules)
    report = next((r for r in facts.inspection_reports if r.month == month), None)
    submitted = None if report is None else report.submitted_at
    if submitted is not None:
        status = "on_time" if submitted < deadline else "late"
    else:
        status = "missing" if facts.as_of >= deadline else "pending"
    return {
        "month": month,
        "deadline": iso(deadline),
        "submitted_at": iso(submitted),
        "complete": None if report is None else report.complete,
        "listed": report is not None,
        "status": status,
        "incomplete": report is not None and submitted is not None and not report.complete,
    }


def _backups(facts: Facts, iso: Callable[[int | None], Any]) -> dict[str, Any]:
    """The backups due in the scored month. Missed: done after `due`, or not done and `as_of`
    past `due`; not done and not yet due is pending (not counted)."""
    assert facts.backups is not None
    rows = []
    missed = 0
    for b in sorted(facts.backups, key=lambda b: (b.due, b.component, b.kind)):
        if not facts.month_start <= b.due < facts.month_end:
            continue
        if b.done_at is not None:
            status = "on_time" if b.done_at <= b.due else "late"
        else:
            status = "missed" if facts.as_of > b.due else "pending"
        missed += status in ("late", "missed")
        rows.append(
            {
                "component": b.component,
                "kind": b.kind,
                "due": iso(b.due),
                "done_at": iso(b.done_at),
                "status": status,
            }
        )
    by_kind = {k: sum(r["kind"] == k for r in rows) for k in ("daily", "monthly")}
    return {"counted": len(rows), "by_kind": by_kind, "missed": missed, "rows": rows}
