"""`GET /api/v1/summary`: what the status page and `hotline status` show beside the components'
states — each system's availability today and this month to date against its target, the
incident limits, and the current and upcoming maintenance windows.

The availability is the scorer's own (`scoring.score` on the collector's facts for the month,
and on the same facts with the period starting at today's local midnight), never re-computed
here. Scoring a month is not free, so the answer is kept for `CACHE_SECONDS`.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from collector.api import views
from collector.domain.maintenance import occurrences
from collector.domain.timefmt import format_instant, from_datetime, to_datetime
from collector.service import Collector
from scoring import Rules, load_rules, parse_facts, score

CACHE_SECONDS = 10.0
UPCOMING_MS = 7 * 24 * 3600 * 1000  # windows starting within a week are "upcoming"
_US_PER_MS = 1000


class Summary:
    """The summary of one collector, cached for `CACHE_SECONDS` of the collector's clock."""

    def __init__(self, rules: Rules | None = None) -> None:
        self._rules = rules
        self._cached: tuple[int, dict[str, Any]] | None = None

    @property
    def rules(self) -> Rules:
        if self._rules is None:
            self._rules = load_rules()
        return self._rules

    async def get(self, collector: Collector) -> dict[str, Any]:
        now = collector.clock()
        if self._cached is not None and 0 <= now - self._cached[0] < CACHE_SECONDS * 1000:
            return self._cached[1]
        doc = await build(collector, self.rules)
        self._cached = (now, doc)
        return doc


async def build(collector: Collector, rules: Rules) -> dict[str, Any]:
    """The summary document at the collector's clock."""
    now = collector.clock()
    local = to_datetime(now, rules.tz)
    month = f"{local.year:04d}-{local.month:02d}"
    midnight = from_datetime(datetime(local.year, local.month, local.day, tzinfo=rules.tz))
    facts = parse_facts(await collector.facts(month, backups=False), rules, now_us=now * _US_PER_MS)
    month_items = score(facts, rules)["items"]
    today = dataclasses.replace(facts, month_start=max(facts.month_start, midnight * _US_PER_MS))
    today_items = score(today, rules)["items"]
    limits = collector.config.incidents
    return {
        "now": format_instant(now),
        "systems": _systems(rules, month_items, today_items),
        "limits": {
            sev: {"response": limits.response_limits[sev], "restoration": seconds}
            for sev, seconds in limits.restoration_limits.items()
            if sev in limits.response_limits
        },
        "maintenance": _maintenance(collector, now),
    }


def _systems(
    rules: Rules, month_items: dict[str, Any], today_items: dict[str, Any]
) -> list[dict[str, Any]]:
    by_system: dict[str, dict[str, Any]] = {}
    for item in rules.items:
        if item.measure != "availability":
            continue
        for system in item.systems:
            by_system.setdefault(
                system,
                {
                    "id": system,
                    "name": rules.systems.get(system, system),
                    "item": item.name,
                    "target": float(item.target),
                    "today": _value(today_items.get(item.key)),
                    "month": _value(month_items.get(item.key)),
                },
            )
    for system, name in rules.systems.items():  # systems no item measures (话务系统相关硬件)
        by_system.setdefault(
            system,
            {"id": system, "name": name, "item": None, "target": None}
            | {"today": None, "month": None},
        )
    return list(by_system.values())


def _value(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"value": item.get("value"), "coverage": item.get("coverage")}


def _maintenance(collector: Collector, now: int) -> dict[str, list[dict[str, Any]]]:
    found = occurrences(collector.windows, now, now + UPCOMING_MS)
    shown = [
        {
            **views.window(o.window),
            "id": o.id,
            "window_id": o.window.id,
            "start": format_instant(o.start),
            "end": format_instant(o.end),
        }
        for o in found
    ]
    return {
        "current": [s for s, o in zip(shown, found, strict=True) if o.start <= now < o.end],
        "upcoming": [s for s, o in zip(shown, found, strict=True) if o.start > now],
    }
