"""The monthly score: facts and rules in, the report object out. Pure and deterministic.

Durations are integer microseconds; ratios, steps and deductions are `Fraction`s, compared
exactly and turned into floats only when the report is written (SPEC "Precisely").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from scoring import intervals as iv
from scoring.facts import Facts, Incident
from scoring.intervals import IntervalSet
from scoring.rules import ItemRule, Rules
from scoring.table_items import Outcome, events, started_steps, threshold
from scoring.values import EPOCH, US_PER_SECOND, paused_gc, seconds
from scoring.workdays import UnknownYear, nth_workday_after

US_PER_HOUR = 3600 * US_PER_SECOND


@dataclass(slots=True)
class ComponentTime:
    """One component's time inside the period, split the way every item needs it."""

    id: str
    system: str
    working: IntervalSet
    fault: IntervalSet
    maintenance: IntervalSet
    no_data: IntervalSet


class _Clock:
    """Formats instants in the rules' time zone."""

    def __init__(self, rules: Rules):
        self.tz = rules.tz

    def iso(self, us: int | None) -> str | None:
        if us is None:
            return None
        return (EPOCH + timedelta(microseconds=us)).astimezone(self.tz).isoformat()

    def local(self, us: int) -> datetime:
        return (EPOCH + timedelta(microseconds=us)).astimezone(self.tz)


def score(facts: Facts, rules: Rules) -> dict[str, Any]:
    """Score one month. The same facts and rules always give the same report."""
    with paused_gc():
        return _score(facts, rules)


def _score(facts: Facts, rules: Rules) -> dict[str, Any]:
    clock = _Clock(rules)
    p_start, p_end = facts.period
    times = component_times(facts, p_start, p_end)
    flags: list[dict[str, Any]] = []
    items: dict[str, dict[str, Any]] = {}

    counted = [i for i in facts.incidents if facts.month_start <= i.detected_at < facts.month_end]
    # The written report each restored incident owes, worked out once for evidence and flags.
    reports = {
        i.id: _written_report(i, facts, rules, clock) for i in counted if i.restored_at is not None
    }
    for item in rules.items:
        if item.measure in ("threshold", "events"):
            result = _table_item(item, facts, rules, clock)
        elif item.measure == "availability":
            result = _availability(item, times, facts, clock)
        elif item.measure == "maintenance":
            result = _maintenance(item, times, facts, clock)
        else:
            result = _incident_item(item, counted, reports, facts, rules, clock)
            # Faults open incidents when the probes see them: the item is as well measured as
            # the platform is watched, so its coverage is that of every component.
            _set_coverage(result, times.values())
        if item.section is not None:
            result["section"] = item.section
        missing = result.pop("_missing", None)
        if result.pop("_not_measured", False):
            flag: dict[str, Any] = {"type": "not_measured", "item": item.key}
            if missing:
                flag["missing"] = missing
            flags.append(flag)
        elif missing:
            flags.append({"type": "partly_measured", "item": item.key, "missing": missing})
        items[item.key] = result

    coverage = _system_coverage(times, rules)
    flags += _outage_flags(facts, p_start, p_end, clock)
    flags += _coverage_flags(coverage, rules)
    flags += _incident_flags(counted, reports, facts, rules)

    total = sum((Fraction(r["_score"]) for r in items.values()), Fraction(0))
    max_total = sum((i.max_points for i in rules.items), Fraction(0))
    sections = _sections(items, rules)
    for result in items.values():
        del result["_score"]
    out: dict[str, Any] = {
        "month": facts.month,
        "rules": rules.id,
        "as_of": clock.iso(facts.as_of),
        "period": {"start": clock.iso(p_start), "end": clock.iso(p_end)},
        "coverage": {
            system: {
                "coverage": None if working == 0 else float(1 - Fraction(silent, working)),
                "working_seconds": seconds(working),
                "no_data_seconds": seconds(silent),
                "low": _low(working, silent, rules),
            }
            for system, (working, silent) in coverage.items()
        },
        "items": items,
    }
    if sections:  # rules with sections (the full table); the default rules have none
        out["sections"] = sections
    out.update(total=float(total), max_total=float(max_total), flags=flags)
    return out


