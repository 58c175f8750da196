"""Whole months of facts for the report tests: what a real month throws at the reports.

- `november`: a closed month with an IVR overrun past its window, an excluded seat outage, a
  seat silent for hours, a window entered late, a composite call-system fault, instants with
  milliseconds, incidents timely, late, with a late and a missing written report.
- `december_running`: scored on the 10th (as_of inside the month) with a pending incident and a
  written report not yet due.
- `silent_month`: no data at all from any component, and no seats (a system not measured).
- `february`: a short month with an open outage, a window over all components and an incident
  never responded to.
"""

from __future__ import annotations

from typing import Any

from tests.scoring.helpers import at, comps, facts, incident, outage

PLATFORM = comps(
    "acd-1:acd",
    "acd-2:acd",
    "ivr-1:ivr",
    "ivr-2:ivr",
    "callsys:callsys",
    "cti-1:callsys",
    "seat-001:seat",
    "seat-002:seat",
    "seat-003:seat",
    "rec-1:other",
)


def november() -> dict[str, Any]:
    return facts(
        PLATFORM,
        outages=[
            outage("acd-1", "2026-11-03T03:52:20.301+08:00", "2026-11-03T04:30:00+08:00"),
            # IVR: inside mw-ivr from 02:10, overrunning its 03:00 end by 40 min 0.25 s.
            outage("ivr-1", at(12, 2, 10), "2026-11-12T03:40:00.250+08:00"),
            outage("callsys", at(20, 14), at(20, 15, 30)),
            outage("cti-1", at(20, 15), at(20, 16)),
            outage("seat-002", at(7, 9), at(7, 11)),
            outage(
                "seat-003",
                at(26, 8),
                at(26, 8, 45),
                excluded={"reason": "座席计划停用，话务员培训", "approved_by": "热线中心 王工"},
            ),
            outage("rec-1", at(22, 1, 5), at(22, 1, 50)),
        ],
        windows=[
            {"id": "mw-ivr", "start": at(12, 2), "end": at(12, 3), "components": ["ivr-1"]},
            {
                "id": "mw-late",
                "start": at(22, 1),
                "end": at(22, 2),
                "components": ["rec-1", "acd-2"],
                "created_at": at(22, 1, 10),
            },
        ],
        incidents=[
            incident(
                "INC-11-1",
                "2026-11-03T03:55:20.301+08:00",
                responded=at(3, 4, 5),
                restored=at(3, 4, 30),
                report_at=at(4, 10),
            ),
            incident(
                "INC-11-2",
                at(12, 3, 2),
                responded=at(12, 3, 50),
                restored="2026-11-12T03:40:00.250+08:00",
                report_at=at(18, 9),
                severity="P2",
                components=("ivr-1",),
            ),
            incident(
                "INC-11-3",
                at(20, 14, 3),
                responded=at(20, 14, 10),
                restored=at(20, 16),
                severity=None,
                components=("callsys", "cti-1"),
            ),
        ],
        no_data=[{"component": "seat-001", "start": at(15, 0), "end": at(15, 9)}],
    )


def december_running() -> dict[str, Any]:
    return facts(
        PLATFORM,
        outages=[
            outage("acd-2", at(9, 10, month=12), at(9, 10, 20, month=12)),
            outage("ivr-2", at(9, 23, 50, month=12), None),
        ],
        incidents=[
            incident(
                "INC-12-1",
                at(9, 10, 1, month=12),
                responded=at(9, 10, 9, month=12),
                restored=at(9, 10, 20, month=12),
                components=("acd-2",),
            ),
            incident("INC-12-2", at(9, 23, 52, month=12), severity="P3", components=("ivr-2",)),
        ],
        month="2026-12",
        as_of="2026-12-10T00:00:00+08:00",
    )


def silent_month() -> dict[str, Any]:
    components = comps("acd-1:acd", "ivr-1:ivr", "callsys:callsys", "rec-1:other")
    return facts(
        components,
        no_data=[
            {"component": c["id"], "start": at(1), "end": at(1, month=12)} for c in components
        ],
    )


def february() -> dict[str, Any]:
    feb = "2027-02"
    return facts(
        PLATFORM,
        outages=[
            outage("seat-001", "2027-02-27T22:00:00+08:00", None),
            outage("acd-2", "2027-02-05T01:00:00+08:00", "2027-02-05T01:45:30.5+08:00"),
        ],
        windows=[
            {
                "id": "mw-all",
                "start": "2027-02-05T01:00:00+08:00",
                "end": "2027-02-05T01:30:00+08:00",
                "components": ["*"],
            }
        ],
        incidents=[
            incident("INC-02-1", "2027-02-05T01:31:00+08:00", components=("acd-2",)),
        ],
        month=feb,
        as_of="2027-03-08T09:00:00+08:00",
    )


MONTHS = {
    "november": november,
    "december_running": december_running,
    "silent_month": silent_month,
    "february": february,
}
