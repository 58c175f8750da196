"""Facts: the month's components, outages, windows and incidents, validated.

The facts document is the scorer's only input (SPEC "Facts"). Every problem is reported with
its field path (`outages[3].end: not an ISO instant with an offset`) and nothing is silently
fixed: an unknown component, a reversed interval, a window without an end, a duplicate id or an
`as_of` before the month are errors. Unknown keys are ignored, so a newer collector's facts
still score. Instants become integer microseconds since the epoch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scoring.documents import DocumentError, describe, is_text, load_json
from scoring.intervals import IntervalSet, merge
from scoring.monthly import (
    Backup,
    InspectionReport,
    MonthlyFact,
    parse_backups,
    parse_inspection_reports,
    parse_monthly,
)
from scoring.rules import Rules
from scoring.values import (
    EPOCH,
    MAX_YEAR,
    MIN_YEAR,
    US,
    Errors,
    InputError,
    instant_us,
    paused_gc,
)

ALL_COMPONENTS = "*"
_NONE = type(None)
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


class FactsError(InputError):
    """The facts are invalid; each line of `errors` names the field."""


@dataclass(frozen=True, slots=True)
class Component:
    id: str
    system: str
    working: IntervalSet | None = None  # None: all of the period
    since: int | None = None
    until: int | None = None


@dataclass(slots=True)  # not frozen: a million of these are built, and frozen init is slow
class Outage:
    index: int
    component: str
    start: int
    end: int | None
    raw: dict[str, Any]  # the entry as given, shown as evidence
    excluded: dict[str, str] | None = None

    @property
    def start_text(self) -> str:
        return self.raw["start"]

    @property
    def end_text(self) -> str | None:
        return self.raw.get("end")


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    id: str
    start: int
    end: int
    components: tuple[str, ...]  # ("*",) for all
    created_at: int | None = None
    raw: dict[str, Any] | None = None

    def covers(self, component: str) -> bool:
        return ALL_COMPONENTS in self.components or component in self.components


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    components: tuple[str, ...]
    severity: str
    severity_given: bool
    detected_at: int
    responded_at: int | None
    restored_at: int | None
    report_submitted_at: int | None


@dataclass(frozen=True, slots=True)
class NoData:
    component: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Facts:
    month: str
    month_start: int
    month_end: int
    as_of: int
    components: tuple[Component, ...]
    outages: tuple[Outage, ...]
    windows: tuple[MaintenanceWindow, ...]
    incidents: tuple[Incident, ...]
    no_data: tuple[NoData, ...]
    # Read only for rules whose items use them (`scoring.monthly`); None: the key was absent.
    monthly: dict[str, MonthlyFact] = field(default_factory=dict)
    backups: tuple[Backup, ...] | None = None
    inspection_reports: tuple[InspectionReport, ...] | None = None

    @property
    def period(self) -> tuple[int, int]:
        """P: the month, or the month to date when `as_of` falls inside it."""
        return self.month_start, min(self.month_end, max(self.as_of, self.month_start))


def read_facts_json(text: str | bytes, name: str) -> Any:
    """Parse a facts document's JSON text strictly (duplicate keys, deep nesting, huge numbers
    and non-UTF-8 bytes are errors); the result still goes through `parse_facts`."""
    try:
        return load_json(text, name)
    except DocumentError as exc:
        raise FactsError(exc.errors) from None


def month_bounds(month: str, rules: Rules) -> tuple[int, int]:
    """The local calendar month as [start, end) in microseconds since the epoch.

    Months from 1970-01 to 2199-12 are accepted (the instant range, `scoring.values`)."""
    match = _MONTH.fullmatch(month)
    if not match:
        raise ValueError("not a month (YYYY-MM)")
    year, number = int(match.group(1)), int(match.group(2))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"outside the accepted range {MIN_YEAR}-01 to {MAX_YEAR}-12")
    start = datetime(year, number, 1, tzinfo=rules.tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=rules.tz)
    return (start - EPOCH) // US, (end - EPOCH) // US


def parse_facts(data: Any, rules: Rules, now_us: int | None = None) -> Facts:
    """Validate a facts document. `now_us` stands in for a missing `as_of` (the CLI's clock)."""
    with paused_gc():
        return _parse_facts(data, rules, now_us)


def _parse_facts(data: Any, rules: Rules, now_us: int | None) -> Facts:
    errors = Errors()
    if not isinstance(data, dict):
        raise FactsError(["(top): expected a JSON object with month, components, outages, …"])

    month = data.get("month")
    month_start = month_end = 0
    try:
        month_start, month_end = month_bounds(month if isinstance(month, str) else "", rules)
    except ValueError as exc:
        errors.add(
            "month",
            str(exc) if isinstance(month, str) else f"not a month (YYYY-MM), {describe(month)}",
        )

    as_of = _instant(data, "as_of", "as_of", errors, required=False)
    if as_of is None:
        if "as_of" in data and data["as_of"] is not None:
            pass  # already reported
        elif now_us is None:
            errors.add("as_of", "required when no clock is given")
        else:
            as_of = now_us
    if as_of is not None and month_start and as_of < month_start:
        errors.add("as_of", "before the month starts")

    components = _components(data.get("components"), rules, errors)
    known = {c.id for c in components}
    outages = _outages(data.get("outages", []), known, errors)
    windows = _windows(data.get("maintenance_windows", []), known, errors)
    incidents = _incidents(data.get("incidents", []), known, rules, errors)
    no_data = _no_data(data.get("no_data", []), known, errors)
    # The table's other rows: read only when an item of the rules uses them, so rules without
    # such items (the defaults) ignore these keys entirely.
    sources = rules.sources()
    monthly = parse_monthly(data.get("monthly"), rules, errors) if "monthly" in sources else {}
    backups = parse_backups(data.get("backups"), errors) if "backup_missed" in sources else None
    inspection_reports = (
        parse_inspection_reports(data.get("inspection_reports"), errors)
        if sources & {"inspection_report_late", "inspection_report_incomplete"}
        else None
    )

    errors.raise_if_any(FactsError)
    assert isinstance(month, str) and as_of is not None  # no errors: both were read
    return Facts(
        month=month,
        month_start=month_start,
        month_end=month_end,
        as_of=as_of,
        components=tuple(components),
        outages=tuple(outages),
        windows=tuple(windows),
        incidents=tuple(incidents),
        no_data=tuple(no_data),
        monthly=monthly,
        backups=backups,
        inspection_reports=inspection_reports,
    )


def _instant(
    obj: dict[str, Any], key: str, path: str, errors: Errors, required: bool
) -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            errors.add(path, "required" if key not in obj else "must not be null")
        return None
    try:
        return instant_us(value)
    except ValueError as exc:
        errors.add(path, str(exc))
        return None


def _list(value: Any, path: str, errors: Errors) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, f"must be a list, not {describe(value)}")
        return []
    return value


