"""Facts for the table's rows that no probe sees: monthly figures, backups, inspection reports.

All three keys are optional and read only when the rules in force have an item that uses them,
so the default rules ignore them (and a malformed one cannot break the platform score):

```json
"monthly": {
  "call_answer_rate": {"value": "96.2%", "note": "话务系统月报"},
  "average_handling_time": 312,
  "org_filing": {"count": 0},
  "public_opinion": {"events": {"municipal_media": 1, "leadership_instruction": [2]}}
}
"backups": [{"component": "db-backup", "kind": "daily", "due": "…", "done_at": "…" | null}]
"inspection_reports": [{"month": "2026-10", "submitted_at": "…" | null, "complete": true}]
```

A `threshold` item's entry is its value (a number, or text such as "96.2%"; ratios are read
exactly), bare or as `{"value", "note"}`. An `events` item's entry is `{"events": {kind: n}}`
with each kind's count of occurrences, a kind whose deduction the center decides within a range
(视情节轻重) as the list of each occurrence's deduction; kinds left out count 0. An item with one
kind may say `{"count": n}` or just `n`. An item without an entry is not measured (never full
points in silence: it is flagged). Errors name the field, as for the rest of the facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from scoring.documents import describe, is_text
from scoring.rules import EventKind, ItemRule, Rules
from scoring.values import Errors, exact_number, instant_us

BACKUP_KINDS = ("daily", "monthly")
MAX_NOTE = 2000
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True)
class MonthlyFact:
    item: str
    value: Fraction | None = None  # threshold items
    counts: dict[str, int] = field(default_factory=dict)  # event kind → occurrences
    points: dict[str, tuple[Fraction, ...]] = field(default_factory=dict)  # range kinds
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Backup:
    component: str
    kind: str
    due: int
    done_at: int | None


@dataclass(frozen=True, slots=True)
class InspectionReport:
    month: str
    submitted_at: int | None
    complete: bool


def monthly_items(rules: Rules) -> dict[str, ItemRule]:
    return {item.key: item for item in rules.items if item.monthly}


def monthly_kinds(item: ItemRule) -> list[EventKind]:
    return [k for k in item.events if k.source == "monthly"]


def parse_monthly(raw: Any, rules: Rules, errors: Errors) -> dict[str, MonthlyFact]:
    """The `monthly` mapping, checked against the rules' items (keys are item keys)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.add("monthly", f"must be an object of item key to its fact, not {describe(raw)}")
        return {}
    items = monthly_items(rules)
    others = {i.key for i in rules.items}
    out = {}
    for key, entry in raw.items():
        path = f"monthly.{key}"
        item = items.get(key)
        if item is None:
            why = (
                "is computed from the outages and incidents, not from monthly facts"
                if key in others
                else f"is not a monthly item of the rules {rules.id!r}"
            )
            errors.add(path, why)
            continue
        fact = parse_entry(item, entry, path, errors)
        if fact is not None:
            out[key] = fact
    return out


def parse_entry(item: ItemRule, entry: Any, path: str, errors: Errors) -> MonthlyFact | None:
    """One item's monthly fact; None (with errors added) when it is not valid."""
    note = None
    if isinstance(entry, dict):
        note = entry.get("note")
        if note is not None and (not is_text(note) or len(note) > MAX_NOTE):
            errors.add(f"{path}.note", f"must be text of at most {MAX_NOTE} characters")
            return None
    if item.measure == "threshold":
        value = entry.get("value") if isinstance(entry, dict) else entry
        vpath = f"{path}.value" if isinstance(entry, dict) else path
        number = threshold_value(item, value, vpath, errors)
        return None if number is None else MonthlyFact(item.key, value=number, note=note)
    kinds = monthly_kinds(item)
    if isinstance(entry, dict) and "events" in entry:
        given = entry["events"]
        if not isinstance(given, dict):
            errors.add(
                f"{path}.events", f"must be an object of event kind to count, not {describe(given)}"
            )
            return None
        base, shorthand = f"{path}.events", False
    else:
        counted = [k for k in kinds if k.points_range is None]
        if len(kinds) != 1 or len(counted) != 1:
            names = ", ".join(k.key for k in kinds)
            errors.add(path, f'must be {{"events": {{kind: count}}}} (kinds: {names})')
            return None
        count = entry.get("count") if isinstance(entry, dict) else entry
        given, shorthand = {kinds[0].key: count}, True
        base = f"{path}.count" if isinstance(entry, dict) else path
    by_key = {k.key: k for k in kinds}
    counts: dict[str, int] = {}
    points: dict[str, tuple[Fraction, ...]] = {}
    ok = True
    for kind_key, value in given.items():
        kpath = base if shorthand else f"{base}.{kind_key}"
        kind = by_key.get(kind_key)
        if kind is None:
            errors.add(kpath, f"unknown event kind (kinds: {', '.join(by_key)})")
            ok = False
        elif kind.points_range is not None:
            parsed = _points(value, kind, kpath, errors)
            ok &= parsed is not None
            if parsed is not None:
                points[kind_key] = parsed
        else:
            count = occurrences(value, kpath, errors)
            ok &= count is not None
            if count is not None:
                counts[kind_key] = count
    return MonthlyFact(item.key, counts=counts, points=points, note=note) if ok else None


