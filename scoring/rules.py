"""Scoring rules: the YAML the purchaser may change, read and validated into exact values.

The default `changsha-12345` rules ship inside this package (`scoring/rules/`), with
`changsha-12345-full` (the whole 100-point table); a user copies one from `configs/rules/`, edits
it and passes `--rules FILE` (or a shipped set's bare name). Unknown keys are errors: a misspelt
`tagret:` must not silently leave the default in force.

Besides the platform measures computed from outages and incidents, two measures score the
table's other rows: `threshold` (a monthly figure against a target, a deduction per started step
past it) and `events` (a deduction per occurrence of each kind of event; a kind may take the
whole item, 不得分). Event kinds are counted from the facts' `monthly` entries or, for the
inspection report and backups, from the collector's `inspection_reports` and `backups`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scoring.documents import DocumentError, describe, is_text, load_yaml
from scoring.values import MAX_YEAR, MIN_YEAR, Errors, InputError, duration_us, exact_number

DEFAULT_RULES = "changsha-12345"

MEASURES = ("availability", "maintenance", "response", "restoration", "threshold", "events")
# Where an event kind's count comes from: the facts' `monthly` entries, or the collector's facts.
SOURCES = ("monthly", "inspection_report_late", "inspection_report_incomplete", "backup_missed")
UNITS = ("ratio", "seconds", "number")  # a threshold item's value
DIRECTIONS = ("at_least", "at_most")
_SHIPPED_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
AGGREGATIONS = ("sum", "union", "all")
ROUNDINGS = ("ceil", "floor", "linear")
# The grain durations are counted in. `second` keeps the facts' instants exactly (to the
# microsecond); `minute` counts every minute a fault touches as a whole fault minute.
GRANULARITIES = {"second": 1, "minute": 60_000_000}
# The written report's deadline in working days: a bound keeps the day-by-day walk short.
MAX_WORKING_DAYS = 60


class RulesError(InputError):
    """The rules file is unreadable or invalid; each line names the key."""


@dataclass(frozen=True, slots=True)
class SeverityLimits:
    response_us: int
    restoration_us: int


@dataclass(frozen=True, slots=True)
class EventKind:
    """One kind of event an `events` item deducts for.

    `deduction` per occurrence; None takes the whole item (不得分, 扣完). With `points_range`
    the hotline center decides each occurrence's deduction within it (视情节轻重扣1至2分) and
    the monthly facts give it.
    """

    key: str
    name: str
    deduction: Fraction | None
    source: str = "monthly"
    points_range: tuple[Fraction, Fraction] | None = None


@dataclass(frozen=True, slots=True)
class ItemRule:
    key: str
    name: str
    measure: str
    max_points: Fraction
    deduction_per_step: Fraction
    step_rounding: str
    granularity_us: int
    systems: tuple[str, ...] = ()
    aggregation: str = "sum"
    target: Fraction = Fraction(1)
    step: Fraction = Fraction(1, 100)
    limit_hours: Fraction = Fraction(1)
    step_hours: Fraction = Fraction(1, 2)
    report_deduction: Fraction = Fraction(0)
    section: str | None = None  # the table's 考核内容 (制度建设, 人员建设, …)
    standard: str | None = None  # the table's 扣罚标准, shown to people
    unit: str = "ratio"  # threshold: ratio | seconds | number
    direction: str = "at_least"  # threshold: the value must be at least / at most the target
    forfeit_at_zero: bool = False  # threshold: a value of 0 takes the whole item (未提交…扣完)
    events: tuple[EventKind, ...] = ()

    @property
    def monthly(self) -> bool:
        """Whether the item reads the facts' `monthly` entries."""
        return self.measure == "threshold" or any(k.source == "monthly" for k in self.events)


