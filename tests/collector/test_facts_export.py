"""The facts export, checked by the scorer's own validator and score."""

from __future__ import annotations

from collector.domain.facts import build_facts
from collector.domain.model import Component
from collector.domain.timefmt import month_range
from scoring import load_rules, parse_facts, score

HOUR = 3_600_000


def test_a_component_first_seen_mid_month_has_no_data_until_then():
    lo, hi = month_range("2026-11")
    components = [
        Component("acd-1", "acd", first_seen=lo - 10 * HOUR),
        Component("seat-001", "seat", first_seen=lo + 48 * HOUR),
    ]
    facts = build_facts("2026-11", hi + HOUR, components, None, [], [], [], [])
    assert facts["no_data"] == [
        {
            "component": "seat-001",
            "start": "2026-11-01T00:00:00+08:00",
            "end": "2026-11-03T00:00:00+08:00",
        }
    ]
    rules = load_rules()
    report = score(parse_facts(facts, rules), rules)
    seat = report["items"]["seat_availability"]
    assert seat["value"] == 1.0
    assert seat["evidence"]["no_data_seconds"] == 48 * 3600
    [flag] = [f for f in report["flags"] if f["type"] == "low_coverage"]
    assert flag["system"] == "seat"


def test_no_data_before_first_seen_stops_at_as_of():
    lo, _ = month_range("2026-11")
    components = [Component("ivr-1", "ivr", first_seen=lo + 10 * HOUR)]
    facts = build_facts("2026-11", lo + 4 * HOUR, components, None, [], [], [], [])
    assert facts["no_data"] == [
        {
            "component": "ivr-1",
            "start": "2026-11-01T00:00:00+08:00",
            "end": "2026-11-01T04:00:00+08:00",
        }
    ]
