"""Comparing SNMP values, without I/O: equals, in-set, thresholds, change since last run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from probes import options as opt

# Names engineers write instead of numbers (MIB loading is costly; these few cover our checks).
OID_ALIASES = {
    "sysDescr": "1.3.6.1.2.1.1.1",
    "sysObjectID": "1.3.6.1.2.1.1.2",
    "sysUpTime": "1.3.6.1.2.1.1.3",
    "sysContact": "1.3.6.1.2.1.1.4",
    "sysName": "1.3.6.1.2.1.1.5",
    "sysLocation": "1.3.6.1.2.1.1.6",
    "ifNumber": "1.3.6.1.2.1.2.1",
    "ifDescr": "1.3.6.1.2.1.2.2.1.2",
    "ifAdminStatus": "1.3.6.1.2.1.2.2.1.7",
    "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
    "ifInOctets": "1.3.6.1.2.1.2.2.1.10",
    "ifOutOctets": "1.3.6.1.2.1.2.2.1.16",
    "hrSystemUptime": "1.3.6.1.2.1.25.1.1",
    "hrSWRunName": "1.3.6.1.2.1.25.4.2.1.2",
    "hrSWRunStatus": "1.3.6.1.2.1.25.4.2.1.7",
}
CHANGE_MODES = ("changed", "unchanged", "increased", "not_decreased")


def parse_oid(text: str) -> str:
    """`1.3.6.1.2.1.1.3.0`, `.1.3.6…` or `sysUpTime.0` to a dotted numeric OID."""
    text = text.strip().lstrip(".")
    name, dot, rest = text.partition(".")
    if name in OID_ALIASES:
        text = OID_ALIASES[name] + (dot + rest if dot else "")
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        known = ", ".join(sorted(OID_ALIASES))
        raise opt.OptionError(
            f"option 'oid': {text!r} is not a numeric OID or one of {known}", "oid"
        )
    return text


@dataclass(frozen=True, slots=True)
class Check:
    equals: str | None = None
    one_of: frozenset[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    change: str | None = None
    previous: Any = None


def parse_check(options: Mapping[str, Any]) -> Check:
    one_of = opt.text(options, "in")
    change = opt.text(options, "change")
    if change is not None and change not in CHANGE_MODES:
        raise opt.OptionError(f"option 'change' must be one of {', '.join(CHANGE_MODES)}", "change")
    return Check(
        equals=opt.text(options, "equals"),
        one_of=frozenset(v.strip() for v in one_of.split(",")) if one_of is not None else None,
        minimum=opt.number(options, "min"),
        maximum=opt.number(options, "max"),
        change=change,
        previous=_previous(options.get("previous")),
    )


def _previous(value: Any) -> Any:
    """The last run's `value`: a scalar, a mapping, or that mapping as JSON from the CLI."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            detail = f"option 'previous' is not valid JSON: {exc}"
            raise opt.OptionError(detail, "previous") from None
    return value


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _same(value: Any, wanted: str) -> bool:
    number, other = _numeric(value), _numeric(wanted)
    if number is not None and other is not None:
        return number == other
    return str(value) == wanted


def failures(check: Check, values: Mapping[str, Any]) -> list[str]:
    """What does not hold, one line per OID and condition; [] when all hold."""
    problems: list[str] = []
    for oid, value in values.items():
        if check.equals is not None and not _same(value, check.equals):
            problems.append(f"{oid} = {value!r}, expected {check.equals!r}")
        if check.one_of is not None and not any(_same(value, v) for v in check.one_of):
            problems.append(f"{oid} = {value!r}, expected one of {sorted(check.one_of)}")
        if check.minimum is not None or check.maximum is not None:
            number = _numeric(value)
            if number is None:
                problems.append(f"{oid} = {value!r} is not a number")
            elif check.minimum is not None and number < check.minimum:
                problems.append(f"{oid} = {value!r} is below min {check.minimum:g}")
            elif check.maximum is not None and number > check.maximum:
                problems.append(f"{oid} = {value!r} is above max {check.maximum:g}")
    if check.change is not None and check.previous not in (None, ""):
        problems += _change_failures(check.change, check.previous, values)
    return problems


def _change_failures(mode: str, previous: Any, values: Mapping[str, Any]) -> list[str]:
    if not isinstance(previous, Mapping):
        if len(values) != 1:
            return ["option 'previous' must map each OID to its value when several are read"]
        previous = {next(iter(values)): previous}
    problems = []
    for oid, value in values.items():
        if oid not in previous:
            continue
        before = previous[oid]
        now_n, before_n = _numeric(value), _numeric(before)
        if mode == "changed" and _same(value, str(before)):
            problems.append(f"{oid} unchanged at {value!r}")
        elif mode == "unchanged" and not _same(value, str(before)):
            problems.append(f"{oid} changed from {before!r} to {value!r}")
        elif mode in ("increased", "not_decreased"):
            if now_n is None or before_n is None:
                problems.append(f"{oid}: {before!r} -> {value!r} are not numbers")
            elif now_n < before_n:
                problems.append(f"{oid} went backwards from {before!r} to {value!r}")
            elif mode == "increased" and now_n == before_n:
                problems.append(f"{oid} did not increase from {before!r}")
    return problems