def _sections(items: dict[str, dict[str, Any]], rules: Rules) -> list[dict[str, Any]]:
    """Per section of the table, in order: its items, points, deduction and score."""
    out = []
    for name in rules.sections:
        members = [i for i in rules.items if i.section == name]
        max_points = sum((i.max_points for i in members), Fraction(0))
        got = sum((items[i.key]["_score"] for i in members), Fraction(0))
        out.append(
            {
                "name": name,
                "items": [i.key for i in members],
                "max_points": float(max_points),
                "deduction": float(max_points - got),
                "score": float(got),
            }
        )
    return out


# --- time per component ---------------------------------------------------------------------


def component_times(facts: Facts, p_start: int, p_end: int) -> dict[str, ComponentTime]:
    outages: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for outage in facts.outages:
        if outage.excluded is None:
            outages[outage.component].append(
                (outage.start, outage.end if outage.end is not None else p_end)
            )
    star_windows = iv.merge((w.start, w.end) for w in facts.windows if "*" in w.components)
    windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for window in facts.windows:
        if "*" not in window.components:
            for cid in window.components:
                windows[cid].append((window.start, window.end))
    no_data: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for span in facts.no_data:
        no_data[span.component].append((span.start, span.end))

    times: dict[str, ComponentTime] = {}
    for component in facts.components:
        lo = p_start if component.since is None else max(p_start, component.since)
        hi = p_end if component.until is None else min(p_end, component.until)
        working = [(lo, hi)] if hi > lo else []
        if component.working is not None:
            working = iv.intersect(working, component.working)
        down = iv.intersect(iv.merge(outages.get(component.id, ())), working)
        covered = (
            iv.union(star_windows, iv.merge(windows[component.id]))
            if component.id in windows
            else star_windows
        )
        times[component.id] = ComponentTime(
            id=component.id,
            system=component.system,
            working=working,
            fault=iv.subtract(down, covered),
            maintenance=iv.intersect(down, covered),
            no_data=iv.intersect(iv.merge(no_data.get(component.id, ())), working),
        )
    return times


def _grain(spans: IntervalSet, item: ItemRule, origin: int) -> IntervalSet:
    return iv.snap_outward(spans, item.granularity_us, origin)


# --- items ----------------------------------------------------------------------------------


_steps = started_steps


def _table_item(item: ItemRule, facts: Facts, rules: Rules, clock: _Clock) -> dict[str, Any]:
    """A row of the table beyond the platform (`scoring.table_items`), finished as the rest."""
    outcome: Outcome = (
        threshold(item, facts)
        if item.measure == "threshold"
        else events(item, facts, rules, clock.iso)
    )
    if outcome.value is None:
        result = _not_measured(item, outcome.evidence)
    else:
        result = _finish(item, outcome.value, outcome.steps, outcome.extra, outcome.evidence)
    result["_missing"] = outcome.missing
    return result


def _finish(
    item: ItemRule, value: Fraction | None, steps: Fraction, extra: Fraction, evidence: dict
) -> dict[str, Any]:
    deduction = min(item.max_points, steps * item.deduction_per_step + extra)
    score = item.max_points - deduction
    evidence["steps"] = _num(steps)
    result: dict[str, Any] = {
        "name": item.name,
        "value": None if value is None else float(value),
        "coverage": None,  # set by the caller where it applies (`_set_coverage`)
        "target": float(item.limit_hours if item.measure == "maintenance" else item.target),
        "max_points": float(item.max_points),
        "deduction": float(deduction),
        "score": float(score),
        "evidence": evidence,
        "_score": score,
    }
    return result


