"""What the people's reports show beyond the JSON score: pure, exact, from facts and rules.

The JSON report carries each item's value, deduction and score; the HTML, XLSX, PDF and
Markdown reports also show where those numbers come from: every outage split into its fault and
maintenance parts, every maintenance window with the intervals it counted, each incident's
timeline, the month's timeline per system and the availability of each day. All of it is
derived here from the same per-component split the score uses (`score.component_times`), in
integer microseconds, so a day's fault seconds add up to the month's exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

from scoring import intervals as iv
from scoring.facts import Facts
from scoring.intervals import IntervalSet
from scoring.rules import ItemRule, Rules
from scoring.score import ComponentTime, component_times
from scoring.values import EPOCH, US


@dataclass(frozen=True, slots=True)
class OutageSplit:
    """One outage of the facts, as given and as counted."""

    index: int
    component: str
    system: str
    start: int
    end: int | None  # None: still open (counted to the end of the period)
    fault: IntervalSet  # the parts counted as fault (故障)
    maintenance: IntervalSet  # the parts inside a window covering the component (维护)
    not_working: int  # µs of the outage outside the period or the component's working time
    windows: tuple[str, ...]  # ids of the windows its maintenance part fell in
    excluded: dict[str, str] | None  # {"reason", "approved_by"} when an operator excluded it

    @property
    def fault_us(self) -> int:
        return iv.total(self.fault)

    @property
    def maintenance_us(self) -> int:
        return iv.total(self.maintenance)


@dataclass(frozen=True, slots=True)
class WindowUse:
    """A maintenance window and the downtime it counted as maintenance, per component."""

    id: str
    start: int
    end: int
    components: tuple[str, ...]
    created_at: int | None
    late: bool  # created after it started (flag `window_late`)
    counted: tuple[tuple[str, int, int], ...]  # (component, start, end)
    in_scope_us: int  # wall-clock union of the counted parts within the maintenance item's scope


@dataclass(frozen=True, slots=True)
class Day:
    start: int
    end: int
    working_us: int
    fault_us: int

    @property
    def availability(self) -> Fraction | None:
        return None if self.working_us == 0 else 1 - Fraction(self.fault_us, self.working_us)


@dataclass(frozen=True, slots=True)
class Lane:
    """One row of the month's timeline: a system or a component."""

    label: str
    system: str
    working: IntervalSet
    fault: IntervalSet
    maintenance: IntervalSet
    no_data: IntervalSet


@dataclass(slots=True)
class Breakdown:
    period: tuple[int, int]
    outages: list[OutageSplit] = field(default_factory=list)
    windows: list[WindowUse] = field(default_factory=list)
    daily: dict[str, list[Day]] = field(default_factory=dict)  # availability item key → days
    system_lanes: list[Lane] = field(default_factory=list)
    component_lanes: list[Lane] = field(default_factory=list)
    components_total: int = 0  # how many components the facts have (lanes may be fewer)


MAX_COMPONENT_LANES = 40


def breakdown(facts: Facts, rules: Rules) -> Breakdown:
    """Everything the reports draw and list beyond the JSON, for the facts' period."""
    p_start, p_end = facts.period
    times = component_times(facts, p_start, p_end)
    out = Breakdown(period=(p_start, p_end), components_total=len(times))
    out.outages = _outage_splits(facts, times, p_start, p_end)
    maintenance_item = next((i for i in rules.items if i.measure == "maintenance"), None)
    scope = set(maintenance_item.systems) if maintenance_item else set()
    out.windows = _window_uses(facts, times, p_start, p_end, scope)
    days = day_bounds(facts, rules)
    for item in rules.items:
        if item.measure == "availability":
            out.daily[item.key] = daily_availability(item, times, facts, days)
    out.system_lanes, out.component_lanes = _lanes(times, rules)
    return out


def day_bounds(facts: Facts, rules: Rules) -> list[tuple[int, int]]:
    """The local calendar days of the period (the last one cut at `as_of` while running)."""
    p_start, p_end = facts.period
    tz = rules.tz
    day = (EPOCH + timedelta(microseconds=facts.month_start)).astimezone(tz).date()
    bounds = []
    start = p_start
    while start < p_end:
        day += timedelta(days=1)
        end = (datetime(day.year, day.month, day.day, tzinfo=tz) - EPOCH) // US
        bounds.append((start, min(end, p_end)))
        start = end
    return bounds


def _outage_splits(
    facts: Facts, times: dict[str, ComponentTime], p_start: int, p_end: int
) -> list[OutageSplit]:
    rows = []
    for outage in facts.outages:
        end = outage.end if outage.end is not None else p_end
        if not (outage.start < p_end and end > p_start):
            continue
        t = times[outage.component]
        span = [(outage.start, end)] if end > outage.start else []
        excluded = outage.excluded
        fault = [] if excluded else iv.intersect(span, t.fault)
        maintenance = [] if excluded else iv.intersect(span, t.maintenance)
        counted = iv.total(iv.intersect(span, t.working))
        windows = tuple(
            w.id
            for w in facts.windows
            if maintenance
            and w.covers(outage.component)
            and iv.intersect(maintenance, [(w.start, w.end)])
        )
        rows.append(
            OutageSplit(
                index=outage.index,
                component=outage.component,
                system=t.system,
                start=outage.start,
                end=outage.end,
                fault=fault,
                maintenance=maintenance,
                not_working=iv.total(span) - counted,
                windows=windows,
                excluded=excluded,
            )
        )
    return rows