@dataclass(frozen=True, slots=True)
class CalendarYear:
    """A year's working-day exceptions, for a year chinesecalendar does not know."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str = ""


@dataclass(frozen=True, slots=True)
class Rules:
    id: str
    name: str
    timezone: str
    systems: dict[str, str]
    items: tuple[ItemRule, ...]
    severities: dict[str, SeverityLimits]
    default_severity: str
    report_working_days: int
    max_no_data_share: Fraction
    calendar_years: dict[int, CalendarYear] = field(default_factory=dict)
    # The monthly inspection report (巡检报告) is due by the end of this calendar day of the
    # next month, local time (每月第一周: the 7th).
    inspection_due_day: int = 7

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sections(self) -> tuple[str, ...]:
        """The items' sections in the order they first appear (empty: the rules have none)."""
        return tuple(dict.fromkeys(i.section for i in self.items if i.section is not None))

    def sources(self) -> set[str]:
        """The event sources the enabled items read (`monthly` also for threshold items)."""
        out = {k.source for i in self.items for k in i.events}
        if any(i.measure == "threshold" for i in self.items):
            out.add("monthly")
        return out


def shipped_rules(name: str) -> str | None:
    """The text of a rule set shipped in this package (`changsha-12345-full`), else None."""
    if not _SHIPPED_NAME.fullmatch(name):
        return None
    resource = resources.files("scoring") / "rules" / f"{name}.yaml"
    return resource.read_text("utf-8") if resource.is_file() else None


def load_rules(
    path: str | Path | None = None, calendar_files: tuple[str | Path, ...] = ()
) -> Rules:
    """Read rules from `path` (default: the shipped changsha-12345) plus calendar overrides.

    A `path` that names no file but a shipped rule set (`changsha-12345-full`) reads that one."""
    builtin = str(path if path is not None else DEFAULT_RULES)
    text_or_none = None if path is not None and Path(path).exists() else shipped_rules(builtin)
    if text_or_none is not None:
        text, name, base = text_or_none, f"<built-in {builtin}>", None
    else:
        assert path is not None  # the default rules are always shipped
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise RulesError([f"{path}: cannot read ({exc.strerror})"]) from None
        except UnicodeDecodeError as exc:
            raise RulesError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
        name, base = str(path), path.parent
    data = _parse_yaml(text, name)
    rules = parse_rules(data)
    calendar = data.get("calendar") or {}  # parse_rules checked it: a mapping, overrides a list
    override_paths = [
        (base / p if base is not None else Path(p)) for p in calendar.get("overrides") or []
    ]
    override_paths += [Path(p) for p in calendar_files]
    if override_paths:
        years = dict(rules.calendar_years)
        for override in override_paths:
            year = load_calendar_year(override)
            years[year.year] = year
        rules = _replace(rules, calendar_years=years)
    return rules


def _replace(rules: Rules, **changes: Any) -> Rules:
    values = {f: getattr(rules, f) for f in rules.__dataclass_fields__}
    values.update(changes)
    return Rules(**values)


def _parse_yaml(text: str, name: str) -> dict[str, Any]:
    """One YAML mapping; duplicate keys, alias bombs and deep nesting are errors."""
    try:
        data = load_yaml(text, name)
    except DocumentError as exc:
        raise RulesError(exc.errors) from None
    if not isinstance(data, dict):
        raise RulesError([f"{name}: expected a mapping of rule settings at the top"])
    return data


_TOP_KEYS = {
    "id", "name", "timezone", "granularity", "systems", "severities", "written_report",
    "calendar", "coverage", "items", "inspection_reports",
}  # fmt: skip
_ITEM_KEYS = {
    "availability": {"systems", "aggregation", "target", "step", "step_rounding"},
    "maintenance": {"systems", "limit_hours", "step_hours", "step_rounding"},
    "response": {"target", "step", "step_rounding", "report_deduction"},
    "restoration": {"target", "step", "step_rounding"},
    "threshold": {
        "unit", "direction", "target", "step", "step_rounding", "forfeit_at_zero",
        "deduction_per_step",
    },
    "events": {"events"},
}  # fmt: skip
_COMMON_ITEM_KEYS = {"name", "measure", "max_points", "section", "standard", "enabled"}
_PLATFORM_ITEM_KEYS = {"deduction_per_step", "granularity"}
_EVENT_KEYS = {"name", "deduction", "source"}