def _entries(value: Any, path: str, errors: Errors):
    for i, entry in enumerate(_list(value, path, errors)):
        if isinstance(entry, dict):
            yield i, f"{path}[{i}]", entry
        else:
            errors.add(f"{path}[{i}]", f"must be an object, not {describe(entry)}")


def _components(value: Any, rules: Rules, errors: Errors) -> list[Component]:
    if value is None:
        errors.add("components", "required (a list, possibly empty)")
    out: list[Component] = []
    seen: set[str] = set()
    for _, path, entry in _entries(value, "components", errors):
        cid = entry.get("id")
        if not is_text(cid) or not cid:
            errors.add(f"{path}.id", f"required, a non-empty string, not {describe(cid)}")
            continue
        if cid == ALL_COMPONENTS:
            errors.add(f"{path}.id", "'*' is reserved for 'all components' in windows")
            continue
        if cid in seen:
            errors.add(f"{path}.id", f"duplicate component id {cid!r}")
            continue
        seen.add(cid)
        system = entry.get("system")
        if not isinstance(system, str) or system not in rules.systems:
            errors.add(
                f"{path}.system",
                f"must be one of {', '.join(rules.systems)}, not {describe(system)}",
            )
            continue
        working = None
        if entry.get("working") is not None:
            spans = []
            for _, wpath, span in _entries(entry["working"], f"{path}.working", errors):
                interval = _interval(span, wpath, errors, open_end=False)
                if interval:
                    spans.append(interval)
            working = merge(spans)
        since = _instant(entry, "since", f"{path}.since", errors, required=False)
        until = _instant(entry, "until", f"{path}.until", errors, required=False)
        if since is not None and until is not None and until < since:
            errors.add(f"{path}.until", "before since")
        out.append(Component(cid, system, working, since, until))
    return out


