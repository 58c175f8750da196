"""The reports' extra numbers (days, outage parts, window intervals) add up to the JSON's."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from scoring import parse_facts, score
from scoring.breakdown import breakdown
from scoring.values import US_PER_SECOND
from tests.scoring.helpers import RULES, at, comps, facts, outage
from tests.scoring.months import MONTHS


def _rules(aggregation: str | None = None, granularity_us: int | None = None):
    items = []
    for item in RULES.items:
        changes = {}
        if aggregation and item.measure == "availability":
            changes["aggregation"] = aggregation
        if granularity_us:
            changes["granularity_us"] = granularity_us
        items.append(replace(item, **changes))
    return replace(RULES, items=tuple(items))


VARIANTS = {
    "default": RULES,
    "union": _rules("union"),
    "all": _rules("all"),
    "minute": _rules(granularity_us=60 * US_PER_SECOND),
    "all-minute": _rules("all", 60 * US_PER_SECOND),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(MONTHS))
def test_the_days_add_up_to_the_month_exactly(name, variant):
    rules = VARIANTS[variant]
    parsed = parse_facts(MONTHS[name](), rules)
    report = score(parsed, rules)
    details = breakdown(parsed, rules)
    for key, days in details.daily.items():
        evidence = report["items"][key]["evidence"]
        if report["items"][key]["value"] is None:
            assert days == [] or sum(d.working_us for d in days) == 0
            continue
        working = sum(d.working_us for d in days)
        fault = sum(d.fault_us for d in days)
        assert working == round(evidence["working_seconds"] * US_PER_SECOND), key
        assert fault == round(evidence["fault_seconds"] * US_PER_SECOND), key
        assert float(1 - Fraction(fault, working)) == report["items"][key]["value"]


@pytest.mark.parametrize("name", sorted(MONTHS))
def test_outage_parts_add_up_to_each_component_fault_and_maintenance(name):
    parsed = parse_facts(MONTHS[name](), RULES)
    report = score(parsed, RULES)
    details = breakdown(parsed, RULES)
    per_component = {}
    for item in report["items"].values():
        for row in item["evidence"].get("components", []):
            if "fault_seconds" in row:
                per_component[row["id"]] = row
    for cid, row in per_component.items():
        parts = [o for o in details.outages if o.component == cid]
        assert sum(o.fault_us for o in parts) == round(row["fault_seconds"] * US_PER_SECOND)
        assert sum(o.maintenance_us for o in parts) == round(
            row["maintenance_seconds"] * US_PER_SECOND
        )


def test_the_window_counts_what_the_maintenance_item_counts():
    parsed = parse_facts(MONTHS["november"](), RULES)
    report = score(parsed, RULES)
    details = breakdown(parsed, RULES)
    seconds = report["items"]["maintenance_hours"]["evidence"]["maintenance_seconds"]
    # The two windows do not overlap, so their wall-clock parts add up.
    assert sum(w.in_scope_us for w in details.windows) == seconds * US_PER_SECOND


def test_a_running_month_has_days_up_to_as_of():
    parsed = parse_facts(MONTHS["december_running"](), RULES)
    days = breakdown(parsed, RULES).daily["acd_availability"]
    assert len(days) == 9
    assert all(d.end - d.start == 86_400 * US_PER_SECOND for d in days)


def test_a_day_with_a_fault_reads_below_the_others():
    data = facts(comps("acd-1:acd"), [outage("acd-1", at(3, 10), at(3, 22))])
    parsed = parse_facts(data, RULES)
    days = breakdown(parsed, RULES).daily["acd_availability"]
    assert [d.availability for d in days].count(1) == 29
    assert days[2].availability == 0.5
