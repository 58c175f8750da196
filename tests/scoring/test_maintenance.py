"""停机维护时长: wall-clock hours of maintenance downtime of the 话务系统相关硬件."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.scoring.helpers import at, comps, facts, item, outage, report

HW = comps("acd-1:acd", "ivr-1:ivr", "rec-1:other", "seat-1:seat", "callsys:callsys")
WINDOW = {"id": "mw-1", "start": at(8, 1), "end": at(8, 5), "components": ["*"]}


def maintenance(minutes: int, component: str = "acd-1") -> dict:
    h, m = divmod(minutes, 60)
    return facts(HW, [outage(component, at(8, 1), at(8, 1 + h, m))], [WINDOW])


@pytest.mark.parametrize(
    ("minutes", "deduction"),
    [
        (30, 0),  # under 0.5 h
        (45, 0),  # between 0.5 h and 1 h the seed is silent: no deduction
        (60, 0),  # exactly 1 h
        (72, 1),  # 1.2 h: one started half hour
        (90, 1),  # 1.5 h: exactly one half hour over
        (91, 2),  # just over 1.5 h
        (240, 5),  # 4 h: 6 half hours over, capped at 1 point
    ],
)
def test_maintenance_hours_deduct_per_started_half_hour_over_one(minutes, deduction):
    result = item(maintenance(minutes), "maintenance_hours")
    assert result["value"] == float(Fraction(minutes, 60))
    assert result["deduction"] == float(min(Fraction(1), deduction * Fraction(1, 5)))
    assert result["evidence"]["maintenance_seconds"] == minutes * 60


def test_overlapping_maintenance_of_several_components_counts_once():
    data = facts(
        HW,
        [
            outage("acd-1", at(8, 1), at(8, 2)),
            outage("ivr-1", at(8, 1, 30), at(8, 2, 30)),
            outage("callsys", at(8, 1), at(8, 2, 30)),
        ],
        [WINDOW],
    )
    assert item(data, "maintenance_hours")["value"] == 1.5


def test_seats_are_out_of_scope_and_other_hardware_is_in():
    seat_only = facts(HW, [outage("seat-1", at(8, 1), at(8, 4))], [WINDOW])
    assert item(seat_only, "maintenance_hours")["value"] == 0.0
    other = facts(HW, [outage("rec-1", at(8, 1), at(8, 3))], [WINDOW])
    result = item(other, "maintenance_hours")
    assert result["value"] == 2.0
    assert result["deduction"] == 0.4


def test_overrun_beyond_the_window_is_fault_not_maintenance():
    data = facts(HW, [outage("acd-1", at(8, 4), at(8, 7))], [WINDOW])
    rep = report(data)
    assert rep["items"]["maintenance_hours"]["value"] == 1.0
    assert rep["items"]["acd_availability"]["evidence"]["fault_seconds"] == 2 * 3600


def test_maintenance_evidence_lists_the_windows():
    result = item(maintenance(30), "maintenance_hours")
    assert [w["id"] for w in result["evidence"]["windows"]] == ["mw-1"]
    assert result["evidence"]["intervals"] == [[at(8, 1), at(8, 1, 30)]]


def test_maintenance_is_not_measured_without_platform_hardware():
    rep = report(facts(comps("seat-1:seat")))
    assert rep["items"]["maintenance_hours"]["value"] is None
    assert {"type": "not_measured", "item": "maintenance_hours"} in rep["flags"]


def test_a_window_created_after_it_started_is_flagged():
    late = dict(WINDOW, created_at=at(8, 2))
    early = dict(WINDOW, id="mw-2", created_at=at(7, 2))
    rep = report(facts(HW, windows=[late, early]))
    assert [f for f in rep["flags"] if f["type"] == "window_late"] == [
        {"type": "window_late", "window": "mw-1", "start": at(8, 1), "created_at": at(8, 2)}
    ]