def parse_rules(data: dict[str, Any]) -> Rules:
    """Validate a rules mapping; every problem is reported with its key path."""
    errors = Errors()
    for key in data:
        if key not in _TOP_KEYS:
            errors.add(_key(key), "unknown key")

    rule_id = _text(data.get("id"), "id", errors, required=True)
    name = _text(data.get("name", rule_id), "name", errors) or rule_id
    timezone = data.get("timezone", "Asia/Shanghai")
    if not is_text(timezone) or not _zone_ok(timezone):
        errors.add("timezone", f"unknown time zone {describe(timezone)}")
        timezone = "UTC"
    granularity = data.get("granularity", "second")
    if not isinstance(granularity, str) or granularity not in GRANULARITIES:
        errors.add("granularity", f"must be one of {', '.join(GRANULARITIES)}")
        granularity = "second"

    systems: dict[str, str] = {}
    raw_systems = data.get("systems")
    if not isinstance(raw_systems, dict) or not raw_systems:
        errors.add("systems", "required, a mapping of system key to its Chinese label")
        raw_systems = {}
    for key, label in raw_systems.items():
        if not is_text(key) or not key:
            errors.add(f"systems.{_key(key)}", "a system key must be a non-empty string")
        elif (text := _text(label, f"systems.{key}", errors, required=True)) is not None:
            systems[key] = text

    severities, default_severity = _parse_severities(data.get("severities"), errors)
    report = _mapping(data.get("written_report"), "written_report", errors)
    working_days = report.get("working_days", 2)
    if (
        not isinstance(working_days, int)
        or isinstance(working_days, bool)
        or not 0 <= working_days <= MAX_WORKING_DAYS
    ):
        errors.add(
            "written_report.working_days", f"must be a whole number from 0 to {MAX_WORKING_DAYS}"
        )
        working_days = 2
    coverage = _mapping(data.get("coverage"), "coverage", errors)
    max_share = _ratio(
        coverage.get("max_no_data_share", "0.05"), "coverage.max_no_data_share", errors
    )
    calendar = _mapping(data.get("calendar"), "calendar", errors)
    overrides = calendar.get("overrides") or []
    if not isinstance(overrides, list) or not all(is_text(p) and p for p in overrides):
        errors.add("calendar.overrides", "must be a list of file paths")

    inspection = _mapping(data.get("inspection_reports"), "inspection_reports", errors)
    for key in inspection:
        if key != "due_day":
            errors.add(f"inspection_reports.{_key(key)}", "unknown key")
    due_day = inspection.get("due_day", 7)
    if not isinstance(due_day, int) or isinstance(due_day, bool) or not 1 <= due_day <= 28:
        errors.add("inspection_reports.due_day", "must be a day of the month from 1 to 28")
        due_day = 7

    items = _parse_items(data.get("items"), systems, GRANULARITIES[granularity], errors)
    if not items and isinstance(data.get("items"), dict) and data["items"]:
        errors.add("items", "every item is disabled (enabled: false)")
    errors.raise_if_any(RulesError)
    assert rule_id is not None and name is not None  # no errors: both were read
    return Rules(
        id=rule_id,
        name=name,
        timezone=str(timezone),
        systems=systems,
        items=tuple(items),
        severities=severities,
        default_severity=default_severity,
        report_working_days=working_days,
        max_no_data_share=max_share,
        inspection_due_day=due_day,
    )


