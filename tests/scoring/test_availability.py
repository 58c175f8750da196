"""Availability items (排队机可用率, 座席终端可用率, IVR无故障保证率, 话务系统无故障保证率).

Each expected number is written as the arithmetic a person would do by hand.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from scoring import load_rules
from tests.scoring.helpers import (
    DAY,
    NOVEMBER,
    at,
    comps,
    facts,
    flags_of,
    item,
    outage,
    report,
)

ACD = comps("acd-1:acd")


def acd_down(seconds: int | str) -> dict:
    """acd-1 down for `seconds` from Nov 3 00:00 (a string allows a fractional end)."""
    end = f"2026-11-03T{seconds}" if isinstance(seconds, str) else None
    if end is None:
        h, rest = divmod(seconds, 3600)
        d, h = divmod(h, 24)
        m, s = divmod(rest, 60)
        end = at(3 + d, h, m, s)
    return facts(ACD, [outage("acd-1", at(3), end)])


def test_exactly_at_target_costs_nothing():
    result = item(acd_down(25_920), "acd_availability")  # 1% of 30 days
    assert result["value"] == float(1 - Fraction(25_920, NOVEMBER)) == 0.99
    assert (result["deduction"], result["score"]) == (0.0, 1.0)


def test_a_drop_of_0_3_points_is_one_started_step():
    result = item(acd_down(33_696), "acd_availability")  # 1.3% down: 98.7%
    assert result["value"] == float(1 - Fraction(33_696, NOVEMBER))
    assert (result["deduction"], result["score"]) == (0.2, 0.8)


def test_a_drop_of_exactly_1_00_point_is_one_step_not_two():
    result = item(acd_down(51_840), "acd_availability")  # 98% exactly
    assert result["value"] == float(1 - Fraction(51_840, 30 * 86_400))
    assert result["evidence"]["steps"] == 1
    assert (result["deduction"], result["score"]) == (0.2, 0.8)


def test_a_drop_of_1_01_points_is_two_steps():
    # 2.01% of 2,592,000 s = 52,099.2 s: the outage ends on a fraction of a second.
    data = facts(ACD, [outage("acd-1", at(3), "2026-11-03T14:28:19.200000+08:00")])
    result = item(data, "acd_availability")
    assert result["evidence"]["fault_seconds"] == 52_099.2
    assert result["value"] == float(1 - Fraction(52_0992, NOVEMBER * 10))
    assert (result["deduction"], result["score"]) == (0.4, 0.6)


def test_one_microsecond_below_target_is_a_step():
    data = facts(ACD, [outage("acd-1", at(3), "2026-11-03T07:12:00.000001+08:00")])
    result = item(data, "acd_availability")
    assert result["evidence"]["fault_seconds"] == 25_920.000001
    assert result["value"] == float(1 - Fraction(25_920_000_001, NOVEMBER * 10**6))
    assert result["deduction"] == 0.2  # a microsecond under the target is a started step


def test_deduction_is_capped_at_the_item_points():
    result = item(acd_down(10 * DAY), "acd_availability")  # 66.7%
    assert result["evidence"]["steps"] == 33  # ceil((0.99 - 2/3) / 0.01) = ceil(32.33)
    assert (result["deduction"], result["score"]) == (1.0, 0.0)


def test_ivr_steps_count_from_its_own_target():
    # IVR target 99.5%: 1% down (99.0%) is 0.5 points below: one started step.
    data = facts(comps("ivr-1:ivr"), [outage("ivr-1", at(3), at(3, 7, 12))])
    result = item(data, "ivr_fault_free")
    assert result["value"] == float(1 - Fraction(25_920, NOVEMBER))
    assert result["target"] == 0.995
    assert result["deduction"] == 0.2
    # 1.6% down (98.4%) is 1.1 points below: two steps.
    data = facts(comps("ivr-1:ivr"), [outage("ivr-1", at(3), at(3, 11, 31, 12))])
    assert item(data, "ivr_fault_free")["deduction"] == 0.4


def test_month_to_date_ends_the_period_at_as_of():
    data = facts(ACD, [outage("acd-1", at(10), None)], as_of=at(16))
    result = item(data, "acd_availability")
    assert result["evidence"]["working_seconds"] == 15 * DAY
    assert result["evidence"]["fault_seconds"] == 6 * DAY  # open outage runs to as_of
    assert result["value"] == float(1 - Fraction(6, 15))
    assert report(data)["period"] == {"start": at(1), "end": at(16)}


def test_an_open_outage_runs_to_the_end_of_the_month():
    data = facts(ACD, [outage("acd-1", at(30, 20), None)])
    assert item(data, "acd_availability")["evidence"]["fault_seconds"] == 4 * 3600


def test_overlapping_outages_of_one_component_count_once():
    data = facts(
        ACD,
        [
            outage("acd-1", at(3, 10), at(3, 12)),
            outage("acd-1", at(3, 11), at(3, 13)),
            outage("acd-1", at(3, 11, 30), at(3, 11, 45)),
        ],
    )
    assert item(data, "acd_availability")["evidence"]["fault_seconds"] == 3 * 3600


def test_utc_instants_are_placed_in_the_beijing_month():
    data = facts(
        ACD,
        [
            # 2026-10-31 23:00 .. 2026-11-01 01:00 Beijing: one hour falls in November
            outage("acd-1", "2026-10-31T15:00:00Z", "2026-10-31T17:00:00Z"),
            # 2026-11-30 23:30 .. 2026-12-01 00:30 Beijing: half an hour in November
            outage("acd-1", "2026-11-30T15:30:00+00:00", "2026-11-30T16:30:00+00:00"),
        ],
    )
    result = item(data, "acd_availability")
    assert result["evidence"]["fault_seconds"] == 3600 + 1800
    assert result["value"] == float(1 - Fraction(5400, NOVEMBER))


def test_sum_aggregation_divides_total_fault_by_total_working_time():
    data = facts(
        comps("acd-1:acd", "acd-2:acd"),
        [outage("acd-1", at(3), at(4)), outage("acd-2", at(3), at(3, 12))],
    )
    result = item(data, "acd_availability")
    assert result["value"] == float(1 - Fraction(DAY + DAY // 2, 2 * NOVEMBER))
    assert result["evidence"]["working_seconds"] == 2 * NOVEMBER


def test_callsys_union_counts_simultaneous_faults_once_over_the_period():
    data = facts(
        comps("callsys:callsys", "cti-1:callsys"),
        [outage("callsys", at(3, 10), at(3, 12)), outage("cti-1", at(3, 11), at(3, 14))],
    )
    result = item(data, "callsys_fault_free")
    assert result["evidence"]["fault_seconds"] == 4 * 3600
    assert result["value"] == float(1 - Fraction(4 * 3600, NOVEMBER))


def _rules_with(tmp_path, old: str, new: str):
    from importlib import resources

    text = (resources.files("scoring") / "rules" / "changsha-12345.yaml").read_text("utf-8")
    assert old in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    return load_rules(path)


def test_all_aggregation_is_down_only_while_every_node_is_down(tmp_path):
    rules = _rules_with(tmp_path, "    aggregation: sum  ", "    aggregation: all  ")
    data = facts(
        comps("acd-1:acd", "acd-2:acd"),
        [outage("acd-1", at(3, 10), at(3, 12)), outage("acd-2", at(3, 11), at(3, 14))],
    )
    result = item(data, "acd_availability", rules)
    assert result["evidence"]["fault_seconds"] == 3600
    assert result["value"] == float(1 - Fraction(3600, NOVEMBER))


def test_all_aggregation_ignores_a_node_before_it_was_added(tmp_path):
    rules = _rules_with(tmp_path, "    aggregation: sum  ", "    aggregation: all  ")
    components = [*comps("acd-1:acd"), {"id": "acd-2", "system": "acd", "since": at(10)}]
    data = facts(components, [outage("acd-1", at(3), at(3, 2)), outage("acd-1", at(12), at(12, 1))])
    # Before Nov 10 acd-1 stands alone, so its 2 h count; after, acd-2 carried the calls.
    assert item(data, "acd_availability", rules)["evidence"]["fault_seconds"] == 2 * 3600


def test_maintenance_stays_in_the_denominator_and_out_of_fault():
    window = {"id": "mw-1", "start": at(5, 2), "end": at(5, 4), "components": ["acd-1"]}
    data = facts(ACD, [outage("acd-1", at(5, 2), at(5, 3))], [window])
    result = item(data, "acd_availability")
    assert result["evidence"]["fault_seconds"] == 0
    assert result["evidence"]["working_seconds"] == NOVEMBER
    assert result["evidence"]["components"][0]["maintenance_seconds"] == 3600


def test_maintenance_overrun_is_fault():
    window = {"id": "mw-1", "start": at(5, 2), "end": at(5, 3), "components": ["acd-1"]}
    data = facts(ACD, [outage("acd-1", at(5, 2, 30), at(5, 3, 30))], [window])
    result = item(data, "acd_availability")
    assert result["evidence"]["fault_seconds"] == 1800
    assert result["evidence"]["components"][0]["maintenance_seconds"] == 1800


def test_a_window_for_another_component_does_not_cover():
    window = {"id": "mw-1", "start": at(5, 2), "end": at(5, 4), "components": ["acd-2"]}
    data = facts(comps("acd-1:acd", "acd-2:acd"), [outage("acd-1", at(5, 2), at(5, 3))], [window])
    assert item(data, "acd_availability")["evidence"]["fault_seconds"] == 3600


def test_a_star_window_covers_every_component():
    window = {"id": "mw-1", "start": at(5, 2), "end": at(5, 4), "components": ["*"]}
    data = facts(
        comps("acd-1:acd", "seat-1:seat"),
        [outage("acd-1", at(5, 2), at(5, 3)), outage("seat-1", at(5, 2), at(5, 5))],
        [window],
    )
    rep = report(data)
    assert rep["items"]["acd_availability"]["evidence"]["fault_seconds"] == 0
    assert rep["items"]["seat_availability"]["evidence"]["fault_seconds"] == 3600


def test_a_system_with_no_components_is_not_measured():
    rep = report(facts(ACD))
    ivr = rep["items"]["ivr_fault_free"]
    assert ivr["value"] is None
    assert (ivr["deduction"], ivr["score"]) == (0.0, 1.0)
    assert {"type": "not_measured", "item": "ivr_fault_free"} in rep["flags"]
    assert {"type": "not_measured", "item": "acd_availability"} not in rep["flags"]


def test_since_and_until_shrink_a_components_working_time():
    components = [
        {"id": "seat-1", "system": "seat", "since": at(11)},
        {"id": "seat-2", "system": "seat", "until": at(6)},
    ]
    data = facts(components, [outage("seat-1", at(1), at(12)), outage("seat-2", at(5), at(8))])
    result = item(data, "seat_availability")
    assert result["evidence"]["working_seconds"] == 20 * DAY + 5 * DAY
    assert result["evidence"]["fault_seconds"] == DAY + DAY
    assert result["value"] == float(1 - Fraction(2, 25))


def test_working_intervals_count_only_shift_time():
    shifts = [{"start": at(d, 8), "end": at(d, 18)} for d in range(1, 31)]
    components = [{"id": "seat-1", "system": "seat", "working": shifts}]
    data = facts(components, [outage("seat-1", at(4, 17), at(5, 9))])  # 1 h + 1 h in shifts
    result = item(data, "seat_availability")
    assert result["evidence"]["working_seconds"] == 30 * 10 * 3600
    assert result["evidence"]["fault_seconds"] == 2 * 3600
    assert result["value"] == float(1 - Fraction(2, 300))


def test_no_data_is_reported_and_flagged_above_the_threshold():
    no_data = [{"component": "seat-1", "start": at(2), "end": at(4)}]  # 2 of 30 days: 6.7%
    data = facts(comps("seat-1:seat", "acd-1:acd"), no_data=no_data)
    rep = report(data)
    assert rep["items"]["seat_availability"]["evidence"]["no_data_seconds"] == 2 * DAY
    assert rep["items"]["seat_availability"]["value"] == 1.0  # silence is not fault
    [flag] = flags_of(rep, "low_coverage")
    assert flag["system"] == "seat"
    assert flag["no_data_share"] == float(Fraction(2, 30))
    one_day = facts(
        comps("seat-1:seat"), no_data=[{"component": "seat-1", "start": at(2), "end": at(3)}]
    )
    assert flags_of(report(one_day), "low_coverage") == []  # 3.3% is under 5%


def test_an_excluded_outage_is_not_fault_and_is_flagged():
    excluded = {"reason": "probe host rebooted", "approved_by": "center: Wang"}
    data = facts(
        ACD, [outage("acd-1", at(3), at(4), excluded=excluded), outage("acd-1", at(9), at(9, 1))]
    )
    rep = report(data)
    assert rep["items"]["acd_availability"]["evidence"]["fault_seconds"] == 3600
    [flag] = flags_of(rep, "excluded")
    assert flag == {
        "type": "excluded",
        "component": "acd-1",
        "start": at(3),
        "end": at(4),
        "reason": "probe host rebooted",
        "approved_by": "center: Wang",
    }


def test_minute_granularity_counts_a_touched_minute_whole(tmp_path):
    rules = _rules_with(tmp_path, "granularity: second", "granularity: minute")
    data = facts(comps("ivr-1:ivr"), [outage("ivr-1", at(3, 10, 0, 30), at(3, 10, 1, 10))])
    result = item(data, "ivr_fault_free", rules)
    assert result["evidence"]["fault_seconds"] == 120
    assert item(data, "ivr_fault_free")["evidence"]["fault_seconds"] == 40


@pytest.mark.parametrize(
    ("rounding", "deduction"),
    [("ceil", Fraction(2, 5)), ("floor", Fraction(1, 5)), ("linear", Fraction(13, 10) / 5)],
)
def test_step_rounding_is_a_rule_setting(tmp_path, rounding, deduction):
    text_rule = "    step_rounding: ceil       # ceil: per started step | floor | linear"
    rules = _rules_with(tmp_path, text_rule, f"    step_rounding: {rounding}")
    # 97.7% is 1.3 points below 99%
    result = item(acd_down(59_616), "acd_availability", rules)
    assert result["deduction"] == float(deduction)
    assert result["score"] == float(1 - deduction)


def test_a_changed_target_changes_the_score(tmp_path):
    rules = _rules_with(tmp_path, "    target: 0.99\n", '    target: "97%"\n')
    assert item(acd_down(51_840), "acd_availability", rules)["deduction"] == 0.0


def test_the_report_total_adds_the_exact_item_scores():
    data = facts(
        comps("acd-1:acd", "ivr-1:ivr"),
        [outage("acd-1", at(3), at(3, 14, 24)), outage("ivr-1", at(3), at(3, 7, 12))],
    )
    rep = report(data)
    assert rep["items"]["acd_availability"]["score"] == 0.8
    assert rep["items"]["ivr_fault_free"]["score"] == 0.8
    assert rep["total"] == float(7 - Fraction(2, 5))
    assert rep["max_total"] == 7.0
