"""Hostile or broken input is refused with an error naming the field, never a traceback.

Wrong types anywhere, instants and months outside the accepted range, duplicate keys, deep
nesting, numbers past Python's digit limit, bytes that are not UTF-8, YAML alias bombs.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from scoring import FactsError, RulesError, load_rules, parse_facts, score
from scoring.facts import read_facts_json
from tests.scoring.helpers import RULES, at, comps, facts, flags_of, outage

EXAMPLE = json.loads(Path("configs/examples/2026-11.json").read_text("utf-8"))
SHIPPED_RULES = Path("configs/rules/changsha-12345.yaml").read_text("utf-8")
OUT_OF_RANGE = "outside the accepted range 1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z"


def errors_of(data: Any) -> list[str]:
    with pytest.raises(FactsError) as caught:
        parse_facts(data, RULES)
    return caught.value.errors


def example_with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


# --- facts: wrong types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (
            ("incidents", 0, "severity"),
            ["P1"],
            "incidents[0].severity: must be one of P1, P2, P3 or null, not a list",
        ),
        (
            ("incidents", 0, "severity"),
            {"P1": 1},
            "incidents[0].severity: must be one of P1, P2, P3 or null, not an object",
        ),
        (
            ("components", 0, "system"),
            ["acd"],
            "components[0].system: must be one of acd, ivr, seat, callsys, other, not a list",
        ),
        (("components", 0, "id"), 7, "components[0].id: required, a non-empty string, not 7"),
        (
            ("outages", 0, "component"),
            ["acd-1"],
            "outages[0].component: must be a component id (a string), not a list",
        ),
        (("outages", 0, "start"), 1_793_671_200, "outages[0].start: not an ISO instant"),
        (("outages", 0, "end"), {"at": "x"}, "outages[0].end: not an ISO instant"),
        (("outages", 0), "acd-1", "outages[0]: must be an object, not 'acd-1'"),
        (("outages",), {"0": {}}, "outages: must be a list, not an object"),
        (("month",), ["2026-11"], "month: not a month (YYYY-MM), a list"),
        (("month",), 202611, "month: not a month (YYYY-MM), 202611"),
        (("month",), "2026-11\n", "month: not a month (YYYY-MM)"),
        (("month",), "２０２６-11", "month: not a month (YYYY-MM)"),
        (("as_of",), True, "as_of: not an ISO instant with an offset (true)"),
        (("as_of",), 10**4000, "as_of: not an ISO instant with an offset (a long number)"),
        (
            ("incidents", 0, "components"),
            "acd-1",
            "incidents[0].components: must be a list of component ids, not 'acd-1'",
        ),
        (
            ("incidents", 0, "components"),
            {},
            "incidents[0].components: must be a list of component ids, not an object",
        ),
        (("incidents", 0, "id"), ["INC"], "incidents[0].id: required, a non-empty string"),
        (
            ("maintenance_windows", 0, "components"),
            [["*"]],
            "maintenance_windows[0].components[0]: must be a component id (a string), not a list",
        ),
        (("components", 0, "working"), {}, "components[0].working: must be a list, not an object"),
        (("outages", 6, "excluded", "reason"), ["x"], "outages[6].excluded.reason: required"),
        (("components", 0, "id"), "acd\ud800", "components[0].id: required, a non-empty string"),
        (("incidents", 0, "id"), "\udfff", "incidents[0].id: required, a non-empty string"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error_naming_its_field(path, value, error):
    errors = errors_of(example_with(path, value))
    assert any(line.startswith(error) for line in errors), errors


# --- facts: instants and months outside the accepted range ------------------------------------


@pytest.mark.parametrize(
    "instant",
    [
        "9999-12-31T23:59:59-12:00",  # overflows when converted to UTC
        "0001-01-01T00:00:00+14:00",  # underflows
        "2200-01-01T00:00:00+00:00",
        "2200-01-01T08:00:00+08:00",
        "1969-12-31T23:59:59.999999+00:00",
    ],
)
def test_an_instant_outside_the_accepted_range_is_refused(instant):
    assert errors_of(example_with(("as_of",), instant)) == [f"as_of: {OUT_OF_RANGE}"]
    assert errors_of(example_with(("incidents", 0, "restored_at"), instant)) == [
        f"incidents[0].restored_at: {OUT_OF_RANGE}"
    ]
    assert errors_of(example_with(("outages", 0, "start"), instant)) == [
        f"outages[0].start: {OUT_OF_RANGE}"
    ]


def test_the_edges_of_the_accepted_range_score():
    latest = "2199-12-31T23:59:59.999999+00:00"
    data = facts(comps("acd-1:acd"), [outage("acd-1", "1970-01-01T00:00:00Z", latest)])
    rep = score(parse_facts(data, RULES), RULES)
    assert rep["items"]["acd_availability"]["value"] == 0.0
    # An incident restored on the last accepted day: its report deadline falls in 2200, a year
    # no calendar knows, which is flagged, not an overflow.
    incident = {
        "id": "I",
        "components": ["acd-1"],
        "detected_at": "2199-12-31T10:00:00+08:00",
        "restored_at": "2199-12-31T11:00:00+08:00",
    }
    late = facts(comps("acd-1:acd"), incidents=[incident], month="2199-12", as_of=latest)
    rep = score(parse_facts(late, RULES), RULES)
    assert flags_of(rep, "calendar_unknown") == [
        {"type": "calendar_unknown", "incident": "I", "year": 2200}
    ]


@pytest.mark.parametrize("month", ["0001-01", "1969-12", "2200-01", "9999-12"])
def test_a_month_outside_the_accepted_range_is_refused(month):
    data = facts(comps("acd-1:acd"), month=month, as_of=at(5))
    assert errors_of(data)[0] == "month: outside the accepted range 1970-01 to 2199-12"


@pytest.mark.parametrize("month", ["1970-01", "2199-12"])
def test_the_first_and_last_accepted_months_score(month):
    as_of = "1970-01-20T00:00:00Z" if month == "1970-01" else "2199-12-20T00:00:00Z"
    data = facts(comps("acd-1:acd"), month=month, as_of=as_of)
    assert score(parse_facts(data, RULES), RULES)["total"] == 7.0


# --- facts: evidence shows only plain values --------------------------------------------------


def test_an_unknown_key_holding_a_deep_structure_does_not_reach_the_report():
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    data = facts(comps("acd-1:acd"), [outage("acd-1", at(3), at(4), id="o-1", note=deep)])
    rep = score(parse_facts(data, RULES), RULES)
    assert rep["items"]["acd_availability"]["evidence"]["outages"] == [
        {"component": "acd-1", "start": at(3), "end": at(4), "id": "o-1"}
    ]
    json.dumps(rep, ensure_ascii=False, indent=2).encode("utf-8")


def test_an_unknown_key_with_a_lone_surrogate_does_not_reach_the_report():
    data = facts(comps("acd-1:acd"), [outage("acd-1", at(3), at(4), note="\ud800")])
    rep = score(parse_facts(data, RULES), RULES)
    json.dumps(rep, ensure_ascii=False).encode("utf-8")


# --- facts JSON text --------------------------------------------------------------------------


def read_errors(text: str | bytes) -> list[str]:
    with pytest.raises(FactsError) as caught:
        read_facts_json(text, "facts.json")
    return caught.value.errors


def test_duplicate_keys_are_refused_at_any_depth():
    text = '{"month": "2026-11", "incidents": [{"id": "I", "severity": "P1", "severity": "P3"}]}'
    assert read_errors(text) == [
        "incidents[0].severity: duplicate key (the last value would silently win)"
    ]
    assert read_errors('{"month": "2026-10", "month": "2026-11"}') == [
        "month: duplicate key (the last value would silently win)"
    ]


def test_json_nested_100000_deep_is_refused():
    assert read_errors("[" * 100_000 + "]" * 100_000) == ["facts.json: nested too deep"]


def test_a_5000_digit_integer_is_refused():
    text = '{"month": "2026-11", "as_of": 1' + "0" * 5000 + "}"
    assert read_errors(text) == ["facts.json: a number with more than 4300 digits"]


def test_bytes_that_are_not_utf8_or_not_json_are_refused():
    assert read_errors(b'{"month": "2026-11\xff"}') == ["facts.json: not UTF-8 text (byte 18)"]
    assert read_errors("month: 2026-11") == ["facts.json: line 1, column 1: Expecting value"]
    assert read_errors('{"a": NaN}') == ["facts.json: NaN is not a JSON number"]


# --- rules YAML -------------------------------------------------------------------------------


def rules_errors(tmp_path: Path, text: str | bytes) -> list[str]:
    path = tmp_path / "rules.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    return [line.replace(str(path), "rules.yaml") for line in caught.value.errors]


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def test_a_billion_laughs_rules_file_is_refused_at_once(tmp_path):
    began = time.process_time()
    assert rules_errors(tmp_path, BILLION_LAUGHS) == [
        "rules.yaml: line 6: its aliases expand to more than 100,000 values "
        "(refused: an alias bomb?)"
    ]
    assert time.process_time() - began < 2


def test_an_alias_bomb_inside_a_label_is_refused(tmp_path):
    bomb = "name: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"z{i}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6)
    )
    text = SHIPPED_RULES.replace("name: 长沙市12345热线 话务平台要求\n", bomb)
    assert "its aliases expand to more than 100,000 values" in rules_errors(tmp_path, text)[0]


def test_a_recursive_alias_is_refused(tmp_path):
    assert rules_errors(tmp_path, "id: &a [*a]\n") == [
        "rules.yaml: line 1: an alias refers to itself"
    ]


def test_anchors_and_merge_keys_still_work(tmp_path):
    text = SHIPPED_RULES.replace("  acd_availability:\n", "  acd_availability: &availability\n")
    seat = text.index("  seat_availability:")
    end = text.index("  ivr_fault_free:")
    text = (
        text[:seat] + "  seat_availability:\n    <<: *availability\n    name: 座席终端可用率\n"
        "    systems: [seat]\n\n" + text[end:]
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    seat_rule = {i.key: i for i in load_rules(path).items}["seat_availability"]
    assert seat_rule.systems == ("seat",)
    assert seat_rule.name == "座席终端可用率"


def test_duplicate_rule_keys_are_refused(tmp_path):
    text = SHIPPED_RULES.replace("    target: 0.995\n", "    target: 0.995\n    target: 0.9\n")
    (error,) = rules_errors(tmp_path, text)
    assert error.startswith("rules.yaml: line ")
    assert error.endswith("broken YAML: duplicate key 'target' (the last value would silently win)")


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("timezone: Asia/Shanghai", "timezone: [Asia/Shanghai]", "timezone: unknown time zone"),
        ("timezone: Asia/Shanghai", "timezone: Asia", "timezone: unknown time zone 'Asia'"),
        ("granularity: second", "granularity: [second]", "granularity: must be one of"),
        ("  acd: 排队机", "  acd: [排队机]", "systems.acd: must be a non-empty string, not a list"),
        ("  default: P2", "  default: [P2]", "severities.default: a list is not among"),
        ("    P1: {response", "    1: {response", "severities.limits.1: a severity must be"),
        ("  max_no_data_share: 0.05", "  - 0.05", "coverage: must be a mapping, not a list"),
        ("  overrides: []", "  overrides: [1]", "calendar.overrides: must be a list of file paths"),
        ("  working_days: 2", "  working_days: 100000000", "written_report.working_days: must"),
        ("response: 15m", "response: -5", "severities.limits.P1.response: must be between 0"),
        ("response: 15m", "response: 99999999999h", "severities.limits.P1.response: must be"),
        ("    systems: [acd]\n", "    systems: [[acd]]\n", "items.acd_availability.systems[0]"),
        ("    aggregation: union", "    aggregation: [union]", "items.callsys_fault_free.aggr"),
        ("    step: 0.01                # 每下降1%", "    step: '1e999999999'", "items.acd_a"),
        ("    step: 0.01                # 每下降1%", "    step: 1e-300", "items.acd_availability"),
        ("  max_points: 1\n", "  max_points: 1" + "0" * 20 + "\n", "items.acd_availability.max"),
        ("  max_points: 1\n", "  max_points: 1" + "0" * 5000 + "\n", "rules.yaml: unreadable"),
        ("name: 长沙", 'name: "\\ud800"\nx: 长沙', "name: must be a non-empty string"),
        ("id: changsha-12345", "id: 12345", "id: must be a non-empty string, not 12345"),
    ],
)
def test_a_rules_value_of_the_wrong_type_or_size_is_an_error_naming_its_key(
    tmp_path, old, new, error
):
    assert old in SHIPPED_RULES
    errors = rules_errors(tmp_path, SHIPPED_RULES.replace(old, new, 1))
    assert any(line.startswith(error) for line in errors), errors


def test_rules_deeply_nested_or_not_utf8_are_refused(tmp_path):
    assert rules_errors(tmp_path, "id: " + "[" * 100_000) == [
        "rules.yaml: nested too deep (more than 64 levels)"
    ]
    assert rules_errors(tmp_path, "id: " + "[" * 100 + "]" * 100) == [
        "rules.yaml: line 1: nested too deep (more than 64 levels)"
    ]
    assert rules_errors(tmp_path, b"id: \xff\n") == ["rules.yaml: not UTF-8 text (byte 4)"]
    assert rules_errors(tmp_path, "id: x\nwhen: 2026-02-31\n") == [
        "rules.yaml: unreadable value: day is out of range for month"
    ]


def test_a_rules_calendar_without_overrides_is_fine(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(SHIPPED_RULES.replace("  overrides: []\n", ""), "utf-8")
    assert load_rules(path).calendar_years == {}
