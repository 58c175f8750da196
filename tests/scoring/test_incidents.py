"""故障响应及时率, 话务恢复及时率 and the written report due 2 working days after a repair."""

from __future__ import annotations

from fractions import Fraction

import pytest

from scoring import load_rules
from tests.scoring.helpers import AFTER_NOVEMBER, at, comps, facts, flags_of, incident, report

ACD = comps("acd-1:acd")


def one(inc: dict, as_of: str = AFTER_NOVEMBER, rules=None) -> dict:
    return report(facts(ACD, incidents=[inc], as_of=as_of), *([rules] if rules else []))


def test_a_response_exactly_at_the_limit_is_timely():
    rep = one(incident("I1", at(3, 10), responded=at(3, 10, 15), restored=at(3, 11)))
    result = rep["items"]["fault_response"]
    assert result["evidence"]["incidents"][0]["elapsed_seconds"] == 900
    assert result["evidence"]["incidents"][0]["limit_seconds"] == 900
    assert (result["value"], result["evidence"]["counted"], result["evidence"]["timely"]) == (
        1.0,
        1,
        1,
    )


def test_a_response_one_second_late_is_untimely():
    rep = one(incident("I1", at(3, 10), responded=at(3, 10, 15, 1), restored=at(3, 11)))
    result = rep["items"]["fault_response"]
    assert result["value"] == 0.0
    assert result["evidence"]["incidents"][0]["status"] == "late"


