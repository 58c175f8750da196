"""Incidents: fault outages become incidents, correlated ones join. Pure — no I/O, no clock.

The tracker consumes the engine's events and operators' commands and returns `IncidentChanges`
(incident records, timeline and audit entries, events) for the caller to store and publish.

- A fault outage (one not inside a maintenance window that covers its component when the
  collector confirms it) opens an incident with `detected_at` = that confirmation; the first
  failed sample stays as `first_failed_at`.
- An outage starting within `correlation_window` of an outage of an open incident joins it when
  both share a system, a configured dependency (`dependencies: {sw-3: [seat-001, …]}`), or one is
  the composite made from the other.
- An outage that began inside a window and is still down when the window ends opens an incident
  then (the overrun is fault).
- The incident is restored when every outage in it has ended (`restored_at` = the last end),
  unless an operator recorded restoration first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from collector.engine import Event, EventType
from collector.maintenance import covered, in_window
from collector.model import (
    AuditEntry,
    Incident,
    IntervalKind,
    MaintenanceWindow,
    Millis,
    Outage,
    TimelineEntry,
)
from collector.timefmt import to_datetime

DEFAULT_SEVERITY = {"acd": "P1", "callsys": "P1", "ivr": "P2", "seat": "P3", "other": "P3"}
DEFAULT_RESPONSE_LIMITS = {"P1": 15 * 60, "P2": 30 * 60, "P3": 60 * 60}  # seconds
DEFAULT_RESTORATION_LIMITS = {"P1": 2 * 3600, "P2": 4 * 3600, "P3": 24 * 3600}  # seconds


class IncidentError(Exception):
    """An operator's command cannot apply (unknown incident, already restored, …)."""


@dataclass(frozen=True, slots=True)
class IncidentConfig:
    correlation_window: float = 120.0  # seconds
    dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    component_severity: dict[str, str] = field(default_factory=dict)
    response_limits: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RESPONSE_LIMITS))
    restoration_limits: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RESTORATION_LIMITS)
    )


@dataclass(slots=True)
class IncidentChanges:
    incidents: list[Incident] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def extend(self, other: IncidentChanges) -> None:
        self.incidents.extend(other.incidents)
        self.timeline.extend(other.timeline)
        self.audit.extend(other.audit)
        self.events.extend(other.events)


def _rank(severity: str) -> int:
    return int(severity[1:]) if severity[:1] == "P" and severity[1:].isdigit() else 99


