"""Coverage: how much of each item's period was actually measured, next to every value, and a
warning at the very top of the report when monitoring was missing (issue 9: a month with no
monitoring at all scored 7 / 7 with one `low_coverage` flag buried among the others)."""

from __future__ import annotations

from fractions import Fraction

from scoring.report_md import render_markdown
from tests.scoring.helpers import DAY, NOVEMBER, RULES, at, comps, facts, flags_of, report

EVERY_SYSTEM = comps(
    "acd-1:acd", "acd-2:acd", "ivr-1:ivr", "seat-1:seat", "callsys:callsys", "rec-1:other"
)
MONTH_START, MONTH_END = at(1), "2026-12-01T00:00:00+08:00"


def silent(component: str, start: str = MONTH_START, end: str = MONTH_END) -> dict[str, str]:
    return {"component": component, "start": start, "end": end}


def test_a_month_without_any_data_shows_zero_coverage_for_every_item():
    rep = report(facts(EVERY_SYSTEM, no_data=[silent(c["id"]) for c in EVERY_SYSTEM]))
    assert rep["total"] == 7.0  # the table has nothing to deduct from …
    for key, item in rep["items"].items():
        assert item["coverage"] == 0.0, key  # … and every item says it measured nothing
    for system, row in rep["coverage"].items():
        assert row["coverage"] == 0.0, system
        assert row["low"] is True
    assert {f["system"] for f in flags_of(rep, "low_coverage")} == set(RULES.systems)


def test_a_month_without_any_data_opens_the_markdown_report_with_the_warning():
    rep = report(facts(EVERY_SYSTEM, no_data=[silent(c["id"]) for c in EVERY_SYSTEM]))
    text = render_markdown(rep, RULES)
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    assert lines[2].startswith("> **⚠ 监测覆盖不足")
    warning = text[: text.index("- 统计区间")]
    assert text.index("监测覆盖不足") < text.index("## 得分汇总")
    for system, label in RULES.systems.items():
        assert f"> - {label}（`{system}`）：监测覆盖率 **0.0000%**" in warning
    assert warning.count("整个统计区间无任何监测数据") == len(RULES.systems)
    # Shown at the top, not again among the flags.
    flags_section = text[text.index("## 标记") : text.index("## 各项依据")]
    assert "无数据时间占比" not in flags_section
    assert "| 排队机可用率 | 100.0000% | **0.0000%** |" in text


def test_partial_coverage_is_exact():
    # acd-1 silent for 3 h, seat-1 for a day: exact shares of their items' working time.
    data = facts(
        EVERY_SYSTEM,
        no_data=[silent("acd-1", at(3, 10), at(3, 13)), silent("seat-1", at(5), at(6))],
    )
    rep = report(data)
    items = rep["items"]
    acd = 1 - Fraction(3 * 3600, 2 * NOVEMBER)
    assert items["acd_availability"]["coverage"] == float(acd)
    assert items["acd_availability"]["evidence"]["coverage_formula"] == (
        f"1 - {3 * 3600} / {2 * NOVEMBER}"
    )
    assert items["seat_availability"]["coverage"] == float(1 - Fraction(DAY, NOVEMBER))
    assert items["ivr_fault_free"]["coverage"] == 1.0
    assert items["callsys_fault_free"]["coverage"] == 1.0
    # Maintenance: ACD, IVR, call system and other hardware (5 components; seats excluded).
    assert items["maintenance_hours"]["coverage"] == float(1 - Fraction(3 * 3600, 5 * NOVEMBER))
    # Incidents: every component (6), since the probes are what detect faults.
    every = float(1 - Fraction(3 * 3600 + DAY, 6 * NOVEMBER))
    assert items["fault_response"]["coverage"] == every
    assert items["service_restoration"]["coverage"] == every
    assert rep["coverage"]["acd"] == {
        "coverage": float(acd),
        "working_seconds": 2 * NOVEMBER,
        "no_data_seconds": 3 * 3600,
        "low": False,
    }
    assert "监测覆盖不足" not in render_markdown(rep, RULES)


def test_coverage_counts_only_the_working_time_of_the_period():
    # Month to date (as_of on the 11th, 10 days) and a seat working 08:00-20:00 on the 3rd only:
    # no-data time after as_of or outside the shift does not count.
    seat = {
        "id": "seat-1",
        "system": "seat",
        "working": [{"start": at(3, 8), "end": at(3, 20)}],
    }
    data = facts(
        [*comps("acd-1:acd"), seat],
        no_data=[silent("acd-1", at(10), at(20)), silent("seat-1", at(3), at(3, 10))],
        as_of=at(11),
    )
    items = report(data)["items"]
    assert items["acd_availability"]["coverage"] == 0.9
    assert items["seat_availability"]["coverage"] == float(Fraction(10, 12))


def test_low_coverage_is_a_share_strictly_above_the_threshold():
    # 5% of one ACD's month is exactly the threshold: not low; a microsecond more is.
    five_percent = NOVEMBER * 5 // 100  # 36 h
    at_threshold = silent("acd-1", at(1), at(2, 12))
    assert five_percent == 36 * 3600
    rep = report(facts(comps("acd-1:acd"), no_data=[at_threshold]))
    assert rep["items"]["acd_availability"]["coverage"] == 0.95
    assert rep["coverage"]["acd"]["low"] is False
    assert flags_of(rep, "low_coverage") == []
    over = silent("acd-1", at(1), "2026-11-02T12:00:00.000001+08:00")
    rep = report(facts(comps("acd-1:acd"), no_data=[over]))
    assert rep["coverage"]["acd"]["low"] is True
    assert len(flags_of(rep, "low_coverage")) == 1
    text = render_markdown(rep, RULES)
    assert text.index("> - 排队机（`acd`）：监测覆盖率 **94.9999%**") < text.index("## 得分汇总")


def test_items_without_components_have_no_coverage_and_are_named_in_the_warning():
    rep = report(facts(comps("acd-1:acd")))
    assert rep["items"]["acd_availability"]["coverage"] == 1.0
    assert rep["items"]["seat_availability"]["value"] is None
    assert rep["items"]["seat_availability"]["coverage"] is None
    assert rep["coverage"]["seat"] == {
        "coverage": None,
        "working_seconds": 0,
        "no_data_seconds": 0,
        "low": False,
    }
    text = render_markdown(rep, RULES)
    assert "| 座席终端可用率 | 未测量 | — |" in text
    warning = text[: text.index("## 得分汇总")]
    assert (
        "未测量（无对应组件），按满分计：座席终端可用率、IVR无故障保证率、话务系统无故障保证率"
        in warning
    )


def test_the_report_keeps_its_keys_and_adds_coverage():
    item = report(facts(comps("acd-1:acd")))["items"]["acd_availability"]
    assert list(item) == [
        "name",
        "value",
        "coverage",
        "target",
        "max_points",
        "deduction",
        "score",
        "evidence",
    ]