def _parse_severities(raw: Any, errors: Errors) -> tuple[dict[str, SeverityLimits], str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("limits"), dict) or not raw["limits"]:
        errors.add(
            "severities.limits", "required, a mapping like P1: {response: 15m, restoration: 2h}"
        )
        return {}, "P2"
    for key in raw:
        if key not in ("default", "limits"):
            errors.add(f"severities.{_key(key)}", "unknown key")
    out: dict[str, SeverityLimits] = {}
    for name, limits in raw["limits"].items():
        path = f"severities.limits.{_key(name)}"
        if not is_text(name) or not name:
            errors.add(path, "a severity must be a non-empty string (quote it: '1')")
            continue
        if not isinstance(limits, dict):
            errors.add(path, "must be a mapping with response and restoration")
            continue
        for key in limits:
            if key not in ("response", "restoration"):
                errors.add(f"{path}.{_key(key)}", "unknown key")
        values = {}
        for key in ("response", "restoration"):
            try:
                values[key] = duration_us(limits.get(key))
            except ValueError as exc:
                errors.add(f"{path}.{key}", str(exc))
        if len(values) == 2:
            out[name] = SeverityLimits(values["response"], values["restoration"])
    default = raw.get("default", "P2")
    if not isinstance(default, str) or default not in raw["limits"]:
        errors.add(
            "severities.default", f"{describe(default)} is not among the severities {sorted(out)}"
        )
        default = "P2"
    return out, default


def _parse_items(
    raw: Any, systems: dict[str, str], granularity_us: int, errors: Errors
) -> list[ItemRule]:
    """The enabled items (`enabled: false` ones are checked, then left out)."""
    if not isinstance(raw, dict) or not raw:
        errors.add("items", "required, a mapping of item key to its settings")
        return []
    items = []
    for key, spec in raw.items():
        path = f"items.{_key(key)}"
        if not is_text(key) or not key:
            errors.add(path, "an item key must be a non-empty string")
            continue
        if not isinstance(spec, dict):
            errors.add(path, "must be a mapping of settings")
            continue
        measure = spec.get("measure")
        if not isinstance(measure, str) or measure not in MEASURES:
            errors.add(f"{path}.measure", f"must be one of {', '.join(MEASURES)}")
            continue
        allowed = _COMMON_ITEM_KEYS | _ITEM_KEYS[measure]
        if measure in ("availability", "maintenance", "response", "restoration"):
            allowed |= _PLATFORM_ITEM_KEYS
        for k in spec:
            if k not in allowed:
                errors.add(f"{path}.{_key(k)}", f"unknown key for a {measure} item")
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            errors.add(f"{path}.enabled", f"must be true or false, not {describe(enabled)}")
        fields: dict[str, Any] = {
            "key": key,
            "name": _text(spec.get("name", key), f"{path}.name", errors) or key,
            "measure": measure,
            "max_points": _positive(spec.get("max_points", 1), f"{path}.max_points", errors),
            "deduction_per_step": Fraction(0),
            "step_rounding": spec.get("step_rounding", "ceil"),
            "granularity_us": granularity_us,
            "section": _text(spec.get("section"), f"{path}.section", errors),
            "standard": _text(spec.get("standard"), f"{path}.standard", errors),
        }
        if measure != "events":
            fields["deduction_per_step"] = _positive(
                spec.get("deduction_per_step"), f"{path}.deduction_per_step", errors
            )
        if not isinstance(fields["step_rounding"], str) or fields["step_rounding"] not in ROUNDINGS:
            errors.add(f"{path}.step_rounding", f"must be one of {', '.join(ROUNDINGS)}")
        if "granularity" in spec:
            if isinstance(spec["granularity"], str) and spec["granularity"] in GRANULARITIES:
                fields["granularity_us"] = GRANULARITIES[spec["granularity"]]
            else:
                errors.add(f"{path}.granularity", f"must be one of {', '.join(GRANULARITIES)}")
        if measure in ("availability", "maintenance"):
            item_systems = spec.get("systems")
            if not isinstance(item_systems, list) or not item_systems:
                errors.add(f"{path}.systems", "required, a list of system keys")
                item_systems = []
            for i, system in enumerate(item_systems):
                if not isinstance(system, str) or system not in systems:
                    errors.add(f"{path}.systems[{i}]", f"unknown system {describe(system)}")
            fields["systems"] = tuple(s for s in item_systems if isinstance(s, str))
        if measure == "availability":
            fields["aggregation"] = spec.get("aggregation", "sum")
            if (
                not isinstance(fields["aggregation"], str)
                or fields["aggregation"] not in AGGREGATIONS
            ):
                errors.add(f"{path}.aggregation", f"must be one of {', '.join(AGGREGATIONS)}")
        if measure in ("availability", "response", "restoration"):
            fields["target"] = _ratio(spec.get("target"), f"{path}.target", errors)
            fields["step"] = _positive(spec.get("step", "0.01"), f"{path}.step", errors)
        if measure == "maintenance":
            fields["limit_hours"] = _non_negative(
                spec.get("limit_hours"), f"{path}.limit_hours", errors
            )
            fields["step_hours"] = _positive(spec.get("step_hours"), f"{path}.step_hours", errors)
        if measure == "response":
            fields["report_deduction"] = _non_negative(
                spec.get("report_deduction", 0), f"{path}.report_deduction", errors
            )
        if measure == "threshold":
            fields.update(_threshold_fields(spec, path, errors))
        if measure == "events":
            fields["target"] = Fraction(0)  # no event is the target
            fields["events"] = _event_kinds(spec.get("events"), f"{path}.events", errors)
        if enabled is not False:
            items.append(ItemRule(**fields))
    sectioned = [i.key for i in items if i.section is not None]
    if sectioned and len(sectioned) != len(items):
        for item in items:
            if item.section is None:
                errors.add(f"items.{item.key}.section", "required: the other items have one")
    return items