def _interval(entry: dict[str, Any], path: str, errors: Errors, open_end: bool) -> tuple | None:
    start = _instant(entry, "start", f"{path}.start", errors, required=True)
    if open_end:
        end = _instant(entry, "end", f"{path}.end", errors, required=False)
    else:
        if entry.get("end") is None:
            errors.add(f"{path}.end", "required (an interval here must have an end)")
            return None
        end = _instant(entry, "end", f"{path}.end", errors, required=True)
    if start is None or (end is None and entry.get("end") is not None):
        return None
    if end is not None and end < start:
        errors.add(f"{path}.end", "before start")
        return None
    return start, end


def _known(component: Any, path: str, known: set[str], errors: Errors) -> bool:
    if not isinstance(component, str):
        errors.add(path, f"must be a component id (a string), not {describe(component)}")
        return False
    if component not in known:
        errors.add(path, f"unknown component {describe(component)} (not in components)")
        return False
    return True


def _outages(value: Any, known: set[str], errors: Errors) -> list[Outage]:
    out = []
    for i, path, entry in _entries(value, "outages", errors):
        fast = _plain_outage(i, entry, known)
        if fast is not None:
            out.append(fast)
            continue
        ok = _known(entry.get("component"), f"{path}.component", known, errors)
        interval = _interval(entry, path, errors, open_end=True)
        excluded = entry.get("excluded")
        if excluded is not None:
            if not isinstance(excluded, dict):
                errors.add(f"{path}.excluded", "must be an object with reason and approved_by")
                ok = False
            else:
                for key in ("reason", "approved_by"):
                    if not is_text(excluded.get(key)) or not excluded[key].strip():
                        errors.add(f"{path}.excluded.{key}", "required, a non-empty string")
                        ok = False
        if ok and interval:
            # The entry goes on as evidence with its plain values only: an unknown key may hold
            # anything (a structure nested a thousand deep, a lone surrogate).
            raw = _plain(entry)
            if excluded is not None:
                excluded = _plain(excluded)
                raw["excluded"] = excluded
            out.append(
                Outage(
                    index=i,
                    component=entry["component"],
                    start=interval[0],
                    end=interval[1],
                    raw=raw,
                    excluded=excluded,
                )
            )
    return out


def _plain_outage(index: int, entry: dict[str, Any], known: set[str]) -> Outage | None:
    """The common, valid outage without the error bookkeeping; None sends it the slow way."""
    for value in entry.values():  # only text and nulls: anything else goes the slow way
        kind = value.__class__
        if kind is str:
            if value.isascii() or is_text(value):
                continue
            return None
        if kind is not _NONE:
            return None
    component, start_text, end_text = entry.get("component"), entry.get("start"), entry.get("end")
    if not isinstance(component, str) or component not in known or "excluded" in entry:
        return None
    try:
        start = instant_us(start_text)
        end = None if end_text is None else instant_us(end_text)
    except ValueError:
        return None
    if end is not None and end < start:
        return None
    return Outage(index, component, start, end, entry)


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's values that can be shown as they are: text, small numbers, booleans, null."""
    return {k: v for k, v in entry.items() if _plain_value(v)}


