"""Incidents from outages, pure: correlation, maintenance overruns, operators' actions."""

from __future__ import annotations

import pytest

from collector.domain.engine import Event, EventType
from collector.domain.incidents import IncidentConfig, IncidentError, IncidentTracker
from collector.domain.model import MaintenanceWindow, Outage

S = 1000
T0 = 1_793_500_000_000
SYSTEMS = {"acd-1": "acd", "ivr-1": "ivr", "ivr-2": "ivr", "seat-001": "seat", "sw-3": "other"}


def tracker(**kw: object) -> IncidentTracker:
    return IncidentTracker(IncidentConfig(**kw), systems=lambda c: SYSTEMS.get(c, "other"))  # type: ignore[arg-type]


def outage(
    component: str, start: int, end: int | None = None, detected: int | None = None
) -> Outage:
    return Outage(
        f"{component}@{start}",
        component,
        start,
        end,
        detected_at=start + 20 * S,
        probes=("sip",),
        reason="timeout",
    )


def started(o: Outage) -> Event:
    return Event(EventType.OUTAGE_STARTED, o.detected_at or o.start, o.component, o)


def ended(o: Outage) -> Event:
    return Event(EventType.OUTAGE_ENDED, o.end or 0, o.component, o)


def test_fault_outage_opens_incident_detected_when_confirmed() -> None:
    t = tracker()
    o = outage("acd-1", T0)
    changes = t.on_events([started(o)], [], T0 + 20 * S)
    [inc] = changes.incidents
    assert inc.detected_at == T0 + 20 * S and inc.first_failed_at == T0
    assert inc.severity == "P1" and inc.components == ("acd-1",)
    assert inc.id == "INC-20261101-102700"
    assert [e.event for e in changes.timeline] == ["detected"]
    assert changes.timeline[0].detail["first_failed_at"] == T0


def test_outages_of_one_system_within_the_window_join_one_incident() -> None:
    t = tracker()
    a, b = outage("ivr-1", T0), outage("ivr-2", T0 + 60 * S)
    t.on_events([started(a)], [], T0)
    changes = t.on_events([started(b)], [], T0)
    [inc] = t.open.values()
    assert inc.components == ("ivr-1", "ivr-2") and len(inc.outage_ids) == 2
    assert [e.event for e in changes.timeline] == ["joined"]


def test_unrelated_or_later_outages_open_their_own_incident() -> None:
    t = tracker()
    t.on_events([started(outage("ivr-1", T0))], [], T0)
    t.on_events([started(outage("acd-1", T0 + 10 * S))], [], T0)  # another system
    t.on_events([started(outage("ivr-2", T0 + 200 * S))], [], T0)  # past 120 s
    assert len(t.open) == 3


def test_configured_dependency_correlates_across_systems() -> None:
    t = tracker(dependencies={"sw-3": ("seat-001",)})
    t.on_events([started(outage("sw-3", T0))], [], T0)
    t.on_events([started(outage("seat-001", T0 + 5 * S))], [], T0)
    [inc] = t.open.values()
    assert inc.components == ("seat-001", "sw-3")
    assert inc.severity == "P3"


def test_incident_restored_when_all_its_outages_ended() -> None:
    t = tracker()
    a, b = outage("ivr-1", T0), outage("ivr-2", T0 + 5 * S)
    t.on_events([started(a), started(b)], [], T0)
    assert t.on_events([ended(outage("ivr-1", T0, T0 + 100 * S))], [], T0).incidents == []
    changes = t.on_events([ended(outage("ivr-2", T0 + 5 * S, T0 + 90 * S))], [], T0)
    [inc] = changes.incidents
    assert inc.restored_at == T0 + 100 * S and inc.restored_by is None
    assert t.open == {}


def test_outage_inside_a_window_opens_no_incident_until_the_overrun() -> None:
    t = tracker()
    w = MaintenanceWindow("mw-1", ("acd-1",), T0 - 60 * S, T0 + 600 * S)
    o = outage("acd-1", T0)
    assert t.on_events([started(o)], [w], T0 + 20 * S).incidents == []
    assert t.tick([w], T0 + 599 * S).incidents == []
    [inc] = t.tick([w], T0 + 605 * S).incidents
    assert inc.detected_at == T0 + 600 * S  # the fault starts when the window ends


