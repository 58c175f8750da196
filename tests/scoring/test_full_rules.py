"""The whole 100-point table (`changsha-12345-full`): its items against the seed table, a month
scored by hand, the monthly facts, the collector's backups and inspection reports, and the
default rules left exactly as they were."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction
from importlib import resources
from pathlib import Path

import pytest

from scoring import FactsError, load_rules, parse_facts, score
from scoring.cli import render
from tests.scoring.helpers import RULES, at, comps, facts, flags_of, outage

FULL = load_rules("changsha-12345-full")
SEED = Path("/work/shared/seed/scoring-table-zh.txt")
SHIPPED = (resources.files("scoring") / "rules" / "changsha-12345-full.yaml").read_text("utf-8")


def full_report(data: dict) -> dict:
    return score(parse_facts(data, FULL), FULL)


def facts_errors(data: dict, rules=FULL) -> list[str]:
    with pytest.raises(FactsError) as caught:
        parse_facts(data, rules)
    return caught.value.errors


# --- the rule set against the seed table -----------------------------------------------------


def seed_points() -> list[int]:
    """The 分值 column: in the seed's tab-separated layout each item's 分值 is a line holding a
    tab and a number alone. The file's last line, a bare "2" after 备注 without the tab, is a
    page number, not a row."""
    text = SEED.read_text("utf-8")
    return [int(m) for m in re.findall(r"^\t([0-9]+)[ \t]*$", text, flags=re.M)]


@pytest.mark.skipif(not SEED.exists(), reason="the seed table is not on this machine")
def test_the_full_rules_carry_every_row_of_the_seed_table_with_its_points():
    points = seed_points()
    assert len(points) == 38 and sum(points) == 100
    assert [int(i.max_points) for i in FULL.items] == points
    assert all(i.max_points.denominator == 1 for i in FULL.items)


def test_the_full_rules_sum_to_100_in_the_tables_six_sections():
    by_section = {s: sum(i.max_points for i in FULL.items if i.section == s) for s in FULL.sections}
    assert by_section == {
        "制度建设": 6,
        "人员建设": 21,
        "话务平台要求": 7,
        "话务运行服务监管": 49,
        "系统运维服务监管": 13,
        "应急机制": 4,
    }


def test_the_platform_items_of_the_full_set_are_the_default_items():
    platform = [i for i in FULL.items if i.section == "话务平台要求"]
    default = list(RULES.items)
    assert [i.key for i in platform] == [i.key for i in default]
    for mine, theirs in zip(platform, default, strict=True):
        assert mine.measure == theirs.measure and mine.max_points == theirs.max_points == 1
        assert (mine.target, mine.step, mine.deduction_per_step, mine.systems) == (
            theirs.target,
            theirs.step,
            theirs.deduction_per_step,
            theirs.systems,
        )


def test_the_editable_copy_matches_the_shipped_full_rules():
    assert Path("configs/rules/changsha-12345-full.yaml").read_text("utf-8") == SHIPPED


def test_the_default_rules_keep_the_new_collector_items_off():
    assert [i.key for i in RULES.items] == [
        "acd_availability",
        "seat_availability",
        "ivr_fault_free",
        "callsys_fault_free",
        "maintenance_hours",
        "fault_response",
        "service_restoration",
    ]
    assert RULES.sources() == set()


def test_enabling_the_backups_item_in_the_default_rules_scores_it(tmp_path):
    text = (resources.files("scoring") / "rules" / "changsha-12345.yaml").read_text("utf-8")
    text = text.replace(
        "    name: 系统数据备份\n    measure: events\n    enabled: false\n",
        "    name: 系统数据备份\n    measure: events\n",
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    rules = load_rules(path)
    assert [i.key for i in rules.items][-1] == "backups"
    backups = [
        {"component": "db", "kind": "daily", "due": at(2, 6), "done_at": None},
        {"component": "db", "kind": "monthly", "due": at(1, 6), "done_at": at(1, 5)},
    ]
    rep = score(parse_facts(facts(comps("acd-1:acd"), backups=backups), rules), rules)
    assert rep["items"]["backups"]["deduction"] == 0.5
    assert rep["max_total"] == 10.0  # 7 + the item's 3 points


# --- a month scored by hand ------------------------------------------------------------------

EVERY_SYSTEM = comps("acd-1:acd", "ivr-1:ivr", "seat-1:seat", "callsys-1:callsys", "other-1:other")

HAND_MONTHLY = {
    "org_filing": {"count": 2},
    "policy_filing": 0,
    "data_management": {"events": {"record_error": [1.5], "late_or_false_report": 1}},
    "training_teambuilding": {"count": 0},
    "staffing": {"events": {"staff_short": 3}},
    "attendance": "93.5%",
    "staff_feedback": 3,
    "training_costs": {"events": {"late_or_incomplete": 1}},
    "staff_welfare": {"count": 1},
    "staff_turnover": 0.15,
    "floor_discipline": {"count": 4, "note": "现场抽查"},
    "online_resolution_rate": "70%",
    "hangup_satisfaction": 0.98,
    "call_answer_rate": {"value": "93%", "note": "话务系统月报"},
    "average_handling_time": 301,
    "after_call_work_time": 120,
    "quality_check_rate": "4.5%",
    "complaint_callback_rate": 0.9,
    "spot_check_pass_rate": 0.9,
    "ticket_dispatch_timeliness": 1,
    "ticket_acceptance_accuracy": 0,
    "knowledge_review": {"count": 3},
    "knowledge_ticket_timeliness": 0,
    "public_opinion": {"events": {"municipal_media": 1, "leadership_instruction": [2]}},
    "system_routine": {"events": {}},
    "system_task_response": {"events": {"task_late_over_10_days": 1, "nonconforming_release": 1}},
    "rectification_response": {"events": {"late_repair": 2}},
    "operations_data_timeliness": {"events": {}},
    "data_accuracy": 1,
    "traffic_dispatch": 0,
    "emergency_response": 1,
}
HAND_BACKUPS = [
    {"component": "db-backup", "kind": "monthly", "due": at(1, 6), "done_at": at(1, 6)},
    {"component": "db-backup", "kind": "daily", "due": at(2, 6), "done_at": at(2, 6, 0, 1)},
    {"component": "db-backup", "kind": "daily", "due": at(3, 6), "done_at": None},
    {
        "component": "db-backup",
        "kind": "daily",
        "due": "2026-10-31T06:00:00+08:00",
        "done_at": None,
    },
    {
        "component": "db-backup",
        "kind": "daily",
        "due": "2026-12-01T06:00:00+08:00",
        "done_at": None,
    },
]
HAND_INSPECTION = [
    {"month": "2026-10", "submitted_at": "2026-11-07T23:59:59+08:00", "complete": False},
    {"month": "2026-09", "submitted_at": None, "complete": False},
]


def hand_month() -> dict:
    return facts(
        EVERY_SYSTEM,
        [outage("acd-1", at(3, 10), at(3, 22))],
        monthly=HAND_MONTHLY,
        backups=HAND_BACKUPS,
        inspection_reports=HAND_INSPECTION,
    )


def test_a_hand_checked_month_scores_exactly():
    """November 2026, worked out by hand from the table (each score = points − capped deduction):

    制度建设 (6): 组织机构 2 × 0.2 → 0.6; 制度建立 0 → 1; 数据管理 1.5 (graded) + 1 × 1 = 2.5,
      capped at 2 → 0; 培训和团建 0 → 2. Section 3.6.
    人员建设 (21): 人员配备 3 short × 0.5 → 4 − 1.5 = 2.5; 考勤 93.5 % is 1.5 points under 95 %,
      2 started steps × 0.5 → 1.0; 员工沟通渠道 3 reports, 2 short × 0.2 → 1.6; 人员培训费用
      1 × 0.5 → 3.5; 员工福利 one 不得分 → 0; 流失率 exactly 15 % → 3; 综合管理 4 × 0.2 → 1.2.
      Section 12.8.
    话务平台要求 (7): the ACD is down 12 h of 720 h: 1 − 1/60 = 98.33 %, one started step under
      99 % → 0.8; the other six items 1 each. Section 6.8.
    话务运行服务监管 (49): 在线办结率 exactly 70 % → 4; 挂机满意度 98 % → 4; 接通率 93 %: exactly 2
      steps × 0.5 → 3; 平均处理时长 301 s: 1 s over, one started 5 s step × 0.2 → 2.8; 呼叫后处理
      exactly 120 s → 3; 质检率 4.5 %: half a point under, one started step × 0.5 → 3.5; 回访率
      90 %: 10 steps × 0.5 = 5, capped at 3 → 0; 抽查合格率 exactly 90 % → 4; 受理及时性 1 × 0.5
      → 2.5; 受理准确性 0 → 3; 知识库审核 3 days × 0.5 → 2.5; 知识库工单 0 → 5; 舆情 市级 1 + an
      instruction graded 2 = 3 → 2. Section 39.3.
    系统运维服务监管 (13): 系统日常管理 — the October report, due by 2026-11-07 24:00, came at
      23:59:59 (on time) but incomplete: 0.5; of November's backups the monthly one done at its
      due instant is on time, the one done a second late and the one never done are missed
      (2 × 0.5); October's and December's do not count: 1.5 → 1.5. 系统服务响应 1 + 0.5 → 0.5;
      整改需求 2 × 0.2 → 1.6; 运营数据报送 0 → 3; 数据准确性 1 × 0.5 → 2.5. Section 9.1.
    应急机制 (4): 调度 0 → 2; 突发事件 1 × 0.5 → 1.5. Section 3.5.
    Total 3.6 + 12.8 + 6.8 + 39.3 + 9.1 + 3.5 = 75.1 of 100.
    """
    rep = full_report(hand_month())
    expected_scores = {
        "org_filing": "0.6", "policy_filing": "1", "data_management": "0",
        "training_teambuilding": "2", "staffing": "2.5", "attendance": "1",
        "staff_feedback": "1.6", "training_costs": "3.5", "staff_welfare": "0",
        "staff_turnover": "3", "floor_discipline": "1.2", "acd_availability": "0.8",
        "seat_availability": "1", "ivr_fault_free": "1", "callsys_fault_free": "1",
        "maintenance_hours": "1", "fault_response": "1", "service_restoration": "1",
        "online_resolution_rate": "4", "hangup_satisfaction": "4", "call_answer_rate": "3",
        "average_handling_time": "2.8", "after_call_work_time": "3",
        "quality_check_rate": "3.5", "complaint_callback_rate": "0",
        "spot_check_pass_rate": "4", "ticket_dispatch_timeliness": "2.5",
        "ticket_acceptance_accuracy": "3", "knowledge_review": "2.5",
        "knowledge_ticket_timeliness": "5", "public_opinion": "2", "system_routine": "1.5",
        "system_task_response": "0.5", "rectification_response": "1.6",
        "operations_data_timeliness": "3", "data_accuracy": "2.5", "traffic_dispatch": "2",
        "emergency_response": "1.5",
    }  # fmt: skip
    assert {k: i["score"] for k, i in rep["items"].items()} == {
        k: float(Fraction(v)) for k, v in expected_scores.items()
    }
    assert [(s["name"], s["score"], s["max_points"]) for s in rep["sections"]] == [
        ("制度建设", 3.6, 6.0),
        ("人员建设", 12.8, 21.0),
        ("话务平台要求", 6.8, 7.0),
        ("话务运行服务监管", float(Fraction("39.3")), 49.0),
        ("系统运维服务监管", 9.1, 13.0),
        ("应急机制", 3.5, 4.0),
    ]
    assert rep["total"] == 75.1 and rep["max_total"] == 100.0
    assert not flags_of(rep, "not_measured") and not flags_of(rep, "partly_measured")
    routine = rep["items"]["system_routine"]["evidence"]
    assert routine["inspection_report"]["status"] == "on_time"
    assert routine["inspection_report"]["incomplete"] is True
    assert [r["status"] for r in routine["backups"]["rows"]] == ["on_time", "late", "missed"]
    attendance = rep["items"]["attendance"]
    assert (attendance["value"], attendance["target"], attendance["evidence"]["steps"]) == (
        0.935,
        0.95,
        2,
    )
    assert rep["items"]["average_handling_time"]["value"] == 301.0
    assert rep["items"]["public_opinion"]["evidence"]["deduction_before_cap"] == 3


def test_the_hand_checked_month_renders_in_every_format_with_its_sections():
    data = hand_month()
    parsed = parse_facts(data, FULL)
    rep = score(parsed, FULL)
    md = render("md", rep, FULL, parsed).decode("utf-8")
    html = render("html", rep, FULL, parsed).decode("utf-8")
    for section in FULL.sections:
        assert f"| **{section}** |" in md
        assert f'data-section="{section}"' in html
    assert "**75.1**（满分 100）" in md
    assert 'data-key="system_routine"' in html and "巡检报告记录不完整" in html
    assert "2026-10 巡检报告：截止 2026-11-08T00:00:00+08:00" in md
    xlsx = render("xlsx", rep, FULL, parsed)
    assert xlsx.startswith(b"PK")


# --- absent facts are flagged, never silently full -------------------------------------------


def test_an_item_without_its_monthly_fact_is_not_measured_and_flagged():
    rep = full_report(facts(EVERY_SYSTEM, monthly={"call_answer_rate": "96%"}))
    item = rep["items"]["hangup_satisfaction"]
    assert item["value"] is None and item["score"] == 4.0
    assert {"type": "not_measured", "item": "hangup_satisfaction", "missing": ["monthly"]} in rep[
        "flags"
    ]
    assert rep["items"]["call_answer_rate"]["value"] == 0.96
    assert {"type": "not_measured", "item": "call_answer_rate"} not in [
        {k: f[k] for k in ("type", "item")} for f in rep["flags"] if "item" in f
    ]
    parsed = parse_facts(facts(EVERY_SYSTEM, monthly={"call_answer_rate": "96%"}), FULL)
    md = render("md", rep, FULL, parsed).decode("utf-8")
    warning = next(line for line in md.splitlines() if line.startswith("> - 缺少数据"))
    assert "挂机满意度（缺少月度数据）" in warning and "月均呼叫接通率" not in warning


def test_missing_collector_facts_leave_the_row_partly_measured():
    rep = full_report(facts(EVERY_SYSTEM, monthly={"system_routine": {"events": {}}}))
    assert {
        "type": "partly_measured",
        "item": "system_routine",
        "missing": ["inspection_reports", "backups"],
    } in rep["flags"]
    assert rep["items"]["system_routine"]["value"] == 0.0
    none_at_all = full_report(facts(EVERY_SYSTEM))
    assert {
        "type": "not_measured",
        "item": "system_routine",
        "missing": ["inspection_reports", "backups", "monthly"],
    } in none_at_all["flags"]


def test_no_backup_due_in_the_month_is_missing_facts_not_a_clean_month():
    rep = full_report(
        facts(
            EVERY_SYSTEM,
            monthly={"system_routine": {"events": {}}},
            inspection_reports=[{"month": "2026-10", "submitted_at": at(2), "complete": True}],
            backups=[
                {"component": "db", "kind": "daily", "due": at(1, 6, month=12), "done_at": None}
            ],
        )
    )
    assert {"type": "partly_measured", "item": "system_routine", "missing": ["backups"]} in rep[
        "flags"
    ]


# --- the inspection report's deadline and the backups ------------------------------------------


def routine(data_month: str, reports: list, as_of: str, backups: list | None = None) -> dict:
    """The 系统日常管理 row of `data_month` (one backup done on time unless `backups` given)."""
    if backups is None:
        due, done = f"{data_month}-01T06:00:00+08:00", f"{data_month}-01T05:00:00+08:00"
        backups = [{"component": "db", "kind": "daily", "due": due, "done_at": done}]
    data = facts(
        EVERY_SYSTEM,
        month=data_month,
        as_of=as_of,
        monthly={"system_routine": {"events": {}}},
        inspection_reports=reports,
        backups=backups,
    )
    return full_report(data)["items"]["system_routine"]


@pytest.mark.parametrize(
    ("submitted", "status", "deduction"),
    [
        ("2026-11-07T23:59:59.999999+08:00", "on_time", 0.0),
        ("2026-11-08T00:00:00+08:00", "late", 0.5),  # the deadline itself is late
        ("2026-11-07T16:00:00Z", "late", 0.5),  # the same instant in UTC
        ("2026-11-07T15:59:59Z", "on_time", 0.0),
    ],
)
def test_the_inspection_report_is_due_by_the_end_of_the_7th_local_day(submitted, status, deduction):
    item = routine(
        "2026-11",
        [{"month": "2026-10", "submitted_at": submitted, "complete": True}],
        "2026-12-06T09:00:00+08:00",
    )
    assert item["evidence"]["inspection_report"]["status"] == status
    assert item["deduction"] == deduction


def test_the_inspection_deadline_counts_calendar_days_through_golden_week():
    """October 1–7 2026 are statutory holidays (国庆); the deadline stays the end of the 7th."""
    item = routine(
        "2026-10",
        [{"month": "2026-09", "submitted_at": "2026-10-08T09:00:00+08:00", "complete": True}],
        "2026-11-02T09:00:00+08:00",
    )
    assert item["evidence"]["inspection_report"]["deadline"] == "2026-10-08T00:00:00+08:00"
    assert item["evidence"]["inspection_report"]["status"] == "late"
    assert item["deduction"] == 0.5


def test_a_report_never_submitted_is_late_once_due_and_pending_before():
    reports: list = []
    assert routine("2026-11", reports, "2026-11-08T00:00:00+08:00")["deduction"] == 0.5
    pending = routine("2026-11", reports, "2026-11-07T23:00:00+08:00")
    assert pending["evidence"]["inspection_report"]["status"] == "pending"
    assert pending["deduction"] == 0.0


def test_a_late_and_incomplete_report_costs_both_deductions():
    item = routine(
        "2026-11",
        [{"month": "2026-10", "submitted_at": "2026-11-09T10:00:00+08:00", "complete": False}],
        "2026-12-06T09:00:00+08:00",
    )
    assert item["deduction"] == 1.0


def test_a_rule_setting_moves_the_inspection_deadline(tmp_path):
    path = tmp_path / "full.yaml"
    path.write_text(SHIPPED.replace("  due_day: 7", "  due_day: 10"), "utf-8")
    rules = load_rules(path)
    data = facts(
        EVERY_SYSTEM,
        monthly={"system_routine": {"events": {}}},
        inspection_reports=[{"month": "2026-10", "submitted_at": at(9, 12), "complete": True}],
        backups=[],
    )
    item = score(parse_facts(data, rules), rules)["items"]["system_routine"]
    assert item["evidence"]["inspection_report"]["deadline"] == "2026-11-11T00:00:00+08:00"
    assert item["evidence"]["inspection_report"]["status"] == "on_time"


def test_backups_done_at_their_due_instant_are_on_time_and_open_ones_wait_for_it():
    due = at(10, 6)
    cases = [
        ({"done_at": due}, "on_time"),
        ({"done_at": "2026-11-10T06:00:00.000001+08:00"}, "late"),
        ({"done_at": None}, "pending"),  # as_of is the due instant: not past it yet
    ]
    for extra, status in cases:
        backup = {"component": "db", "kind": "daily", "due": due, **extra}
        item = routine("2026-11", [], due, backups=[backup])
        assert item["evidence"]["backups"]["rows"][0]["status"] == status, extra
        assert item["evidence"]["backups"]["missed"] == (status == "late")
    later = routine(
        "2026-11",
        [],
        "2026-11-10T06:00:00.000001+08:00",
        backups=[{"component": "db", "kind": "daily", "due": due, "done_at": None}],
    )
    assert later["evidence"]["backups"]["rows"][0]["status"] == "missed"


def test_many_missed_backups_are_capped_at_the_rows_points():
    backups = [
        {"component": "db", "kind": "daily", "due": at(day, 6), "done_at": None}
        for day in range(1, 31)
    ]
    item = routine("2026-11", [], "2026-12-06T09:00:00+08:00", backups=backups)
    assert item["evidence"]["backups"]["missed"] == 30
    assert (item["deduction"], item["score"]) == (3.0, 0.0)


# --- the monthly facts' shape ------------------------------------------------------------------


def test_bad_monthly_entries_are_errors_naming_the_field():
    errors = facts_errors(
        facts(
            EVERY_SYSTEM,
            monthly={
                "call_answer_rate": "96",
                "acd_availability": 0.99,
                "answer_rate": 0.9,
                "public_opinion": {"events": {"tv": 1, "leadership_instruction": [4]}},
                "org_filing": {"count": -1},
                "staffing": 2,
            },
        )
    )
    assert errors == [
        "monthly.call_answer_rate: must be a ratio from 0 to 1 (0.962 or 96.2%), not '96'",
        "monthly.acd_availability: is computed from the outages and incidents, not from monthly "
        "facts",
        "monthly.answer_rate: is not a monthly item of the rules 'changsha-12345-full'",
        "monthly.public_opinion.events.tv: unknown event kind (kinds: national_media, "
        "provincial_media, municipal_media, leadership_instruction, leadership_criticism, "
        "written_complaint)",
        "monthly.public_opinion.events.leadership_instruction[0]: must be from 1 to 3",
        "monthly.org_filing.count: must be a whole number of occurrences from 0, not -1",
        'monthly.staffing: must be {"events": {kind: count}} (kinds: unqualified_manager, '
        "staff_short, ledger_deficient)",
    ]


def test_bad_collector_facts_are_errors_naming_the_field():
    errors = facts_errors(
        facts(
            EVERY_SYSTEM,
            backups=[{"component": "", "kind": "hourly", "due": "2026-11-02 06:00"}],
            inspection_reports=[
                {"month": "2026-13", "submitted_at": None, "complete": True},
                {"month": "2026-10", "submitted_at": None},
            ],
        )
    )
    assert errors == [
        "backups[0].component: required, a non-empty string, not ''",
        "backups[0].kind: must be one of daily, monthly, not 'hourly'",
        "backups[0].due: not an ISO instant with an offset",
        "inspection_reports[0].month: must be a month (YYYY-MM), not '2026-13'",
        "inspection_reports[1].complete: required, true or false, not null",
    ]


# --- the default rules are untouched -----------------------------------------------------------


def test_the_default_rules_ignore_the_new_facts_even_malformed_ones():
    plain = facts(EVERY_SYSTEM, [outage("acd-1", at(3, 10), at(3, 22))])
    extended = {
        **plain,
        "monthly": {"nonsense": [1, 2], "call_answer_rate": "0.5"},
        "backups": "not a list",
        "inspection_reports": [{"month": "soon"}],
    }
    for fmt in ("json", "md", "html"):
        a, b = (parse_facts(d, RULES) for d in (plain, extended))
        assert render(fmt, score(a, RULES), RULES, a) == render(fmt, score(b, RULES), RULES, b)
    assert "sections" not in score(parse_facts(extended, RULES), RULES)


def test_the_cli_scores_the_full_table_by_its_shipped_name(tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(hand_month()), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "score", "--facts", str(path), "--rules",
         "changsha-12345-full"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rep = json.loads(done.stdout)
    assert (rep["rules"], rep["total"], rep["max_total"]) == ("changsha-12345-full", 75.1, 100.0)
    closed = tmp_path / "closed"
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "score", "--facts", str(path), "--rules",
         "changsha-12345-full", "--close", str(closed)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (closed / "rules.yaml").read_text("utf-8") == SHIPPED
    assert json.loads((closed / "report.json").read_text("utf-8"))["total"] == 75.1