def _window_uses(
    facts: Facts,
    times: dict[str, ComponentTime],
    p_start: int,
    p_end: int,
    scope: set[str],
) -> list[WindowUse]:
    rows = []
    for w in facts.windows:
        if not (w.start < p_end and w.end > p_start):
            continue
        counted: list[tuple[str, int, int]] = []
        in_scope: list[tuple[int, int]] = []
        for t in times.values():
            if not w.covers(t.id):
                continue
            for s, e in iv.clip(t.maintenance, w.start, w.end):
                counted.append((t.id, s, e))
                if t.system in scope:
                    in_scope.append((s, e))
        counted.sort(key=lambda c: (c[1], c[0]))
        rows.append(
            WindowUse(
                id=w.id,
                start=w.start,
                end=w.end,
                components=w.components,
                created_at=w.created_at,
                late=w.created_at is not None and w.created_at > w.start,
                counted=tuple(counted),
                in_scope_us=iv.union_length(in_scope),
            )
        )
    return rows


def daily_availability(
    item: ItemRule,
    times: dict[str, ComponentTime],
    facts: Facts,
    days: list[tuple[int, int]],
) -> list[Day]:
    """The item's working and fault time per day, aggregated as the item aggregates the month:
    the days' sums equal the item's `working_seconds` and `fault_seconds` exactly."""
    members = [t for t in times.values() if t.system in item.systems]
    origin = facts.month_start
    p_start, p_end = facts.period

    def grain(spans: IntervalSet) -> IntervalSet:
        return iv.snap_outward(spans, item.granularity_us, origin)

    if not members:
        return []
    workings = [grain(t.working) for t in members]
    faults = [iv.intersect(grain(t.fault), w) for t, w in zip(members, workings, strict=True)]
    if item.aggregation == "sum":
        working_sets, fault_sets = workings, faults
    else:
        period = grain([(p_start, p_end)])
        if item.aggregation == "union":
            down = iv.union(*faults)
        else:
            down = iv.intersect_all(
                [iv.union(f, iv.subtract(period, w)) for f, w in zip(faults, workings, strict=True)]
            )
            down = iv.intersect(down, iv.union(*workings))
        working_sets, fault_sets = [period], [iv.intersect(down, period)]
    # A grain may reach past the period's end (minute granularity, as_of inside a minute): the
    # last day takes it, as the month's total does.
    bounds = list(days)
    if bounds:
        hi = max([bounds[-1][1], *(s[-1][1] for s in working_sets if s)])
        bounds[-1] = (bounds[-1][0], hi)
        lo = min([bounds[0][0], *(s[0][0] for s in working_sets if s)])
        bounds[0] = (lo, bounds[0][1])
    out = []
    for lo, hi in bounds:
        working = sum(iv.total(iv.clip(s, lo, hi)) for s in working_sets)
        fault = sum(iv.total(iv.clip(s, lo, hi)) for s in fault_sets)
        out.append(
            Day(start=max(lo, p_start), end=min(hi, p_end), working_us=working, fault_us=fault)
        )
    return out


def _lanes(times: dict[str, ComponentTime], rules: Rules) -> tuple[list[Lane], list[Lane]]:
    """A lane per system (fault first, then maintenance, then no data, where components differ)
    and a lane per component (all of them when few, else those with something to show)."""
    by_system: dict[str, list[ComponentTime]] = {}
    for t in times.values():
        by_system.setdefault(t.system, []).append(t)
    order = [s for s in rules.systems if s in by_system] + [
        s for s in by_system if s not in rules.systems
    ]
    systems = []
    for system in order:
        members = by_system[system]
        fault = iv.union(*(t.fault for t in members))
        maintenance = iv.subtract(iv.union(*(t.maintenance for t in members)), fault)
        no_data = iv.subtract(iv.union(*(t.no_data for t in members)), iv.union(fault, maintenance))
        systems.append(
            Lane(
                label=rules.systems.get(system, system),
                system=system,
                working=iv.union(*(t.working for t in members)),
                fault=fault,
                maintenance=maintenance,
                no_data=no_data,
            )
        )
    ordered = [t for s in order for t in by_system[s]]
    if len(ordered) > MAX_COMPONENT_LANES:
        ordered = [t for t in ordered if t.fault or t.maintenance or t.no_data]
    components = [
        Lane(
            label=t.id,
            system=t.system,
            working=t.working,
            fault=t.fault,
            maintenance=t.maintenance,
            no_data=iv.subtract(t.no_data, iv.union(t.fault, t.maintenance)),
        )
        for t in ordered[:MAX_COMPONENT_LANES]
    ]
    return systems, components
