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

from collector.domain.engine import Event, EventType
from collector.domain.maintenance import covered, in_window
from collector.domain.model import (
    AuditEntry,
    Incident,
    IntervalKind,
    MaintenanceWindow,
    Millis,
    Outage,
    TimelineEntry,
)
from collector.domain.timefmt import format_instant, to_datetime

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
        self._since: dict[str, Millis] = {}  # when an outage became a fault (overrun: later)
        # outages of incidents the collector restored lately → (incident, its outage records)
        self._restored: dict[str, tuple[Incident, dict[str, Outage]]] = {}
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
    def refresh(self, outages: Sequence[Outage]) -> None:
        """The engine's newest record of outages it changed (a composite outage gains the
        members that join it later): correlation reads what they are now, not what they were."""
        for o in outages:
            if o.id in self._outages:
                self._outages[o.id] = o

    def on_events(
        self, events: Sequence[Event], windows: Sequence[MaintenanceWindow], now: Millis
    ) -> IncidentChanges:
        changes = IncidentChanges()
        # In time order, and at one instant what ended before what started: an incident
        # restored at T is not joined by a fault detected at T, whatever order the components
        # came in (so regrouping after a late window gives the same incidents).
        order = {EventType.OUTAGE_ENDED: 0, EventType.OUTAGE_RETRACTED: 0}
        for ev in sorted(events, key=lambda e: (e.ts, order.get(e.type, 1))):
            o = ev.outage
            if o is None or o.kind is not IntervalKind.DOWN:
                continue
            if ev.type is EventType.OUTAGE_STARTED:
                changes.extend(self._started(o, windows))
            elif ev.type is EventType.OUTAGE_ENDED:
                changes.extend(self._ended_outage(o))
            elif ev.type is EventType.OUTAGE_RETRACTED:
                self._in_window.pop(o.id, None)
                changes.extend(self._retracted(o, now))
            elif ev.type is EventType.OUTAGE_REOPENED:
                changes.extend(self._reopened(o, now))
        return changes

    def _reopened(self, o: Outage, now: Millis) -> IncidentChanges:
        """An outage that had ended goes on after all (a member confirmed down late extends
        the composite): the incident the collector restored on its end is open again."""
        held = self._restored.pop(o.id, None)
        if held is None:
            return IncidentChanges()
        inc, records = held
        if inc.restored_by is not None or inc.voided is not None:
            return IncidentChanges()  # an operator's restoration stands
        inc = replace(inc, restored_at=None)
        for oid, rec in records.items():
            self._restored.pop(oid, None)
            self._outages[oid] = o if oid == o.id else rec
            if oid != o.id and rec.end is not None:
                self._ended.add(oid)
        self.open[inc.id] = inc
        return IncidentChanges(
            incidents=[inc],
            timeline=[TimelineEntry(inc.id, now, "reopened", detail={"outage": o.id})],
        )

    def _retracted(self, o: Outage, now: Millis) -> IncidentChanges:
        """Late results showed outage `o` did not happen as recorded (a composite outage is
        re-derived with another start, say): it leaves its incident, which is voided when
        nothing else holds it up; the outage that replaces it finds its incident afresh."""
        changes = IncidentChanges()
        for inc in [i for i in self.open.values() if o.id in i.outage_ids]:
            self._outages.pop(o.id, None)
            self._ended.discard(o.id)
            self._since.pop(o.id, None)
            rest = tuple(oid for oid in inc.outage_ids if oid != o.id)
            if not rest and inc.opened_by == "collector":
                changes.extend(self._void(inc, f"outage {o.id} retracted", "collector", now))
                continue
            inc = replace(
                inc,
                outage_ids=rest,
                components=tuple(sorted({oid.rsplit("@", 1)[0] for oid in rest}))
                if inc.opened_by == "collector"
                else inc.components,
            )
            self.open[inc.id] = inc
            changes.incidents.append(inc)
            changes.timeline.append(
                TimelineEntry(inc.id, now, "retracted", detail={"outage": o.id})
            )
            if rest and all(oid in self._ended for oid in rest):
                ends = [self._outages[oid].end for oid in rest if oid in self._outages]
                changes.extend(self._restore(inc, max((e for e in ends if e), default=now), None))
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
        # An overrun is a fault from the window's end: correlate from there, as the composite
        # (made of the same overrun) does.
        since = o.start if detected <= (o.detected_at or o.start) else max(o.start, detected)
        self._since[o.id] = since
        target = self._correlated(o, since)
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
        if actor is None:  # kept a while: late results may show an outage went on
            records = {oid: self._outages[oid] for oid in inc.outage_ids if oid in self._outages}
            for oid in records:
                self._restored[oid] = (inc, records)
        for oid in inc.outage_ids:
            self._outages.pop(oid, None)
            self._ended.discard(oid)
            self._since.pop(oid, None)
        changes = IncidentChanges(incidents=[inc])
        changes.timeline.append(
            TimelineEntry(inc.id, inc.restored_at or at, "restored", actor=actor or "collector")
        )
        changes.events.append(
            Event(EventType.INCIDENT_RESTORED, inc.restored_at or at, incident_id=inc.id)
        )
        return changes

    def _correlated(self, o: Outage, since: Millis) -> str | None:
        """The open incident `o` joins: the closest relation wins (same system, then a
        dependency, then the composite), then the earliest incident."""
        window = int(self.config.correlation_window * 1000)
        system = self._system_of(o.component)
        best: tuple[int, Millis, str] | None = None
        for inc in self.open.values():
            for oid in inc.outage_ids:
                other = self._outages.get(oid)
                if other is None:
                    continue
                other_since = self._since.get(oid, other.start)
                if abs(other_since - since) > window:
                    continue
                rank = self._relation(o, since, system, other, other_since)
                if rank is not None and (best is None or (rank, inc.detected_at, inc.id) < best):
                    best = (rank, inc.detected_at, inc.id)
        return None if best is None else best[2]

    def _relation(
        self, o: Outage, since: Millis, system: str, other: Outage, other_since: Millis
    ) -> int | None:
        """How closely two outages are related (lower is closer), None if not at all. `since`:
        when each became a fault. A composite outage relates to the members that were already
        down when it began (those that made it), not to those failing later."""
        if self._system_of(other.component) == system:
            return 0
        if self._groups.get(o.component, set()) & self._groups.get(other.component, set()):
            return 1
        if o.component in self.config.dependencies.get(other.component, ()):
            return 1
        if other.component in self.config.dependencies.get(o.component, ()):
            return 1
        # a composite outage lists the components that made it in `probes`
        if o.component in other.probes and since <= other_since:
            return 2
        if other.component in o.probes and other_since <= since:
            return 2
        return None

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

    # -- windows entered, changed or removed after the fact -------------------------------
    def reclassify(
        self,
        outages: Sequence[Outage],
        gone: set[str],
        incidents: Sequence[Incident],
        windows: Sequence[MaintenanceWindow],
        now: Millis,
        actor: str,
        cause: str,
        composite: str | None = None,
    ) -> IncidentChanges:
        """Make the incidents of `outages` (the down outages a window change touched, the
        composite's re-derived ones included; `gone`: ids that no longer exist) what they would
        be had the windows been entered in advance, so the facts never depend on when a window
        was typed:

        - an outage is a fault from its detection, or — detected inside a window — from the
          window's end if it outlasted it; wholly inside a window it is no fault;
        - the faults of the touched incidents (those opened by the collector) and the faults no
          incident holds yet are grouped again in the order the tracker meets them (by the time
          they became faults, the composite after its members), with the same correlation;
        - each group keeps the id (and acknowledgement, report) of the touched incident it
          shares most outages with, or opens a new incident; a touched incident left with no
          group is voided (kept with `cause`, not counted).
        Incidents opened by operators are theirs: left as they are."""
        changes = IncidentChanges()
        by_id = {o.id: o for o in outages}
        when = {o.id: _fault_from(o, windows) for o in outages}
        touched: list[Incident] = []
        held: set[str] = set()  # outages in incidents this change does not regroup
        for inc in incidents:
            inc = self.open.get(inc.id, inc)
            unknown = [
                oid
                for oid in inc.outage_ids
                if oid not in by_id and oid not in gone and oid not in self._outages
            ]
            if inc.opened_by != "collector" or inc.voided is not None or unknown:
                held.update(inc.outage_ids)  # (an outage of it not given: left as it is)
            elif any(oid in by_id or oid in gone for oid in inc.outage_ids):
                touched.append(inc)
        touched_ids = {i.id for i in touched}
        faults: list[tuple[Millis, Outage, Millis]] = []  # (since, outage, detected)
        for o in outages:
            d = when[o.id]
            if o.id in held or any(
                o.id in i.outage_ids for i in self.open.values() if i.id not in touched_ids
            ):
                continue
            self._in_window.pop(o.id, None)
            if d is None:
                continue
            if d > now:  # inside a window still running: a fault once it ends
                if o.end is None:
                    self._in_window[o.id] = o
                continue
            since = o.start if d <= (o.detected_at or o.start) else d
            faults.append((since, o, d))
        for inc in touched:
            for oid in inc.outage_ids:
                if oid not in by_id and oid not in gone and oid in self._outages:
                    o = self._outages[oid]
                    faults.append((self._since.get(oid, o.start), o, inc.detected_at))
        for inc in touched:  # forget the old grouping; it is rebuilt below
            self.open.pop(inc.id, None)
            for oid in inc.outage_ids:
                self._outages.pop(oid, None)
                self._ended.discard(oid)
                self._since.pop(oid, None)
        groups: list[list[tuple[Millis, Outage, Millis]]] = []
        window = int(self.config.correlation_window * 1000)
        for since, o, d in sorted(  # in the order the tracker learns of them
            faults, key=lambda f: (f[2], f[1].component == composite, f[1].component, f[1].id)
        ):
            system = self._system_of(o.component)
            best: tuple[int, Millis, int] | None = None
            for n, group in enumerate(groups):
                if all(f[1].end is not None and f[1].end <= d for f in group):
                    continue  # restored before this one was detected: only open ones join
                for s, other, _ in group:
                    rank = self._relation(o, since, system, other, s)
                    if abs(s - since) <= window and rank is not None:
                        key = (rank, min(f[2] for f in group), n)
                        best = key if best is None or key < best else best
            if best is None:
                groups.append([(since, o, d)])
            else:
                groups[best[2]].append((since, o, d))
        reused: set[str] = set()
        for group in groups:
            ids = {o.id for _, o, _ in group}
            old = max(
                (i for i in touched if i.id not in reused and ids & set(i.outage_ids)),
                key=lambda i: (len(ids & set(i.outage_ids)), -i.detected_at),
                default=None,
            )
            changes.extend(self._regrouped(group, old, now, actor, cause))
            if old is not None:
                reused.add(old.id)
        for inc in touched:
            if inc.id not in reused:
                changes.extend(self._void(inc, cause, actor, now))
        return changes

    def _regrouped(
        self,
        group: list[tuple[Millis, Outage, Millis]],
        old: Incident | None,
        now: Millis,
        actor: str,
        cause: str,
    ) -> IncidentChanges:
        """One regrouped incident: `old` changed to hold `group`, or a new one."""
        group = sorted(group, key=lambda f: (f[2], f[1].component))
        detected = group[0][2]
        components = sorted({o.component for _, o, _ in group})
        outage_ids = tuple(o.id for _, o, _ in group)
        ended = [o.end for _, o, _ in group]
        restored = None if any(e is None for e in ended) else max(e or 0 for e in ended)
        severity = min((self._severity(c) for c in components), key=_rank)
        first = min(o.start for _, o, _ in group)
        if old is None:
            _, head, _ = group[0]
            inc = Incident(
                id=self._new_id(detected),
                components=tuple(components),
                severity=severity,
                detected_at=detected,
                title=f"{head.component} down ({head.reason})"
                if head.reason
                else f"{head.component} down",
                first_failed_at=first,
                outage_ids=outage_ids,
                restored_at=None if restored is None else max(restored, detected),
            )
            event = "detected"
        else:
            if old.restored_by is not None:  # an operator recorded restoration: theirs
                restored = old.restored_at
            inc = replace(
                old,
                components=tuple(components),
                severity=severity,
                detected_at=detected,
                first_failed_at=first,
                outage_ids=outage_ids,
                restored_at=None if restored is None else max(restored, detected),
                responded_at=None if old.responded_at is None else max(old.responded_at, detected),
            )
            if inc == old:
                if inc.is_open:
                    self._track(inc, group)
                return IncidentChanges()
            event = "reclassified"
        if inc.is_open:
            self._track(inc, group)
        detail: dict[str, object] = {"cause": cause, "outages": list(outage_ids)}
        if old is not None:
            detail["detected_at"] = [old.detected_at, detected]
        changes = IncidentChanges(incidents=[inc])
        changes.timeline.append(TimelineEntry(inc.id, now, event, actor, detail))
        changes.audit.append(AuditEntry(now, actor, f"incident.{event}", inc.id, detail))
        if old is None:
            changes.events.append(Event(EventType.INCIDENT_OPENED, detected, incident_id=inc.id))
        if inc.restored_at is not None and (old is None or old.restored_at is None):
            changes.events.append(
                Event(EventType.INCIDENT_RESTORED, inc.restored_at, incident_id=inc.id)
            )
        return changes

    def _track(self, inc: Incident, group: list[tuple[Millis, Outage, Millis]]) -> None:
        self.open[inc.id] = inc
        for since, o, _ in group:
            self._outages[o.id] = o
            self._since[o.id] = since
            if o.end is not None:
                self._ended.add(o.id)

    def _void(self, inc: Incident, cause: str, actor: str, now: Millis) -> IncidentChanges:
        inc = replace(inc, voided=cause)
        self.open.pop(inc.id, None)
        for oid in inc.outage_ids:
            self._outages.pop(oid, None)
            self._ended.discard(oid)
            self._since.pop(oid, None)
        detail = {"cause": cause}
        return IncidentChanges(
            incidents=[inc],
            timeline=[TimelineEntry(inc.id, now, "voided", actor, detail)],
            audit=[AuditEntry(now, actor, "incident.void", inc.id, detail)],
        )

    # -- the clock ---------------------------------------------------------------------------
    def tick(self, windows: Sequence[MaintenanceWindow], now: Millis) -> IncidentChanges:
        """Overruns of maintenance windows become faults; response deadlines pass."""
        changes = IncidentChanges()
        horizon = now - 86_400_000
        for oid in [k for k, (i, _) in self._restored.items() if (i.restored_at or 0) < horizon]:
            del self._restored[oid]
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

    def ack(
        self,
        inc: Incident,
        actor: str,
        now: Millis,
        at: Millis | None = None,
        reason: str | None = None,
    ) -> IncidentChanges:
        """The acknowledgement, now or (recorded late, with a reason) `at` an earlier instant."""
        if inc.responded_at is not None:
            raise IncidentError(f"{inc.id} was acknowledged by {inc.responded_by} already")
        when, detail = self._back_dated(inc, now, at, reason)
        inc = replace(
            inc,
            responded_at=max(now, inc.detected_at) if at is None else when,
            responded_by=actor,
        )
        return self._operator(inc, "acked", "incident.ack", actor, now, detail)

    def restore(
        self,
        inc: Incident,
        actor: str,
        now: Millis,
        at: Millis | None = None,
        force: bool = False,
        reason: str | None = None,
    ) -> IncidentChanges:
        """Restoration recorded by hand. Refused while one of the incident's outages is still
        open (the collector records the real recovery itself) or `at` lies before detection or
        in the future, unless `force` with a `reason`, which the audit trail keeps."""
        if inc.voided is not None:
            raise IncidentError(f"{inc.id} is void ({inc.voided}): nothing to restore")
        if inc.restored_at is not None:
            raise IncidentError(f"{inc.id} is restored already")
        when = at if at is not None else now
        problems = []
        still = [oid for oid in inc.outage_ids if oid in self._outages and oid not in self._ended]
        if still:
            problems.append(f"outage {', '.join(still)} is still open")
        if when < inc.detected_at:
            problems.append(f"at: before the incident was detected ({_iso(inc.detected_at)})")
        if when > now:
            problems.append("at: in the future")
        if problems and not force:
            raise IncidentError(
                f"{inc.id}: {'; '.join(problems)} — restore with force and a reason "
                "(--force --reason …) if the service is really back"
            )
        if force and not (reason or "").strip():
            raise IncidentError("reason: required with force")
        changes = self._restore(inc, when, actor)
        detail: dict[str, object] = {"at": when}
        if force:
            detail.update(force=True, reason=reason, overridden=problems)
        changes.audit.append(AuditEntry(now, actor, "incident.restore", inc.id, detail))
        return changes

    def report(
        self,
        inc: Incident,
        ref: str,
        actor: str,
        now: Millis,
        at: Millis | None = None,
        reason: str | None = None,
    ) -> IncidentChanges:
        """The written report submitted, now or (handed in on Friday, recorded on Monday, with
        a reason) `at` an earlier instant."""
        if not ref.strip():
            raise IncidentError("ref: give the report's URL or file name")
        when, detail = self._back_dated(inc, now, at, reason)
        inc = replace(inc, report_submitted_at=when, report_ref=ref)
        return self._operator(
            inc, "reported", "incident.report", actor, now, {"ref": ref, **detail}
        )

    @staticmethod
    def _back_dated(
        inc: Incident, now: Millis, at: Millis | None, reason: str | None
    ) -> tuple[Millis, dict[str, object]]:
        """`at` checked (not before detection, not in the future, with a reason) and the audit
        detail recording it; (now, {}) without `at`."""
        if at is None:
            if reason is not None:
                raise IncidentError("reason: only with at (an instant recorded late)")
            return now, {}
        if not (reason or "").strip():
            raise IncidentError("reason: required with at (why it is recorded late)")
        if at < inc.detected_at:
            raise IncidentError(
                f"{inc.id}: at: before the incident was detected ({_iso(inc.detected_at)})"
            )
        if at > now:
            raise IncidentError(f"{inc.id}: at: in the future")
        return at, {"at": at, "reason": reason}

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


def _fault_from(o: Outage, windows: Sequence[MaintenanceWindow]) -> Millis | None:
    """When outage `o` became a fault, as the tracker decides it when the windows are known in
    advance: at its detection, unless that falls inside a window covering it — then at the end
    of that maintenance if the outage outlasted it, else never (None)."""
    detected = o.detected_at or o.start
    if not in_window(windows, o.component, detected):
        return detected
    spans = covered(windows, o.component, detected, _FAR)
    end = spans[0][1] if spans else detected
    if o.end is not None and o.end <= end:
        return None
    return end


def _counts(when: Millis | None, now: Millis) -> bool:
    return when is not None and when <= now


_FAR: Millis = 2**62


def _iso(ms: Millis) -> str:
    return format_instant(ms) or str(ms)
