"""Bad facts are errors that name the field; nothing is silently fixed."""

from __future__ import annotations

import pytest

from scoring import FactsError, parse_facts
from tests.scoring.helpers import RULES, at, comps, facts, incident, outage


def errors_of(data) -> list[str]:
    with pytest.raises(FactsError) as caught:
        parse_facts(data, RULES)
    return caught.value.errors


def test_every_error_in_a_document_is_reported_with_its_field():
    data = facts(
        comps("acd-1:acd"),
        [
            outage("acd-1", at(3), at(4)),
            outage("acd-9", at(3), at(4)),
            outage("acd-1", at(5), at(4)),
            outage("acd-1", "2026-11-03 10:00", at(4)),
        ],
    )
    assert errors_of(data) == [
        "outages[1].component: unknown component 'acd-9' (not in components)",
        "outages[2].end: before start",
        "outages[3].start: not an ISO instant with an offset",
    ]


def test_a_naive_local_time_is_refused():
    data = facts(comps("acd-1:acd"), [outage("acd-1", at(3), "2026-11-03T12:00:00")])
    assert errors_of(data) == ["outages[0].end: not an ISO instant with an offset"]


def test_a_window_without_an_end_is_an_error():
    window = {"id": "mw-1", "start": at(3), "end": None, "components": ["*"]}
    assert errors_of(facts(comps("acd-1:acd"), windows=[window])) == [
        "maintenance_windows[0].end: required (an interval here must have an end)"
    ]


def test_window_components_must_be_known_or_star():
    window = {"id": "mw-1", "start": at(3), "end": at(4), "components": ["acd-1", "ivr-7"]}
    assert errors_of(facts(comps("acd-1:acd"), windows=[window])) == [
        "maintenance_windows[0].components[1]: unknown component 'ivr-7' (not in components)"
    ]


def test_duplicate_ids_are_errors():
    window = {"id": "mw-1", "start": at(3), "end": at(4), "components": ["*"]}
    data = facts(
        comps("acd-1:acd", "acd-1:acd"),
        windows=[window, window],
        incidents=[incident("I1", at(3)), incident("I1", at(4))],
    )
    assert errors_of(data) == [
        "components[1].id: duplicate component id 'acd-1'",
        "maintenance_windows[1].id: duplicate window id 'mw-1'",
        "incidents[1].id: duplicate incident id 'I1'",
    ]


def test_as_of_before_the_month_is_an_error():
    assert errors_of(facts(comps("acd-1:acd"), as_of="2026-10-31T23:59:59+08:00")) == [
        "as_of: before the month starts"
    ]


def test_as_of_defaults_to_the_clock_given():
    parsed = parse_facts(facts(comps("acd-1:acd"), as_of=None), RULES, now_us=1_795_000_000_000_000)
    assert parsed.as_of == 1_795_000_000_000_000
    assert errors_of(facts(comps("acd-1:acd"), as_of=None)) == [
        "as_of: required when no clock is given"
    ]


def test_month_must_be_a_calendar_month():
    assert errors_of(facts(comps("acd-1:acd"), month="2026-13")) == ["month: not a month (YYYY-MM)"]


def test_incident_fields_are_checked():
    bad = incident("I1", at(5), responded=at(4), restored="soon", severity="P9", components=("x",))
    assert errors_of(facts(comps("acd-1:acd"), incidents=[bad])) == [
        "incidents[0].components[0]: unknown component 'x' (not in components)",
        "incidents[0].severity: must be one of P1, P2, P3 or null, not 'P9'",
        "incidents[0].restored_at: not an ISO instant with an offset",
        "incidents[0].responded_at: before detected_at",
    ]


def test_unknown_system_and_missing_component_list():
    assert errors_of(
        {"month": "2026-11", "as_of": at(20), "components": [{"id": "x", "system": "pbx"}]}
    ) == ["components[0].system: must be one of acd, ivr, seat, callsys, other, not 'pbx'"]
    assert errors_of({"month": "2026-11", "as_of": at(20)}) == [
        "components: required (a list, possibly empty)"
    ]


def test_optional_fields_are_validated():
    components = [
        {"id": "s1", "system": "seat", "working": [{"start": at(3), "end": None}]},
        {"id": "s2", "system": "seat", "since": at(9), "until": at(8)},
    ]
    data = facts(
        components,
        [outage("s1", at(3), at(4), excluded={"reason": "", "approved_by": "x"})],
        no_data=[{"component": "s9", "start": at(1), "end": at(2)}],
    )
    data["maintenance_windows"] = [
        {"id": "w", "start": at(1), "end": at(2), "components": ["*"], "created_at": 5}
    ]
    assert errors_of(data) == [
        "components[0].working[0].end: required (an interval here must have an end)",
        "components[1].until: before since",
        "outages[0].excluded.reason: required, a non-empty string",
        "maintenance_windows[0].created_at: not an ISO instant with an offset (5)",
        "no_data[0].component: unknown component 's9' (not in components)",
    ]


def test_unknown_keys_are_ignored_for_forward_compatibility():
    data = facts(comps("acd-1:acd"), audit=[{"who": "x"}])
    data["components"][0]["vendor"] = "Avaya"
    assert parse_facts(data, RULES).components[0].id == "acd-1"
