"""Maintenance windows as time: recurrences in local time, maintenance vs fault pieces."""

from __future__ import annotations

from datetime import datetime

from collector.domain.maintenance import classify, covered, occurrences
from collector.domain.model import MaintenanceWindow, Outage
from collector.domain.timefmt import LOCAL, from_datetime

H = 3_600_000


def local(*args: int) -> int:
    return from_datetime(datetime(*args, tzinfo=LOCAL))


def test_weekly_window_recurs_at_local_wall_clock_time() -> None:
    w = MaintenanceWindow(
        "mw-1", ("*",), local(2026, 11, 1, 2), local(2026, 11, 1, 4), rrule="FREQ=WEEKLY;BYDAY=SU"
    )
    occ = occurrences([w], local(2026, 11, 1), local(2026, 12, 1))
    assert [(o.start, o.end) for o in occ] == [
        (local(2026, 11, d, 2), local(2026, 11, d, 4)) for d in (1, 8, 15, 22, 29)
    ]
    assert occ[1].id == f"mw-1@{local(2026, 11, 8, 2)}"


def test_occurrence_overlapping_the_range_start_is_included() -> None:
    w = MaintenanceWindow(
        "mw-1", ("a",), local(2026, 10, 31, 23), local(2026, 11, 1, 1), rrule="FREQ=DAILY"
    )
    occ = occurrences([w], local(2026, 11, 1), local(2026, 11, 2))
    assert [(o.start, o.end) for o in occ] == [
        (local(2026, 10, 31, 23), local(2026, 11, 1, 1)),
        (local(2026, 11, 1, 23), local(2026, 11, 2, 1)),
    ]


def test_window_covers_only_its_components() -> None:
    w = MaintenanceWindow("mw-1", ("acd-1",), local(2026, 11, 3, 1), local(2026, 11, 3, 2))
    assert covered([w], "acd-1", 0, local(2026, 12, 1)) == [(w.start, w.end)]
    assert covered([w], "acd-2", 0, local(2026, 12, 1)) == []


def test_overrun_is_fault_and_inside_is_maintenance() -> None:
    w = MaintenanceWindow("mw-1", ("acd-1",), local(2026, 11, 3, 1), local(2026, 11, 3, 2))
    o = Outage("x", "acd-1", local(2026, 11, 3, 1, 30), local(2026, 11, 3, 3))
    assert classify(o, [w], 0) == [
        (local(2026, 11, 3, 1, 30), local(2026, 11, 3, 2), "maintenance"),
        (local(2026, 11, 3, 2), local(2026, 11, 3, 3), "fault"),
    ]


def test_open_outage_keeps_its_last_piece_open() -> None:
    w = MaintenanceWindow("mw-1", ("*",), local(2026, 11, 3, 1), local(2026, 11, 3, 2))
    o = Outage("x", "acd-1", local(2026, 11, 3, 0), None)
    assert classify(o, [w], local(2026, 11, 3, 5)) == [
        (local(2026, 11, 3, 0), local(2026, 11, 3, 1), "fault"),
        (local(2026, 11, 3, 1), local(2026, 11, 3, 2), "maintenance"),
        (local(2026, 11, 3, 2), None, "fault"),
    ]