def test_outage_ending_inside_its_window_never_opens_an_incident() -> None:
    t = tracker()
    w = MaintenanceWindow("mw-1", ("*",), T0 - 60 * S, T0 + 600 * S)
    t.on_events([started(outage("acd-1", T0))], [w], T0)
    t.on_events([ended(outage("acd-1", T0, T0 + 300 * S))], [w], T0 + 300 * S)
    assert t.tick([w], T0 + 700 * S).incidents == []


def test_operator_actions_record_identity_and_audit() -> None:
    t = tracker()
    inc, _ = t.open_by_hand(["ivr-1"], None, "one-way audio", "ops-wang", T0)
    assert inc.severity == "P2" and inc.opened_by == "ops-wang"
    changes = t.ack(inc, "ops-li", T0 + 60 * S)
    acked = changes.incidents[0]
    assert (acked.responded_at, acked.responded_by) == (T0 + 60 * S, "ops-li")
    assert [a.action for a in changes.audit] == ["incident.ack"]
    with pytest.raises(IncidentError):
        t.ack(acked, "ops-li", T0 + 70 * S)
    restored = t.restore(acked, "ops-li", T0 + 120 * S).incidents[0]
    assert restored.restored_by == "ops-li"
    reported = t.report(restored, "https://x/report", "ops-li", T0 + 500 * S).incidents[0]
    assert reported.report_submitted_at == T0 + 500 * S


def test_response_and_restoration_deadlines_pass_once_each() -> None:
    t = tracker()
    t.on_events([started(outage("acd-1", T0))], [], T0)
    assert t.tick([], T0 + 20 * S + 900 * S).events == []
    changes = t.tick([], T0 + 20 * S + 901 * S)
    assert [e.detail["deadline"] for e in changes.events] == ["response"]
    assert t.tick([], T0 + 2000 * S).events == []
    changes = t.tick([], T0 + 20 * S + 7201 * S)
    assert [e.detail["deadline"] for e in changes.events] == ["restoration"]
    assert [e.type for e in changes.events] == [EventType.DEADLINE_PASSED]


def test_reloaded_incident_restores_when_its_last_outage_ends() -> None:
    from collector.domain.model import Incident

    inc = Incident("INC-1", ("ivr-1", "ivr-2"), "P2", T0, outage_ids=("ivr-1@1", "ivr-2@2"))
    still_open = Outage("ivr-2@2", "ivr-2", T0, None)
    t = tracker()
    t.load([inc], ["INC-1"], [still_open])  # ivr-1@1 ended long ago: not among the given
    changes = t.on_events([ended(Outage("ivr-2@2", "ivr-2", T0, T0 + 99 * S))], [], T0)
    [restored] = changes.incidents
    assert restored.restored_at == T0 + 99 * S


def test_an_outage_that_goes_on_after_all_reopens_the_incident_restored_on_its_end() -> None:
    t = tracker()
    o = outage("acd-1", T0)
    t.on_events([started(o)], [], T0 + 20 * S)
    closed = Outage(o.id, o.component, o.start, T0 + 60 * S, detected_at=o.detected_at)
    [restored] = t.on_events([ended(closed)], [], T0 + 60 * S).incidents
    assert restored.restored_at == T0 + 60 * S and not t.open
    # late results: it had not ended (a member confirmed down late extends the composite)
    again = Event(EventType.OUTAGE_REOPENED, T0 + 60 * S, o.component, o)
    [reopened] = t.on_events([again], [], T0 + 90 * S).incidents
    assert reopened.id == restored.id and reopened.restored_at is None
    assert list(t.open) == [restored.id]
    final = Outage(o.id, o.component, o.start, T0 + 120 * S, detected_at=o.detected_at)
    [done] = t.on_events([ended(final)], [], T0 + 120 * S).incidents
    assert done.restored_at == T0 + 120 * S


def test_a_retracted_outage_leaves_its_incident_which_is_void_when_nothing_else_holds_it() -> None:
    t = tracker()
    o = outage("acd-1", T0)
    [inc] = t.on_events([started(o)], [], T0 + 20 * S).incidents
    gone = Event(EventType.OUTAGE_RETRACTED, o.start, o.component, o)
    [void] = t.on_events([gone], [], T0 + 30 * S).incidents
    assert void.id == inc.id and void.voided and not void.is_open and not t.open
