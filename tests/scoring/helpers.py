"""Small builders for hand-written facts: November 2026 in Beijing time unless said otherwise."""

from __future__ import annotations

from typing import Any

from scoring import load_rules, parse_facts, score

RULES = load_rules()
DAY = 86_400
NOVEMBER = 30 * DAY  # seconds in November 2026
AFTER_NOVEMBER = "2026-12-06T09:00:00+08:00"


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 11) -> str:
    """An instant in 2026, Beijing time."""
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}+08:00"


def comps(*specs: str) -> list[dict[str, str]]:
    """`comps("acd-1:acd", "seat-1:seat")`."""
    return [{"id": s.split(":")[0], "system": s.split(":")[1]} for s in specs]


def outage(component: str, start: str, end: str | None, **extra: Any) -> dict[str, Any]:
    return {"component": component, "start": start, "end": end, **extra}


def facts(
    components: list[dict[str, Any]],
    outages: list[dict[str, Any]] = (),
    windows: list[dict[str, Any]] = (),
    incidents: list[dict[str, Any]] = (),
    as_of: str | None = AFTER_NOVEMBER,
    month: str = "2026-11",
    **extra: Any,
) -> dict[str, Any]:
    data = {
        "month": month,
        "components": list(components),
        "outages": list(outages),
        "maintenance_windows": list(windows),
        "incidents": list(incidents),
        **extra,
    }
    if as_of is not None:
        data["as_of"] = as_of
    return data


def report(data: dict[str, Any], rules=RULES) -> dict[str, Any]:
    return score(parse_facts(data, rules), rules)


def item(data: dict[str, Any], key: str, rules=RULES) -> dict[str, Any]:
    return report(data, rules)["items"][key]


def incident(
    iid: str,
    detected: str,
    responded: str | None = None,
    restored: str | None = None,
    report_at: str | None = None,
    severity: str | None = "P1",
    components: tuple[str, ...] = ("acd-1",),
) -> dict[str, Any]:
    return {
        "id": iid,
        "components": list(components),
        "severity": severity,
        "detected_at": detected,
        "responded_at": responded,
        "restored_at": restored,
        "report_submitted_at": report_at,
    }


def flags_of(rep: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in rep["flags"] if f["type"] == kind]