class IncidentTracker:
    def __init__(
        self,
        config: IncidentConfig | None = None,
        systems: Callable[[str], str] | None = None,
    ) -> None:
        self.config = config or IncidentConfig()
        self._system_of = systems or (lambda component: "other")
        self.open: dict[str, Incident] = {}
        self._outages: dict[str, Outage] = {}  # outages of open incidents, by id
        self._ended: set[str] = set()
        self._in_window: dict[str, Outage] = {}  # open outages that began in maintenance
        self._ids: set[str] = set()
        self._deadline_told: set[str] = set()
        self._groups: dict[str, set[str]] = {}
        for dep, members in self.config.dependencies.items():
            for m in members:
                self._groups.setdefault(m, set()).add(dep)

    # -- state after a restart ---------------------------------------------------------------
    def load(
        self, incidents: Sequence[Incident], ids: Sequence[str], outages: Sequence[Outage]
    ) -> None:
        """Open incidents, every id ever used, and the outages of the open incidents."""
        self._ids.update(ids)
        for inc in incidents:
            if inc.is_open:
                self.open[inc.id] = inc
        by_id = {o.id: o for o in outages}
        for inc in self.open.values():
            for oid in inc.outage_ids:
                if oid in by_id:
                    self._outages[oid] = by_id[oid]
                    if by_id[oid].end is not None:
                        self._ended.add(oid)
                else:  # every open outage is given, so this one ended (before the replay)
                    self._ended.add(oid)

    def deadline_told(self, incident_id: str, measure: str) -> None:
        """A `deadline_passed` already on the timeline (after a restart): not again."""
        self._deadline_told.add(f"{incident_id}/{measure}")

    def watch_maintenance(self, outage: Outage) -> None:
        """An open outage that began inside a window (reloaded after a restart)."""
        self._in_window[outage.id] = outage

    # -- from the engine ---------------------------------------------------------------------
    def on_events(
        self, events: Sequence[Event], windows: Sequence[MaintenanceWindow], now: Millis
    ) -> IncidentChanges:
        changes = IncidentChanges()
        for ev in events:
            o = ev.outage
            if o is None or o.kind is not IntervalKind.DOWN:
                continue
            if ev.type is EventType.OUTAGE_STARTED:
                changes.extend(self._started(o, windows))
            elif ev.type is EventType.OUTAGE_ENDED:
                changes.extend(self._ended_outage(o))
            elif ev.type is EventType.OUTAGE_RETRACTED:
                self._in_window.pop(o.id, None)
        return changes

    def _started(self, o: Outage, windows: Sequence[MaintenanceWindow]) -> IncidentChanges:
        detected = o.detected_at or o.start
        if in_window(windows, o.component, detected):
            if o.end is None:
                self._in_window[o.id] = o
            return IncidentChanges()
        return self._fault(o, detected)

    def _fault(self, o: Outage, detected: Millis) -> IncidentChanges:
        changes = IncidentChanges()
        target = self._correlated(o)
        if target is not None:
            inc = self.open[target]
            severity = min(inc.severity, self._severity(o.component), key=_rank)
            inc = replace(
                inc,
                components=tuple(sorted({*inc.components, o.component})),
                outage_ids=(*inc.outage_ids, o.id),
                severity=severity,
                first_failed_at=min(inc.first_failed_at or o.start, o.start),
            )
            self.open[target] = inc
            self._outages[o.id] = o
            changes.incidents.append(inc)
            changes.timeline.append(TimelineEntry(inc.id, detected, "joined", detail=_evidence(o)))
            changes.events.append(
                Event(EventType.INCIDENT_JOINED, detected, o.component, o, inc.id)
            )
        else:
            inc = Incident(
                id=self._new_id(detected),
                components=(o.component,),
                severity=self._severity(o.component),
                detected_at=detected,
                title=f"{o.component} down ({o.reason})" if o.reason else f"{o.component} down",
                first_failed_at=o.start,
                outage_ids=(o.id,),
            )
            self.open[inc.id] = inc
            self._outages[o.id] = o
            changes.incidents.append(inc)
            changes.timeline.append(
                TimelineEntry(inc.id, detected, "detected", detail=_evidence(o))
            )
            changes.events.append(
                Event(EventType.INCIDENT_OPENED, detected, o.component, o, inc.id)
            )
        if o.end is not None:
            changes.extend(self._ended_outage(o))
        return changes

    def _ended_outage(self, o: Outage) -> IncidentChanges:
        self._in_window.pop(o.id, None)
        if o.id not in self._outages:
            return IncidentChanges()
        self._outages[o.id] = o
        self._ended.add(o.id)
        changes = IncidentChanges()
        for inc in list(self.open.values()):
            if o.id not in inc.outage_ids:
                continue
            if all(oid in self._ended for oid in inc.outage_ids):
                ends = (self._outages[oid].end for oid in inc.outage_ids if oid in self._outages)
                end = max((e for e in ends if e is not None), default=o.end or 0)
                changes.extend(self._restore(inc, end, None))
        return changes

    def _restore(self, inc: Incident, at: Millis, actor: str | None) -> IncidentChanges:
        inc = replace(inc, restored_at=max(at, inc.detected_at), restored_by=actor)
        self.open.pop(inc.id, None)
        for oid in inc.outage_ids:
            self._outages.pop(oid, None)
            self._ended.discard(oid)
        changes = IncidentChanges(incidents=[inc])
        changes.timeline.append(
            TimelineEntry(inc.id, inc.restored_at or at, "restored", actor=actor or "collector")
        )
        changes.events.append(
            Event(EventType.INCIDENT_RESTORED, inc.restored_at or at, incident_id=inc.id)
        )
        return changes

    def _correlated(self, o: Outage) -> str | None:
        window = int(self.config.correlation_window * 1000)
        system = self._system_of(o.component)
        for inc in sorted(self.open.values(), key=lambda i: (i.detected_at, i.id)):
            for oid in inc.outage_ids:
                other = self._outages.get(oid)
                if other is None or abs(other.start - o.start) > window:
                    continue
                if self._related(o, system, other):
                    return inc.id
        return None

    def _related(self, o: Outage, system: str, other: Outage) -> bool:
        if self._system_of(other.component) == system:
            return True
        if self._groups.get(o.component, set()) & self._groups.get(other.component, set()):
            return True
        if o.component in self.config.dependencies.get(other.component, ()):
            return True
        if other.component in self.config.dependencies.get(o.component, ()):
            return True
        # a composite outage lists the components that made it in `probes`
        return o.component in other.probes or other.component in o.probes

    def _severity(self, component: str) -> str:
        if component in self.config.component_severity:
            return self.config.component_severity[component]
        return self.config.severity.get(self._system_of(component), "P2")

    def _new_id(self, detected: Millis) -> str:
        base = "INC-" + to_datetime(detected).strftime("%Y%m%d-%H%M%S")
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}-{n}"
        self._ids.add(candidate)
        return candidate

    # -- the clock ---------------------------------------------------------------------------
    def tick(self, windows: Sequence[MaintenanceWindow], now: Millis) -> IncidentChanges:
        """Overruns of maintenance windows become faults; response deadlines pass."""
        changes = IncidentChanges()
        for oid, o in sorted(self._in_window.items()):
            if not in_window(windows, o.component, now):
                del self._in_window[oid]
                end = _window_end(windows, o.component, o.start, now)
                changes.extend(self._fault(o, end))
        for inc in sorted(self.open.values(), key=lambda i: i.id):
            for measure, limits, done in (
                ("response", self.config.response_limits, inc.responded_at),
                ("restoration", self.config.restoration_limits, inc.restored_at),
            ):
                key = f"{inc.id}/{measure}"
                if done is not None or key in self._deadline_told:
                    continue
                limit = int(limits.get(inc.severity, limits.get("P2", 1800)) * 1000)
                if now > inc.detected_at + limit:
                    self._deadline_told.add(key)
                    at = inc.detected_at + limit
                    detail = {"deadline": measure, "limit_seconds": limit // 1000}
                    changes.timeline.append(
                        TimelineEntry(inc.id, at, "deadline_passed", detail=detail)
                    )
                    changes.events.append(
                        Event(EventType.DEADLINE_PASSED, at, incident_id=inc.id, detail=detail)
                    )
        return changes

    # -- operators ---------------------------------------------------------------------------
    def open_by_hand(
        self,
        components: Sequence[str],
        severity: str | None,
        title: str,
        actor: str,
        now: Millis,
        detected_at: Millis | None = None,
    ) -> tuple[Incident, IncidentChanges]:
        if not components:
            raise IncidentError("components: name at least one component")
        detected = detected_at if detected_at is not None else now
        sev = severity or min((self._severity(c) for c in components), key=_rank)
        inc = Incident(
            id=self._new_id(detected),
            components=tuple(components),
            severity=sev,
            detected_at=detected,
            title=title,
            opened_by=actor,
        )
        self.open[inc.id] = inc
        changes = IncidentChanges(incidents=[inc])
        changes.timeline.append(
            TimelineEntry(inc.id, detected, "opened", actor=actor, detail={"title": title})
        )
        changes.audit.append(
            AuditEntry(now, actor, "incident.open", inc.id, {"components": list(components)})
        )
        changes.events.append(Event(EventType.INCIDENT_OPENED, detected, incident_id=inc.id))
        return inc, changes

    def ack(self, inc: Incident, actor: str, now: Millis) -> IncidentChanges:
        if inc.responded_at is not None:
            raise IncidentError(f"{inc.id} was acknowledged by {inc.responded_by} already")
        inc = replace(inc, responded_at=max(now, inc.detected_at), responded_by=actor)
        return self._operator(inc, "acked", "incident.ack", actor, now, {})

    def restore(
        self, inc: Incident, actor: str, now: Millis, at: Millis | None = None
    ) -> IncidentChanges:
        if inc.restored_at is not None:
            raise IncidentError(f"{inc.id} is restored already")
        changes = self._restore(inc, at if at is not None else now, actor)
        changes.audit.append(AuditEntry(now, actor, "incident.restore", inc.id, {}))
        return changes

    def report(self, inc: Incident, ref: str, actor: str, now: Millis) -> IncidentChanges:
        if not ref.strip():
            raise IncidentError("ref: give the report's URL or file name")
        inc = replace(inc, report_submitted_at=now, report_ref=ref)
        return self._operator(inc, "reported", "incident.report", actor, now, {"ref": ref})

    def annotate(self, inc: Incident, note: str, actor: str, now: Millis) -> IncidentChanges:
        if not note.strip():
            raise IncidentError("note: must not be empty")
        return self._operator(inc, "annotated", "incident.annotate", actor, now, {"note": note})

    def _operator(
        self, inc: Incident, event: str, action: str, actor: str, now: Millis, detail: dict
    ) -> IncidentChanges:
        if inc.id in self.open:
            self.open[inc.id] = inc
        return IncidentChanges(
            incidents=[inc],
            timeline=[TimelineEntry(inc.id, now, event, actor=actor, detail=detail)],
            audit=[AuditEntry(now, actor, action, inc.id, detail)],
        )


def _evidence(o: Outage) -> dict[str, object]:
    return {
        "outage": o.id,
        "component": o.component,
        "first_failed_at": o.start,
        "confirmed_at": o.detected_at,
        "reason": o.reason,
        "detail": o.detail,
        "probes": list(o.probes),
    }


def _window_end(
    windows: Sequence[MaintenanceWindow], component: str, since: Millis, now: Millis
) -> Millis:
    """When the maintenance covering the component since `since` stopped (≤ now)."""
    spans = covered(windows, component, since, now)
    return spans[-1][1] if spans else now