def _set_coverage(result: dict[str, Any], members: Iterable[ComponentTime]) -> None:
    """An item's coverage: the share of its components' working time with data, 1 − Σno-data /
    Σworking (an exact fraction, written as a float); null without working time."""
    working = silent = 0
    for t in members:
        working += iv.total(t.working)
        silent += iv.total(t.no_data)
    if working and result["value"] is not None:
        result["coverage"] = float(1 - Fraction(silent, working))
        result["evidence"]["coverage_formula"] = f"1 - {seconds(silent)} / {seconds(working)}"


def _not_measured(item: ItemRule, evidence: dict[str, Any]) -> dict[str, Any]:
    result = _finish(item, None, Fraction(0), Fraction(0), evidence)
    result["_not_measured"] = True
    return result


def _availability(
    item: ItemRule, times: dict[str, ComponentTime], facts: Facts, clock: _Clock
) -> dict[str, Any]:
    members = [t for t in times.values() if t.system in item.systems]
    origin = facts.month_start
    p_start, p_end = facts.period
    evidence: dict[str, Any] = {"aggregation": item.aggregation, "systems": list(item.systems)}
    if not members:
        evidence["reason"] = "no components of these systems"
        return _not_measured(item, evidence)

    rows: list[dict[str, Any]] = []
    for t in members:
        working = _grain(t.working, item, origin)
        fault = iv.intersect(_grain(t.fault, item, origin), working)
        rows.append(
            {
                "id": t.id,
                "working_seconds": seconds(iv.total(working)),
                "fault_seconds": seconds(iv.total(fault)),
                "maintenance_seconds": seconds(iv.total(t.maintenance)),
                "no_data_seconds": seconds(iv.total(t.no_data)),
                "_working": working,
                "_fault": fault,
            }
        )

    if item.aggregation == "sum":
        working_us = sum(iv.total(r["_working"]) for r in rows)
        fault_us = sum(iv.total(r["_fault"]) for r in rows)
    else:
        period = _grain([(p_start, p_end)], item, origin)
        working_us = iv.total(period)
        faults = [r["_fault"] for r in rows]
        if item.aggregation == "union":
            down = iv.union(*faults)
        else:  # all: down while every component that is meant to work is down
            down = iv.intersect_all(
                [
                    iv.union(f, iv.subtract(period, r["_working"]))
                    for f, r in zip(faults, rows, strict=True)
                ]
            )
            down = iv.intersect(down, iv.union(*(r["_working"] for r in rows)))
        fault_us = iv.total(iv.intersect(down, period))
        evidence["fault_intervals"] = [[clock.iso(s), clock.iso(e)] for s, e in down]
    for r in rows:
        del r["_working"], r["_fault"]

    no_data_us = sum(iv.total(t.no_data) for t in members)
    evidence.update(
        {
            "period": {"start": clock.iso(p_start), "end": clock.iso(p_end)},
            "working_seconds": seconds(working_us),
            "fault_seconds": seconds(fault_us),
            "formula": f"1 - {seconds(fault_us)} / {seconds(working_us)}",
            "no_data_seconds": seconds(no_data_us),
            "components": rows,
            "outages": _outages_used(facts, {t.id for t in members}),
        }
    )
    if working_us == 0:
        evidence["reason"] = "no working time in the period"
        return _not_measured(item, evidence)
    value = 1 - Fraction(fault_us, working_us)
    steps = _steps(item.target - value, item.step, item.step_rounding) if value < item.target else 0
    result = _finish(item, value, Fraction(steps), Fraction(0), evidence)
    _set_coverage(result, members)
    return result


def _outages_used(facts: Facts, component_ids: set[str]) -> list[dict[str, Any]]:
    """The facts' outages behind an item, as given (no copies: there may be a million)."""
    p_start, p_end = facts.period
    return [
        o.raw
        for o in facts.outages
        if o.component in component_ids
        and o.excluded is None
        and o.start < p_end
        and (o.end is None or o.end > p_start)
    ]