def _threshold_fields(spec: dict[str, Any], path: str, errors: Errors) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, choices, default in (
        ("unit", UNITS, "ratio"),
        ("direction", DIRECTIONS, "at_least"),
    ):
        value = spec.get(key, default)
        if not isinstance(value, str) or value not in choices:
            errors.add(f"{path}.{key}", f"must be one of {', '.join(choices)}")
            value = default
        fields[key] = value
    if fields["unit"] == "ratio":
        fields["target"] = _ratio(spec.get("target"), f"{path}.target", errors)
        fields["step"] = _positive(spec.get("step", "0.01"), f"{path}.step", errors)
    else:
        fields["target"] = _non_negative(spec.get("target"), f"{path}.target", errors)
        fields["step"] = _positive(spec.get("step", 1), f"{path}.step", errors)
    forfeit = spec.get("forfeit_at_zero", False)
    if not isinstance(forfeit, bool):
        errors.add(f"{path}.forfeit_at_zero", f"must be true or false, not {describe(forfeit)}")
        forfeit = False
    fields["forfeit_at_zero"] = forfeit
    return fields


def _event_kinds(raw: Any, path: str, errors: Errors) -> tuple[EventKind, ...]:
    """`{kind: {name, deduction: 0.5 | all | {min, max}, source}}`, at least one kind."""
    if not isinstance(raw, dict) or not raw:
        errors.add(path, "required, a mapping of event kind to {name, deduction}")
        return ()
    kinds = []
    for key, spec in raw.items():
        kpath = f"{path}.{_key(key)}"
        if not is_text(key) or not key:
            errors.add(kpath, "an event kind must be a non-empty string")
            continue
        if not isinstance(spec, dict):
            errors.add(kpath, "must be a mapping with name and deduction")
            continue
        for k in spec:
            if k not in _EVENT_KEYS:
                errors.add(f"{kpath}.{_key(k)}", "unknown key for an event kind")
        name = _text(spec.get("name", key), f"{kpath}.name", errors) or key
        source = spec.get("source", "monthly")
        if not isinstance(source, str) or source not in SOURCES:
            errors.add(f"{kpath}.source", f"must be one of {', '.join(SOURCES)}")
            source = "monthly"
        raw_deduction = spec.get("deduction")
        deduction: Fraction | None
        points_range = None
        if raw_deduction == "all":
            deduction = None
        elif isinstance(raw_deduction, dict):
            for k in raw_deduction:
                if k not in ("min", "max"):
                    errors.add(f"{kpath}.deduction.{_key(k)}", "unknown key (min, max)")
            low = _non_negative(raw_deduction.get("min"), f"{kpath}.deduction.min", errors)
            high = _positive(raw_deduction.get("max"), f"{kpath}.deduction.max", errors)
            if low > high:
                errors.add(f"{kpath}.deduction", "min is above max")
            if source != "monthly":
                errors.add(f"{kpath}.deduction", "a range is decided by the center: monthly only")
            deduction, points_range = high, (low, high)
        else:
            deduction = _positive(raw_deduction, f"{kpath}.deduction", errors)
        kinds.append(EventKind(key, name, deduction, source, points_range))
    return tuple(kinds)