def threshold_value(item: ItemRule, value: Any, path: str, errors: Errors) -> Fraction | None:
    if value is None:
        errors.add(path, "required, the item's value for the month")
        return None
    try:
        number = exact_number(value)
    except ValueError as exc:
        errors.add(path, str(exc))
        return None
    if item.unit == "ratio" and not 0 <= number <= 1:
        errors.add(path, f"must be a ratio from 0 to 1 (0.962 or 96.2%), not {describe(value)}")
        return None
    if number < 0:
        errors.add(path, "must not be negative")
        return None
    return number


def occurrences(value: Any, path: str, errors: Errors) -> int | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet's 2.0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
        errors.add(path, f"must be a whole number of occurrences from 0, not {describe(value)}")
        return None
    return value


def _points(value: Any, kind: EventKind, path: str, errors: Errors) -> tuple[Fraction, ...] | None:
    assert kind.points_range is not None
    low, high = kind.points_range
    wanted = f"a list of each occurrence's deduction, from {float(low):g} to {float(high):g}"
    if not isinstance(value, list) or len(value) > 10_000:
        errors.add(path, f"must be {wanted}, not {describe(value)}")
        return None
    out = []
    for i, entry in enumerate(value):
        try:
            number = exact_number(entry)
        except ValueError as exc:
            errors.add(f"{path}[{i}]", str(exc))
            return None
        if not low <= number <= high:
            errors.add(f"{path}[{i}]", f"must be from {float(low):g} to {float(high):g}")
            return None
        out.append(number)
    return tuple(out)


def parse_backups(raw: Any, errors: Errors) -> tuple[Backup, ...] | None:
    """The collector's `backups` (None when the key is absent: not measured)."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        errors.add("backups", f"must be a list, not {describe(raw)}")
        return None
    out = []
    for i, entry in enumerate(raw):
        path = f"backups[{i}]"
        if not isinstance(entry, dict):
            errors.add(path, f"must be an object, not {describe(entry)}")
            continue
        ok = True
        component = entry.get("component")
        if not is_text(component) or not component:
            errors.add(
                f"{path}.component", f"required, a non-empty string, not {describe(component)}"
            )
            ok = False
        kind = entry.get("kind")
        if kind not in BACKUP_KINDS:
            errors.add(
                f"{path}.kind", f"must be one of {', '.join(BACKUP_KINDS)}, not {describe(kind)}"
            )
            ok = False
        due = _instant(entry, "due", path, errors, required=True)
        done_at = _instant(entry, "done_at", path, errors, required=False)
        if ok and due is not None and (done_at is not None or entry.get("done_at") is None):
            out.append(Backup(str(component), str(kind), due, done_at))
    return tuple(out)


def parse_inspection_reports(raw: Any, errors: Errors) -> tuple[InspectionReport, ...] | None:
    """The collector's `inspection_reports` (None when the key is absent: not measured)."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        errors.add("inspection_reports", f"must be a list, not {describe(raw)}")
        return None
    out = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        path = f"inspection_reports[{i}]"
        if not isinstance(entry, dict):
            errors.add(path, f"must be an object, not {describe(entry)}")
            continue
        month = entry.get("month")
        ok = True
        if not isinstance(month, str) or not _MONTH.fullmatch(month):
            errors.add(f"{path}.month", f"must be a month (YYYY-MM), not {describe(month)}")
            ok = False
        elif month in seen:
            errors.add(f"{path}.month", f"a second report for {month}")
            ok = False
        complete = entry.get("complete")
        if not isinstance(complete, bool):
            errors.add(f"{path}.complete", f"required, true or false, not {describe(complete)}")
            ok = False
        submitted = _instant(entry, "submitted_at", path, errors, required=False)
        if entry.get("submitted_at") is not None and submitted is None:
            ok = False
        if ok and isinstance(month, str) and isinstance(complete, bool):
            seen.add(month)
            out.append(InspectionReport(month, submitted, complete))
    return tuple(out)


def _instant(
    entry: dict[str, Any], key: str, path: str, errors: Errors, required: bool
) -> int | None:
    value = entry.get(key)
    if value is None:
        if required:
            errors.add(f"{path}.{key}", "required, an ISO instant with an offset")
        return None
    try:
        return instant_us(value)
    except ValueError as exc:
        errors.add(f"{path}.{key}", str(exc))
        return None