def _maintenance(
    item: ItemRule, times: dict[str, ComponentTime], facts: Facts, clock: _Clock
) -> dict[str, Any]:
    members = [t for t in times.values() if t.system in item.systems]
    evidence: dict[str, Any] = {"systems": list(item.systems)}
    if not members:
        evidence["reason"] = "no components of these systems"
        return _not_measured(item, evidence)
    spans = iv.union(*(_grain(t.maintenance, item, facts.month_start) for t in members))
    maintenance_us = iv.total(spans)
    hours = Fraction(maintenance_us, US_PER_HOUR)
    over = hours - item.limit_hours
    steps = _steps(over, item.step_hours, item.step_rounding) if over > 0 else Fraction(0)
    ids = {t.id for t in members}
    p_start, p_end = facts.period
    evidence.update(
        {
            "maintenance_seconds": seconds(maintenance_us),
            "formula": f"{seconds(maintenance_us)} s / 3600",
            "limit_hours": float(item.limit_hours),
            "intervals": [[clock.iso(s), clock.iso(e)] for s, e in spans],
            "components": [
                {"id": t.id, "maintenance_seconds": seconds(iv.total(t.maintenance))}
                for t in members
                if t.maintenance
            ],
            "windows": [
                {
                    "id": w.id,
                    "start": clock.iso(w.start),
                    "end": clock.iso(w.end),
                    "components": list(w.components),
                }
                for w in facts.windows
                if w.start < p_end
                and w.end > p_start
                and ("*" in w.components or ids.intersection(w.components))
            ],
        }
    )
    result = _finish(item, hours, steps, Fraction(0), evidence)
    _set_coverage(result, members)
    return result


def _limit(incident: Incident, rules: Rules, measure: str) -> int:
    limits = rules.severities[incident.severity]
    return limits.response_us if measure == "response" else limits.restoration_us


def _timeliness(
    incident: Incident, rules: Rules, measure: str, as_of: int
) -> tuple[str, int | None]:
    """`timely`, `late`, `missing` (untimely, never done) or `pending`; and elapsed µs."""
    limit = _limit(incident, rules, measure)
    done = incident.responded_at if measure == "response" else incident.restored_at
    if done is not None:
        elapsed = done - incident.detected_at
        return ("timely" if elapsed <= limit else "late"), elapsed
    return ("missing" if as_of - incident.detected_at > limit else "pending"), None


def _incident_item(
    item: ItemRule,
    counted: list[Incident],
    reports: dict[str, dict[str, Any]],
    facts: Facts,
    rules: Rules,
    clock: _Clock,
) -> dict[str, Any]:
    rows = []
    timely = total = 0
    for incident in counted:
        status, elapsed = _timeliness(incident, rules, item.measure, facts.as_of)
        if status != "pending":
            total += 1
            timely += status == "timely"
        rows.append(
            {
                "id": incident.id,
                "severity": incident.severity,
                "severity_defaulted": not incident.severity_given,
                "detected_at": clock.iso(incident.detected_at),
                "done_at": clock.iso(
                    incident.responded_at if item.measure == "response" else incident.restored_at
                ),
                "elapsed_seconds": None if elapsed is None else seconds(elapsed),
                "limit_seconds": seconds(_limit(incident, rules, item.measure)),
                "status": status,
            }
        )
    value = Fraction(timely, total) if total else Fraction(1)
    steps = _steps(item.target - value, item.step, item.step_rounding) if value < item.target else 0
    evidence: dict[str, Any] = {
        "counted": total,
        "timely": timely,
        "formula": f"{timely} / {total}" if total else "no counted incidents: 100%",
        "limits_seconds": {
            name: seconds(
                limits.response_us if item.measure == "response" else limits.restoration_us
            )
            for name, limits in rules.severities.items()
        },
        "limits_are_placeholders": True,
        "incidents": rows,
    }
    extra = Fraction(0)
    if item.measure == "response":
        bad = sum(r["status"] in ("late", "missing") for r in reports.values())
        extra = bad * item.report_deduction
        evidence["reports"] = list(reports.values())
        evidence["reports_late_or_missing"] = bad
        evidence["report_deduction"] = _num(extra)
    return _finish(item, value, Fraction(steps), extra, evidence)