def test_rates_are_timely_over_counted_with_steps_from_the_target():
    incidents = [
        incident(f"I{n}", at(3 + n % 20, n // 20), responded=at(3 + n % 20, n // 20, 5))
        | {"restored_at": at(3 + n % 20, n // 20, 30), "report_submitted_at": at(3 + n % 20, 23)}
        for n in range(99)
    ] + [incident("LATE", at(28, 10), at(28, 11), restored=at(28, 15), report_at=at(29))]
    rep = report(facts(ACD, incidents=incidents))
    response = rep["items"]["fault_response"]
    assert response["value"] == float(Fraction(99, 100))
    assert response["deduction"] == 0.0  # 99% is the target
    restoration = rep["items"]["service_restoration"]
    assert restoration["value"] == float(Fraction(99, 100))  # 5 h against P1's 2 h
    incidents.append(incident("LATE2", at(28, 12), at(28, 13), at(28, 13), report_at=at(29)))
    rep = report(facts(ACD, incidents=incidents))
    assert rep["items"]["fault_response"]["value"] == float(Fraction(99, 101))
    assert rep["items"]["fault_response"]["deduction"] == 0.2  # 98.02%: one started step


def test_one_late_of_two_costs_the_whole_item():
    incidents = [
        incident("I1", at(3, 10), responded=at(3, 10, 5), restored=at(3, 11)),
        incident("I2", at(4, 10), responded=at(4, 11), restored=at(4, 11)),
    ]
    result = report(facts(ACD, incidents=incidents))["items"]["fault_response"]
    assert result["value"] == 0.5
    assert result["evidence"]["steps"] == 49
    assert (result["deduction"], result["score"]) == (1.0, 0.0)


def test_no_counted_incidents_is_100_percent():
    rep = report(facts(ACD))
    for key in ("fault_response", "service_restoration"):
        assert rep["items"][key]["value"] == 1.0
        assert rep["items"][key]["evidence"]["counted"] == 0
        assert rep["items"][key]["score"] == 1.0


def test_unanswered_within_the_limit_is_pending_and_not_counted():
    rep = one(incident("I1", at(20, 10)), as_of=at(20, 10, 10))
    response = rep["items"]["fault_response"]
    assert response["evidence"]["counted"] == 0
    assert response["evidence"]["incidents"][0]["status"] == "pending"
    assert response["value"] == 1.0
    assert {"type": "incident_pending", "incident": "I1"} in rep["flags"]
    assert {"type": "incident_unrestored", "incident": "I1"} in rep["flags"]


def test_unanswered_past_the_limit_is_untimely():
    rep = one(incident("I1", at(20, 10), restored=at(20, 11)), as_of=at(20, 12))
    response = rep["items"]["fault_response"]
    assert response["evidence"]["counted"] == 1
    assert response["evidence"]["incidents"][0]["status"] == "missing"
    assert response["value"] == 0.0
    assert rep["items"]["service_restoration"]["value"] == 1.0


def test_responded_but_unrestored_is_pending_until_the_restoration_limit_passes():
    within = one(incident("I1", at(20, 10), responded=at(20, 10, 5)), as_of=at(20, 11))
    assert within["items"]["service_restoration"]["evidence"]["counted"] == 0
    assert flags_of(within, "incident_pending") == [{"type": "incident_pending", "incident": "I1"}]
    past = one(incident("I1", at(20, 10), responded=at(20, 10, 5)), as_of=at(20, 12, 0, 1))
    assert past["items"]["service_restoration"]["value"] == 0.0
    assert flags_of(past, "incident_pending") == []
    assert flags_of(past, "incident_unrestored") == [
        {"type": "incident_unrestored", "incident": "I1"}
    ]


def test_missing_severity_counts_as_p2():
    rep = one(incident("I1", at(3, 10), responded=at(3, 10, 25), restored=at(3, 13), severity=None))
    response = rep["items"]["fault_response"]
    assert response["evidence"]["incidents"][0]["severity"] == "P2"
    assert response["value"] == 1.0  # 25 min is within P2's 30 min, not P1's 15


def test_incidents_detected_in_the_previous_month_are_not_counted():
    previous = incident("OCT", at(31, 23, month=10), restored=at(1, 3))  # never responded
    rep = one(previous)
    assert rep["items"]["fault_response"]["evidence"]["counted"] == 0
    assert rep["items"]["service_restoration"]["evidence"]["counted"] == 0
    assert [f for f in rep["flags"] if "incident" in f] == []


def test_detection_in_utc_counts_in_the_beijing_month():
    # 2026-10-31T16:30Z is 2026-11-01 00:30 in Beijing: a November incident.
    inc = incident(
        "I1",
        "2026-10-31T16:30:00Z",
        responded="2026-10-31T16:40:00Z",
        restored="2026-10-31T17:00:00Z",
    )
    rep = one(inc)
    assert rep["items"]["fault_response"]["evidence"]["counted"] == 1


# --- written reports -----------------------------------------------------------------------


def deadline_of(restored: str, **kw) -> dict:
    inc = incident("I1", restored, responded=restored, restored=restored, **kw)
    month = int(restored[5:7])
    data = facts(
        ACD,
        incidents=[inc],
        month=f"2026-{month:02d}",
        as_of=kw.get("as_of", "2026-12-20T00:00:00+08:00"),
    )
    rep = report(data)
    return rep["items"]["fault_response"]["evidence"]["reports"][0]


@pytest.mark.parametrize(
    ("restored", "deadline", "why"),
    [
        (at(4, 15), at(7), "Wed: Thu 5 and Fri 6 are the two working days"),
        (at(6, 15), at(11), "Fri: the weekend is skipped, Mon 9 and Tue 10"),
        (at(24, 23, 59, month=9), at(30, month=9), "Mid-Autumn 25-27 off: Mon 28, Tue 29"),
        (at(30, 10, month=9), at(10, month=10), "National Day 1-7 off: Thu 8, Fri 9"),
        (at(18, 12, month=9), at(22, month=9), "Sun 20 is a make-up workday: Sun 20, Mon 21"),
        (at(9, 12, month=10), at(13, month=10), "Sat 10 is a make-up workday: Sat 10, Mon 12"),
    ],
)
def test_report_deadline_is_midnight_after_the_second_working_day(restored, deadline, why):
    assert deadline_of(restored)["deadline"] == deadline, why


def test_report_deadline_uses_the_beijing_date_of_restoration():
    # 2026-11-04T16:30Z is Thursday 5 Nov 00:30 in Beijing: Fri 6 and Mon 9 → Tue 10 00:00.
    assert deadline_of("2026-11-04T16:30:00Z")["deadline"] == at(10)


def _report_flags(report_at: str | None, as_of: str) -> tuple[list[dict], dict]:
    inc = incident("I1", at(4, 10), responded=at(4, 10, 5), restored=at(4, 11), report_at=report_at)
    rep = one(inc, as_of=as_of)
    kinds = [f for f in rep["flags"] if f["type"].startswith("report_")]
    return kinds, rep["items"]["fault_response"]


def test_a_report_submitted_exactly_at_the_deadline_is_late():
    flags, result = _report_flags(at(7), AFTER_NOVEMBER)  # deadline Sat 7 Nov 00:00
    assert flags == [{"type": "report_late", "incident": "I1", "deadline": at(7)}]
    assert result["value"] == 1.0  # the rate is responses alone
    assert (result["deduction"], result["score"]) == (0.2, 0.8)


def test_a_report_submitted_just_before_the_deadline_is_on_time():
    flags, result = _report_flags("2026-11-06T23:59:59.999999+08:00", AFTER_NOVEMBER)
    assert flags == []
    assert result["deduction"] == 0.0


def test_no_report_is_missing_once_as_of_reaches_the_deadline():
    flags, result = _report_flags(None, at(7))
    assert flags == [{"type": "report_missing", "incident": "I1", "deadline": at(7)}]
    assert result["deduction"] == 0.2


def test_no_report_before_the_deadline_is_pending_and_costs_nothing():
    flags, result = _report_flags(None, "2026-11-06T23:59:59+08:00")
    assert flags == [{"type": "report_pending", "incident": "I1", "deadline": at(7)}]
    assert result["deduction"] == 0.0


def test_report_deductions_add_to_the_response_rate_deduction():
    incidents = [
        incident("I1", at(4, 10), responded=at(4, 11), restored=at(4, 11)),  # late response
        incident("I2", at(5, 10), responded=at(5, 10, 1), restored=at(5, 11)),  # no report
        incident("I3", at(6, 10), responded=at(6, 10, 1), restored=at(6, 11), report_at=at(6, 12)),
    ]
    rep = report(facts(ACD, incidents=incidents))
    result = rep["items"]["fault_response"]
    assert result["value"] == float(Fraction(2, 3))
    # 66.67% is 32.33 points below 99%: capped at 1 point anyway
    assert (result["deduction"], result["score"]) == (1.0, 0.0)
    assert result["evidence"]["reports_late_or_missing"] == 2


def test_two_missing_reports_cost_0_4_when_responses_were_timely():
    incidents = [
        incident(f"I{n}", at(4 + n, 10), responded=at(4 + n, 10, 1), restored=at(4 + n, 11))
        for n in range(2)
    ]
    result = report(facts(ACD, incidents=incidents))["items"]["fault_response"]
    assert (result["deduction"], result["score"]) == (0.4, 0.6)


def test_an_unrestored_incident_owes_no_report():
    rep = one(incident("I1", at(4, 10), responded=at(4, 10, 5)))
    assert flags_of(rep, "report_missing") == []
    assert rep["items"]["fault_response"]["evidence"]["reports"] == []


def test_a_deadline_in_an_unknown_year_is_flagged_not_guessed():
    inc = incident(
        "I1", at(31, 10, month=12), responded=at(31, 10, 5, month=12), restored=at(31, 11, month=12)
    )
    data = facts(ACD, incidents=[inc], month="2026-12", as_of="2027-02-01T00:00:00+08:00")
    rep = report(data)
    assert flags_of(rep, "calendar_unknown") == [
        {"type": "calendar_unknown", "incident": "I1", "year": 2027}
    ]
    assert rep["items"]["fault_response"]["deduction"] == 0.0


def test_a_calendar_override_supplies_an_unknown_year(tmp_path):
    override = tmp_path / "2027.yaml"
    override.write_text("year: 2027\nholidays: [2027-01-01]\nworkdays: []\n", "utf-8")
    rules = load_rules(calendar_files=(override,))
    inc = incident(
        "I1", at(31, 10, month=12), responded=at(31, 10, 5, month=12), restored=at(31, 11, month=12)
    )
    data = facts(ACD, incidents=[inc], month="2026-12", as_of="2027-02-01T00:00:00+08:00")
    rep = report(data, rules)
    # Thu 31 Dec: Fri 1 Jan is a holiday, the weekend is off: Mon 4 and Tue 5 → Wed 6 00:00.
    assert flags_of(rep, "report_missing") == [
        {"type": "report_missing", "incident": "I1", "deadline": "2027-01-06T00:00:00+08:00"}
    ]


def test_a_calendar_override_make_up_workday_counts(tmp_path):
    override = tmp_path / "2027.yaml"
    override.write_text("year: 2027\nholidays: []\nworkdays: [2027-01-02]\n", "utf-8")
    rules = load_rules(calendar_files=(override,))
    inc = incident(
        "I1", at(31, 10, month=12), responded=at(31, 10, 5, month=12), restored=at(31, 11, month=12)
    )
    data = facts(ACD, incidents=[inc], month="2026-12", as_of="2027-02-01T00:00:00+08:00")
    [flag] = flags_of(report(data, rules), "report_missing")
    assert flag["deadline"] == "2027-01-03T00:00:00+08:00"  # Fri 1 and Sat 2 (make-up)