def _key(key: Any) -> str:
    """A mapping key for an error path (YAML keys may be numbers, booleans, null)."""
    return key if is_text(key) else describe(key)


def _text(value: Any, path: str, errors: Errors, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not is_text(value) or not value.strip():
        errors.add(path, f"must be a non-empty string, not {describe(value)}")
        return None
    return value


def _mapping(value: Any, path: str, errors: Errors) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(path, f"must be a mapping, not {describe(value)}")
        return {}
    return value


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _number(value: Any, path: str, errors: Errors) -> Fraction | None:
    if value is None:
        errors.add(path, "required")
        return None
    try:
        return exact_number(value)
    except ValueError as exc:
        errors.add(path, str(exc))
        return None


def _positive(value: Any, path: str, errors: Errors) -> Fraction:
    number = _number(value, path, errors)
    if number is not None and number <= 0:
        errors.add(path, "must be greater than 0")
    return number if number is not None else Fraction(1)


def _non_negative(value: Any, path: str, errors: Errors) -> Fraction:
    number = _number(value, path, errors)
    if number is not None and number < 0:
        errors.add(path, "must not be negative")
    return number if number is not None else Fraction(0)


def _ratio(value: Any, path: str, errors: Errors) -> Fraction:
    number = _number(value, path, errors)
    if number is not None and not 0 <= number <= 1:
        errors.add(path, "must be a ratio between 0 and 1 (e.g. 0.99 or 99%)")
    return number if number is not None else Fraction(0)


def load_calendar_year(path: str | Path) -> CalendarYear:
    """Read one override file: `year`, `holidays` (days off), `workdays` (调休 make-up days)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise RulesError([f"{path}: cannot read calendar override ({exc.strerror})"]) from None
    except UnicodeDecodeError as exc:
        raise RulesError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    data = _parse_yaml(text, str(path))
    errors = Errors()
    for key in data:
        if key not in ("year", "source", "holidays", "workdays"):
            errors.add(f"{path}: {_key(key)}", "unknown key")
    source = data.get("source", "")
    if not is_text(source):
        errors.add(f"{path}: source", f"must be a string, not {describe(source)}")
        source = ""
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not MIN_YEAR <= year <= MAX_YEAR:
        errors.add(f"{path}: year", f"required, a year from {MIN_YEAR} to {MAX_YEAR}, e.g. 2027")
        year = 0
    days: dict[str, frozenset[date]] = {}
    for key in ("holidays", "workdays"):
        values = data.get(key) or []
        parsed = set()
        if not isinstance(values, list):
            errors.add(f"{path}: {key}", "must be a list of dates (YYYY-MM-DD)")
            values = []
        for i, value in enumerate(values):
            try:
                if isinstance(value, date) and not isinstance(value, datetime):
                    day = value
                elif isinstance(value, str) and len(value) <= 10:
                    day = date.fromisoformat(value)
                else:
                    raise ValueError
            except ValueError:
                errors.add(f"{path}: {key}[{i}]", "not a date (YYYY-MM-DD)")
                continue
            if day.year != year:
                errors.add(f"{path}: {key}[{i}]", f"{day} is not in {year}")
            parsed.add(day)
        days[key] = frozenset(parsed)
    if days.get("holidays", frozenset()) & days.get("workdays", frozenset()):
        errors.add(f"{path}: workdays", "a day cannot be both a holiday and a workday")
    errors.raise_if_any(RulesError)
    return CalendarYear(year, days["holidays"], days["workdays"], source)