def report_deadline(restored_at: int, rules: Rules, clock: _Clock) -> int:
    """D: 00:00 local on the day after the Nth working day after the restoration date."""
    restored_day = clock.local(restored_at).date()
    due_day = nth_workday_after(restored_day, rules.report_working_days, rules.calendar_years)
    next_day = due_day + timedelta(days=1)
    midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=rules.tz)
    return (midnight - EPOCH) // timedelta(microseconds=1)


def _written_report(
    incident: Incident, facts: Facts, rules: Rules, clock: _Clock
) -> dict[str, Any]:
    """The written report owed for a restored incident: deadline and status."""
    assert incident.restored_at is not None  # unrestored incidents owe no report yet
    row: dict[str, Any] = {
        "incident": incident.id,
        "restored_at": clock.iso(incident.restored_at),
        "submitted_at": clock.iso(incident.report_submitted_at),
    }
    try:
        deadline = report_deadline(incident.restored_at, rules, clock)
    except UnknownYear as exc:
        row.update(deadline=None, status="calendar_unknown", year=exc.year)
        return row
    submitted = incident.report_submitted_at
    if submitted is not None:
        status = "on_time" if submitted < deadline else "late"
    else:
        status = "missing" if facts.as_of >= deadline else "pending"
    row.update(deadline=clock.iso(deadline), status=status)
    return row


# --- flags ----------------------------------------------------------------------------------


def _outage_flags(facts: Facts, p_start: int, p_end: int, clock: _Clock) -> Iterable[dict]:
    for o in facts.outages:
        if o.excluded is not None and o.start < p_end and (o.end is None or o.end > p_start):
            yield {
                "type": "excluded",
                "component": o.component,
                "start": o.start_text,
                "end": o.end_text,
                "reason": o.excluded["reason"],
                "approved_by": o.excluded["approved_by"],
            }
    for w in facts.windows:
        if (
            w.created_at is not None
            and w.created_at > w.start
            and w.start < p_end
            and w.end > p_start
        ):
            yield {
                "type": "window_late",
                "window": w.id,
                "start": clock.iso(w.start),
                "created_at": clock.iso(w.created_at),
            }


def _system_coverage(times: dict[str, ComponentTime], rules: Rules) -> dict[str, tuple[int, int]]:
    """Per system of the rules: (working µs, no-data µs) summed over its components."""
    out = {system: (0, 0) for system in rules.systems}
    for t in times.values():
        working, silent = out.get(t.system, (0, 0))
        out[t.system] = (working + iv.total(t.working), silent + iv.total(t.no_data))
    return out


def _low(working: int, silent: int, rules: Rules) -> bool:
    return working > 0 and Fraction(silent, working) > rules.max_no_data_share


def _coverage_flags(coverage: dict[str, tuple[int, int]], rules: Rules) -> Iterable[dict]:
    for system, (working, silent) in coverage.items():
        if _low(working, silent, rules):
            yield {
                "type": "low_coverage",
                "system": system,
                "no_data_share": float(Fraction(silent, working)),
                "threshold": float(rules.max_no_data_share),
            }


def _incident_flags(
    counted: list[Incident], reports: dict[str, dict[str, Any]], facts: Facts, rules: Rules
) -> Iterable[dict]:
    for incident in counted:
        if any(
            _timeliness(incident, rules, m, facts.as_of)[0] == "pending"
            for m in ("response", "restoration")
        ):
            yield {"type": "incident_pending", "incident": incident.id}
        if incident.restored_at is None:
            yield {"type": "incident_unrestored", "incident": incident.id}
            continue
        report = reports[incident.id]
        if report["status"] == "calendar_unknown":
            yield {"type": "calendar_unknown", "incident": incident.id, "year": report["year"]}
        elif report["status"] != "on_time":
            yield {
                "type": f"report_{report['status']}",
                "incident": incident.id,
                "deadline": report["deadline"],
            }


def _num(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)
