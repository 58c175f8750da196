"""The collector's records: plain dataclasses shared by the engine, the API and every store.

Instants are integers: Unix epoch **milliseconds**, UTC (`Millis`). Integers compare, hash and
round-trip exactly through SQLite and InfluxDB (ns = ms * 1_000_000), and they are what
`scoring.intervals` works on. Conversion to ISO 8601 happens at the edges
(`collector.domain.timefmt`).

Ids of outages, incidents and maintenance windows are made by the collector, never by a store,
so two stores fed the same results give equal facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Millis = int  # Unix epoch milliseconds, UTC

SYSTEMS = ("acd", "ivr", "seat", "callsys", "other")


class IntervalKind(StrEnum):
    """What a stored interval of a component is (the `kind` column of the outages table)."""

    DOWN = "down"  # the component was down (probes failed, or a silent agent counted as down)
    NO_DATA = "no_data"  # nothing was heard about the component (coverage, not downtime)


@dataclass(slots=True)  # not frozen: built 20,000+ times a second on ingest, 10x cheaper
class Sample:
    """One probe result as ingested. `count > 1` is a coalesced run from `ts` to `until`.
    Treat it as immutable (nothing in the suite changes a sample once built)."""

    agent: str
    component: str
    system: str
    probe: str
    ts: Millis
    ok: bool
    reason: str
    detail: str = ""
    latency_ms: float | None = None
    value: Any = None
    interval: float | None = None  # seconds between the agent's runs of this probe
    count: int = 1
    until: Millis | None = None  # last result of a coalesced run (None when count == 1)

    @property
    def last_ts(self) -> Millis:
        return self.until if self.until is not None else self.ts


@dataclass(frozen=True, slots=True)
class Component:
    id: str
    system: str
    first_seen: Millis
    agent: str = ""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An operator's decision to leave an outage out of fault time (a settled dispute)."""

    reason: str
    approved_by: str
    by: str = ""  # the operator who recorded it
    at: Millis = 0


@dataclass(frozen=True, slots=True)
class Outage:
    """A component's down or no-data interval. `end is None` while it lasts."""

    id: str
    component: str
    start: Millis  # the first failed sample (evidence), not when the collector confirmed it
    end: Millis | None
    kind: IntervalKind = IntervalKind.DOWN
    detected_at: Millis | None = None  # when the collector confirmed it (the DOWN-making sample)
    probes: tuple[str, ...] = ()  # the probes that were down
    reason: str = ""  # the first failed sample's reason
    detail: str = ""
    excluded: Exclusion | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A planned window. Recurring when `rrule` is set (RFC 5545), each occurrence lasting
    `end - start` and starting at the recurrences of `start`."""

    id: str
    components: tuple[str, ...]  # ("*",) means all
    start: Millis
    end: Millis
    reason: str = ""
    approval_ref: str = ""
    created_at: Millis = 0
    created_by: str = ""
    rrule: str | None = None
    tz: str = "Asia/Shanghai"  # the zone the rrule's wall-clock times are meant in


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    components: tuple[str, ...]
    severity: str
    detected_at: Millis
    title: str = ""
    opened_by: str = "collector"  # an operator's name when opened by hand
    first_failed_at: Millis | None = None  # evidence: the earliest first failed sample
    outage_ids: tuple[str, ...] = ()
    responded_at: Millis | None = None
    responded_by: str | None = None
    restored_at: Millis | None = None
    restored_by: str | None = None  # None: restoration detected by the collector
    report_submitted_at: Millis | None = None
    report_ref: str | None = None
    # Why the incident does not count (its downtime turned out to be maintenance: a window
    # entered afterwards covers it). Kept on record, left out of the facts, never reopened.
    voided: str | None = None

    @property
    def is_open(self) -> bool:
        return self.restored_at is None and self.voided is None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    incident_id: str
    ts: Millis
    event: str  # opened, detected, joined, acked, restored, reported, annotated, deadline_passed
    actor: str = "collector"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Every change an operator makes (windows, exclusions, annotations, incidents)."""

    ts: Millis
    actor: str
    action: str  # e.g. window.add, window.remove, outage.exclude, outage.annotate, incident.ack
    target: str  # the id the action applies to
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    agent: str
    received_at: Millis
    sent_at: Millis
    interval: float | None = None
    spool: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)

    @property
    def skew_ms(self) -> int:
        """received − sent: positive when the agent's clock is behind the collector's."""
        return self.received_at - self.sent_at


@dataclass(frozen=True, slots=True)
class Rollup:
    """Per-minute summary of one component's samples, kept after raw samples expire."""

    component: str
    minute: Millis  # start of the minute
    ok: int
    failed: int
    latency_min: float | None = None
    latency_max: float | None = None
    latency_sum: float = 0.0
    latency_count: int = 0


@dataclass(frozen=True, slots=True)
class RetentionResult:
    samples_rolled_up: int
    samples_deleted: int
    rollups_deleted: int
    records_deleted: int


@dataclass(frozen=True, slots=True)
class CheckDay:
    """One check's (component and probe) results on one local day (Asia/Shanghai, +08:00),
    for the inspection report. `ok` and `failed` count results (a coalesced run counts `count`
    times, on the day of its `ts`); `first`/`last` are the day's first `ts` and last `ts` (or
    `until`)."""

    component: str
    system: str
    probe: str
    agent: str
    day: Millis  # the local day's 00:00 (+08:00)
    ok: int
    failed: int
    first: Millis
    last: Millis