def _plain_value(value: Any) -> bool:
    if value is None or isinstance(value, bool) or is_text(value):
        return True
    if isinstance(value, int):
        return abs(value) < 10**15
    return isinstance(value, float) and math.isfinite(value)


def _unique_id(value: Any, kind: str, path: str, seen: set[str], errors: Errors) -> bool:
    if not is_text(value) or not value:
        errors.add(f"{path}.id", f"required, a non-empty string, not {describe(value)}")
        return False
    if value in seen:
        errors.add(f"{path}.id", f"duplicate {kind} id {value!r}")
        return False
    seen.add(value)
    return True


def _windows(value: Any, known: set[str], errors: Errors) -> list[MaintenanceWindow]:
    out = []
    seen: set[str] = set()
    for _, path, entry in _entries(value, "maintenance_windows", errors):
        wid = entry.get("id")
        ok = _unique_id(wid, "window", path, seen, errors)
        interval = _interval(entry, path, errors, open_end=False)
        components = entry.get("components")
        if not isinstance(components, list) or not components:
            errors.add(
                f"{path}.components",
                f"required, a list of component ids or ['*'], not {describe(components)}",
            )
            ok = False
            components = []
        for j, component in enumerate(components):
            if component != ALL_COMPONENTS and not _known(
                component, f"{path}.components[{j}]", known, errors
            ):
                ok = False
        created_at = _instant(entry, "created_at", f"{path}.created_at", errors, required=False)
        if ok and interval:
            out.append(
                MaintenanceWindow(
                    wid, interval[0], interval[1], tuple(components), created_at, entry
                )
            )
    return out


def _incidents(value: Any, known: set[str], rules: Rules, errors: Errors) -> list[Incident]:
    out = []
    seen: set[str] = set()
    for _, path, entry in _entries(value, "incidents", errors):
        iid = entry.get("id")
        ok = _unique_id(iid, "incident", path, seen, errors)
        components = entry.get("components")
        if components is None:
            components = []
        if not isinstance(components, list):
            errors.add(
                f"{path}.components", f"must be a list of component ids, not {describe(components)}"
            )
            components, ok = [], False
        for j, component in enumerate(components):
            ok &= _known(component, f"{path}.components[{j}]", known, errors)
        severity = entry.get("severity")
        if severity is not None and (
            not isinstance(severity, str) or severity not in rules.severities
        ):
            errors.add(
                f"{path}.severity",
                f"must be one of {', '.join(rules.severities)} or null, not {describe(severity)}",
            )
            ok = False
        detected = _instant(entry, "detected_at", f"{path}.detected_at", errors, required=True)
        stamps = {}
        for key in ("responded_at", "restored_at", "report_submitted_at"):
            stamps[key] = _instant(entry, key, f"{path}.{key}", errors, required=False)
            if entry.get(key) is not None and stamps[key] is None:
                ok = False
        for key in ("responded_at", "restored_at"):
            stamp = stamps[key]
            if detected is not None and stamp is not None and stamp < detected:
                errors.add(f"{path}.{key}", "before detected_at")
                ok = False
        if ok and detected is not None:
            out.append(
                Incident(
                    id=iid,
                    components=tuple(components),
                    severity=severity if severity is not None else rules.default_severity,
                    severity_given=severity is not None,
                    detected_at=detected,
                    **stamps,
                )
            )
    return out


def _no_data(value: Any, known: set[str], errors: Errors) -> list[NoData]:
    out = []
    for _, path, entry in _entries(value, "no_data", errors):
        ok = _known(entry.get("component"), f"{path}.component", known, errors)
        interval = _interval(entry, path, errors, open_end=False)
        if ok and interval:
            out.append(NoData(entry["component"], interval[0], interval[1]))
    return out
