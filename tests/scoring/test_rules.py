"""Rules are YAML the purchaser may change; mistakes in them are errors naming the key."""

from __future__ import annotations

from fractions import Fraction
from importlib import resources
from pathlib import Path

import pytest

from scoring import RulesError, load_rules

SHIPPED = (resources.files("scoring") / "rules" / "changsha-12345.yaml").read_text("utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    return path


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(write(tmp_path, text))
    return caught.value.errors


def test_the_editable_copy_matches_the_shipped_rules():
    assert Path("configs/rules/changsha-12345.yaml").read_text("utf-8") == SHIPPED


def test_default_rules_are_the_seed_table_read_exactly():
    rules = load_rules()
    assert [i.key for i in rules.items] == [
        "acd_availability",
        "seat_availability",
        "ivr_fault_free",
        "callsys_fault_free",
        "maintenance_hours",
        "fault_response",
        "service_restoration",
    ]
    by_key = {i.key: i for i in rules.items}
    assert by_key["ivr_fault_free"].target == Fraction(995, 1000)
    assert by_key["callsys_fault_free"].aggregation == "union"
    assert by_key["maintenance_hours"].systems == ("acd", "ivr", "callsys", "other")
    assert rules.severities["P1"].response_us == 15 * 60 * 10**6
    assert rules.severities["P3"].restoration_us == 24 * 3600 * 10**6
    assert rules.default_severity == "P2"


def test_a_misspelt_key_is_an_error_not_a_silent_default(tmp_path):
    text = SHIPPED.replace("    target: 0.995", "    tagret: 0.995")
    assert errors_of(tmp_path, text) == [
        "items.ivr_fault_free.tagret: unknown key for a availability item",
        "items.ivr_fault_free.target: required",
    ]


def test_bad_values_name_their_keys(tmp_path):
    text = (
        SHIPPED.replace("aggregation: union", "aggregation: most")
        .replace("P2: {response: 30m", "P2: {response: soon")
        .replace("timezone: Asia/Shanghai", "timezone: Mars/Olympus")
        .replace("    step_hours: 0.5", "    step_hours: 0")
    )
    assert errors_of(tmp_path, text) == [
        "timezone: unknown time zone 'Mars/Olympus'",
        "severities.limits.P2.response: not a duration (seconds, or a number with s, m, h or d)",
        "items.callsys_fault_free.aggregation: must be one of sum, union, all",
        "items.maintenance_hours.step_hours: must be greater than 0",
    ]


def test_broken_yaml_names_the_file_and_line(tmp_path):
    [error] = errors_of(tmp_path, "id: x\nitems: [\n")
    assert error.startswith(f"{tmp_path / 'rules.yaml'}: line 3")
    assert "broken YAML" in error


def test_percentages_and_durations_are_read_exactly(tmp_path):
    text = SHIPPED.replace("    target: 0.995", '    target: "99.5%"').replace(
        "P1: {response: 15m, restoration: 2h}", "P1: {response: 900, restoration: 1.5h}"
    )
    rules = load_rules(write(tmp_path, text))
    assert {i.key: i for i in rules.items}["ivr_fault_free"].target == Fraction(995, 1000)
    assert rules.severities["P1"].response_us == 900 * 10**6
    assert rules.severities["P1"].restoration_us == 5400 * 10**6


def test_a_missing_rules_file_is_a_clear_error(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.yaml")


def test_calendar_override_files_listed_in_the_rules_are_relative_to_them(tmp_path):
    (tmp_path / "cal").mkdir()
    (tmp_path / "cal" / "2027.yaml").write_text("year: 2027\nholidays: [2027-01-01]\n", "utf-8")
    rules = load_rules(
        write(tmp_path, SHIPPED.replace("overrides: []", "overrides: [cal/2027.yaml]"))
    )
    assert 2027 in rules.calendar_years


def test_a_calendar_override_for_the_wrong_year_is_an_error(tmp_path):
    path = tmp_path / "2027.yaml"
    path.write_text("year: 2027\nholidays: [2028-01-01]\n", "utf-8")
    with pytest.raises(RulesError, match=r"holidays\[0\]: 2028-01-01 is not in 2027"):
        load_rules(calendar_files=(path,))


def _score_with(tmp_path, text, data):
    from tests.scoring.helpers import report

    return report(data, load_rules(write(tmp_path, text)))


def test_severity_limits_are_rule_settings(tmp_path):
    from tests.scoring.helpers import at, comps, facts, incident

    data = facts(
        comps("acd-1:acd"), incidents=[incident("I1", at(3, 10), at(3, 10, 20), at(3, 11))]
    )
    text = SHIPPED.replace("P1: {response: 15m", "P1: {response: 20m")
    assert _score_with(tmp_path, SHIPPED, data)["items"]["fault_response"]["value"] == 0.0
    assert _score_with(tmp_path, text, data)["items"]["fault_response"]["value"] == 1.0


def test_maintenance_scope_is_a_rule_setting(tmp_path):
    from tests.scoring.helpers import at, comps, facts, outage

    window = {"id": "w", "start": at(8, 1), "end": at(8, 5), "components": ["*"]}
    data = facts(comps("seat-1:seat"), [outage("seat-1", at(8, 1), at(8, 3))], [window])
    text = SHIPPED.replace("systems: [acd, ivr, callsys, other]", "systems: [acd, seat]")
    assert _score_with(tmp_path, SHIPPED, data)["items"]["maintenance_hours"]["value"] is None
    assert _score_with(tmp_path, text, data)["items"]["maintenance_hours"]["value"] == 2.0


def test_report_working_days_are_a_rule_setting(tmp_path):
    from tests.scoring.helpers import at, comps, facts, incident

    inc = incident("I1", at(4, 10), at(4, 10, 5), at(4, 11))  # restored Wed 4 Nov
    data = facts(comps("acd-1:acd"), incidents=[inc])
    text = SHIPPED.replace("  working_days: 2", "  working_days: 3")
    [flag] = [
        f for f in _score_with(tmp_path, text, data)["flags"] if f["type"] == "report_missing"
    ]
    assert flag["deadline"] == "2026-11-10T00:00:00+08:00"  # Thu 5, Fri 6, Mon 9


def test_points_per_step_and_item_points_are_rule_settings(tmp_path):
    from tests.scoring.helpers import at, comps, facts, outage

    data = facts(comps("acd-1:acd"), [outage("acd-1", at(3), at(3, 14, 24))])  # 98%
    text = SHIPPED.replace(
        "    deduction_per_step: 0.2\n    max_points: 1\n",
        "    deduction_per_step: 0.5\n    max_points: 2\n",
        1,
    )
    rep = _score_with(tmp_path, text, data)
    assert rep["items"]["acd_availability"]["deduction"] == 0.5
    assert rep["items"]["acd_availability"]["score"] == 1.5
    assert rep["max_total"] == 8.0
