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
