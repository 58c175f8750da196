"""The InfluxDB schema of the collector's records: records to points and rows back (pure).

Two retention policies (names configurable): `hotline_raw` (short) holds `sample` and
`heartbeat`; `hotline_keep` (≥ 400 days) holds everything else. Tags only for what queries and
dashboards filter on, all of them bounded sets: `agent`, `component`, `system`, `probe`, and
audit `action`. Ids, names and free text are fields.

Timestamps (nanoseconds):
- `sample`: the result's `ts` (ms) × 10⁶ plus a sub-millisecond disambiguator (the store's
  running sample count modulo 10⁶), so two results of one probe in the same millisecond are
  both kept while a replayed line lands on its own point again (idempotent).
- `rollup`: one point per component, minute and retention run ("part"), at the time of the
  earliest sample it summarises (unique, and inside the minute); `rollups()` sums the parts
  of a minute. Re-running a run interrupted before its samples were deleted rewrites the same
  part instead of adding a second one.
- every other measurement is **versioned**: each change writes the record's whole state as a
  new point whose time is the store's version clock (unique, increasing, ns). Reading takes
  the latest version per id; a version with `deleted=true` is a tombstone. Old versions are
  history; nothing is ever updated in place, so the order of delivery never matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from collector.domain.model import (
    AuditEntry,
    Component,
    Exclusion,
    Heartbeat,
    Incident,
    IntervalKind,
    MaintenanceWindow,
    Outage,
    Rollup,
    Sample,
    TimelineEntry,
)
from collector.store.influx import lineproto as lp

MS = 1_000_000  # ns per ms
MIN_TIME = -9_223_372_036_854_775_806  # InfluxDB's time range (ns)
MAX_TIME = 9_223_372_036_854_775_806
SUB_MS = 1_000_000  # disambiguators live below one millisecond

RAW_MEASUREMENTS = ("sample", "heartbeat")
KEEP_MEASUREMENTS = (
    "component",
    "outage",
    "exclusion",
    "window",
    "incident",
    "timeline",
    "audit",
    "rollup",
    "store_marker",
)
MARKER = "store_marker"  # one point per buffer file, field `instance`, versioned


def ns(ms: int | None, default: int) -> int:
    """Epoch ms as ns, clamped to InfluxDB's time range (`default` for None)."""
    if ms is None:
        return default
    return max(MIN_TIME, min(MAX_TIME, ms * MS))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # key order kept, as SQLite keeps it


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


# -- samples (the hot path: tag sets cached per series) --------------------------------------
class SampleWriter:
    """Formats samples as `sample` points. The hot path of ingest: each series' escaped tag set
    and the usual (ok, reason, detail) prefixes are cached."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str, str], str] = {}
        self._status: dict[tuple[bool, str, str], str] = {}

    def line(self, s: Sample, seq: int) -> str:
        k = (s.agent, s.component, s.system, s.probe)
        head = self._series.get(k)
        if head is None:
            tags = {"agent": s.agent, "component": s.component, "system": s.system}
            head = "sample" + lp.tag_set(tags | {"probe": s.probe}) + " "
            if len(self._series) > 100_000:
                self._series.clear()
            self._series[k] = head
        status_key = (s.ok, s.reason, s.detail)
        status = self._status.get(status_key)
        if status is None:
            status = (
                ("ok=true" if s.ok else "ok=false")
                + ",reason="
                + lp.string_value(s.reason)
                + ",detail="
                + lp.string_value(s.detail)
            )
            if len(self._status) > 10_000:
                self._status.clear()
            self._status[status_key] = status
        line = f"{head}{status},count={s.count}i"
        latency = s.latency_ms
        if latency is not None:
            # a finite float as `field_value` writes it (x - x is 0.0 only when finite)
            if type(latency) is float and latency - latency == 0.0:
                line += ",latency_ms=" + repr(latency)
            else:
                line += ",latency_ms=" + lp.field_value(float(latency))
        if s.value is not None:
            line += ",value=" + lp.string_value(_json(s.value))
        interval = s.interval
        if interval is not None:
            if type(interval) is float and interval - interval == 0.0:
                line += ",interval=" + repr(interval)
            else:
                line += ",interval=" + lp.field_value(float(interval))
        if s.until is not None:
            line += f",until={s.until}i"
        return f"{line} {s.ts * MS + seq % SUB_MS}"


def sample_from_row(row: Mapping[str, Any]) -> Sample:
    value = row.get("value")
    return Sample(
        agent=row.get("agent") or "",
        component=row.get("component") or "",
        system=row.get("system") or "",
        probe=row.get("probe") or "",
        ts=row["time"] // MS,
        ok=bool(row["ok"]),
        reason=row.get("reason") or "",
        detail=row.get("detail") or "",
        latency_ms=_float(row.get("latency_ms")),
        value=None if value is None else json.loads(value),
        interval=_float(row.get("interval")),
        count=int(row.get("count") or 1),
        until=row.get("until"),
    )


# -- versioned records -----------------------------------------------------------------------
def component_line(c: Component, version: int) -> str:
    return lp.line(
        "component",
        {"component": c.id, "system": c.system},
        {"agent": c.agent, "first_seen": c.first_seen},
        version,
    )


def component_from_row(row: Mapping[str, Any]) -> Component:
    return Component(row["component"], row["system"], row["first_seen"], row.get("agent") or "")


def outage_line(o: Outage, version: int) -> str:
    return lp.line(
        "outage",
        {"component": o.component},
        {
            "id": o.id,
            "kind": str(o.kind),
            "start": o.start,
            "end": o.end,
            "detected_at": o.detected_at,
            "probes": _json(list(o.probes)),
            "reason": o.reason,
            "detail": o.detail,
        },
        version,
    )


def outage_from_row(row: Mapping[str, Any], excluded: Exclusion | None) -> Outage:
    return Outage(
        id=row["id"],
        component=row["component"],
        start=row["start"],
        end=row.get("end"),
        kind=IntervalKind(row["kind"]),
        detected_at=row.get("detected_at"),
        probes=tuple(json.loads(row["probes"])),
        reason=row.get("reason") or "",
        detail=row.get("detail") or "",
        excluded=excluded,
    )


def exclusion_line(outage_id: str, e: Exclusion | None, version: int) -> str:
    if e is None:
        return tombstone_line("exclusion", "outage_id", outage_id, version)
    fields = {"outage_id": outage_id, "reason": e.reason, "approved_by": e.approved_by}
    fields |= {"by": e.by, "at": e.at}
    return lp.line("exclusion", {}, fields, version)


def exclusion_from_row(row: Mapping[str, Any]) -> Exclusion:
    return Exclusion(row["reason"], row["approved_by"], row.get("by") or "", row.get("at") or 0)


def window_line(w: MaintenanceWindow, version: int) -> str:
    return lp.line(
        "window",
        {},
        {
            "id": w.id,
            "components": _json(list(w.components)),
            "start": w.start,
            "end": w.end,
            "reason": w.reason,
            "approval_ref": w.approval_ref,
            "created_at": w.created_at,
            "created_by": w.created_by,
            "rrule": w.rrule,
            "tz": w.tz,
        },
        version,
    )


def window_from_row(row: Mapping[str, Any]) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=row["id"],
        components=tuple(json.loads(row["components"])),
        start=row["start"],
        end=row["end"],
        reason=row.get("reason") or "",
        approval_ref=row.get("approval_ref") or "",
        created_at=row.get("created_at") or 0,
        created_by=row.get("created_by") or "",
        rrule=row.get("rrule"),
        tz=row.get("tz") or "Asia/Shanghai",
    )


def incident_line(i: Incident, version: int) -> str:
    return lp.line(
        "incident",
        {},
        {
            "id": i.id,
            "components": _json(list(i.components)),
            "severity": i.severity,
            "detected_at": i.detected_at,
            "title": i.title,
            "opened_by": i.opened_by,
            "first_failed_at": i.first_failed_at,
            "outage_ids": _json(list(i.outage_ids)),
            "responded_at": i.responded_at,
            "responded_by": i.responded_by,
            "restored_at": i.restored_at,
            "restored_by": i.restored_by,
            "report_submitted_at": i.report_submitted_at,
            "report_ref": i.report_ref,
            "voided": i.voided,
        },
        version,
    )


def incident_from_row(row: Mapping[str, Any]) -> Incident:
    return Incident(
        id=row["id"],
        components=tuple(json.loads(row["components"])),
        severity=row["severity"],
        detected_at=row["detected_at"],
        title=row.get("title") or "",
        opened_by=row.get("opened_by") or "",
        first_failed_at=row.get("first_failed_at"),
        outage_ids=tuple(json.loads(row["outage_ids"])),
        responded_at=row.get("responded_at"),
        responded_by=row.get("responded_by"),
        restored_at=row.get("restored_at"),
        restored_by=row.get("restored_by"),
        report_submitted_at=row.get("report_submitted_at"),
        report_ref=row.get("report_ref"),
        voided=row.get("voided"),
    )


def timeline_line(e: TimelineEntry, version: int) -> str:
    fields = {"incident_id": e.incident_id, "ts": e.ts, "event": e.event, "actor": e.actor}
    return lp.line("timeline", {}, fields | {"detail": _json(e.detail)}, version)


def timeline_from_row(row: Mapping[str, Any]) -> TimelineEntry:
    return TimelineEntry(
        row["incident_id"], row["ts"], row["event"], row["actor"], json.loads(row["detail"])
    )


def audit_line(e: AuditEntry, version: int) -> str:
    fields = {"ts": e.ts, "actor": e.actor, "target": e.target, "detail": _json(e.detail)}
    return lp.line("audit", {"action": e.action}, fields, version)


def audit_from_row(row: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(
        row["ts"], row["actor"], row["action"], row["target"], json.loads(row["detail"])
    )


def heartbeat_line(h: Heartbeat, version: int) -> str:
    return lp.line(
        "heartbeat",
        {"agent": h.agent},
        {
            "received_at": h.received_at,
            "sent_at": h.sent_at,
            "interval": _float(h.interval),
            "spool": _json(h.spool),
            "health": _json(h.health),
            "host": _json(h.host),
        },
        version,
    )


def heartbeat_from_row(row: Mapping[str, Any]) -> Heartbeat:
    return Heartbeat(
        agent=row["agent"],
        received_at=row["received_at"],
        sent_at=row["sent_at"],
        interval=_float(row.get("interval")),
        spool=json.loads(row["spool"]),
        health=json.loads(row["health"]),
        host=json.loads(row["host"]),
    )


def marker_line(instance: str, written_at: int, version: int) -> str:
    """The marker point of one buffer file (`instance`): its absence tells the store that
    InfluxDB is not the database it wrote to (see `collector.store.influx`)."""
    return lp.line(MARKER, {}, {"instance": instance, "written_at": written_at}, version)


def tombstone_line(name: str, id_field: str, record_id: str, version: int) -> str:
    return lp.line(name, {}, {id_field: record_id, "deleted": True}, version)


def latest(rows: Iterable[Mapping[str, Any]], id_field: str = "id") -> dict[str, dict[str, Any]]:
    """The latest version of every record (tombstones dropped), by id."""
    newest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        rid = row.get(id_field)
        if rid is None:
            continue
        seen = newest.get(rid)
        if seen is None or row["time"] > seen["time"]:
            newest[rid] = row
    return {k: dict(v) for k, v in newest.items() if not v.get("deleted")}


def earliest(rows: Iterable[Mapping[str, Any]], id_field: str) -> dict[str, dict[str, Any]]:
    """The first version of every record, by id: for records written once and never changed
    (a component's registration), so a second registration — possible only when the
    collector lost its local state — never replaces the first."""
    oldest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        rid = row.get(id_field)
        if rid is not None and (rid not in oldest or row["time"] < oldest[rid]["time"]):
            oldest[rid] = row
    return {k: dict(v) for k, v in oldest.items()}


# -- rollups ---------------------------------------------------------------------------------
def rollup_line(r: Rollup, time_ns: int) -> str:
    return lp.line(
        "rollup",
        {"component": r.component},
        {
            "ok": r.ok,
            "failed": r.failed,
            "latency_min": _float(r.latency_min),
            "latency_max": _float(r.latency_max),
            "latency_sum": float(r.latency_sum),
            "latency_count": r.latency_count,
        },
        time_ns,
    )


def merge_rollups(a: Rollup, b: Rollup) -> Rollup:
    """Two summaries of one component's minute as one."""
    lows = [x for x in (a.latency_min, b.latency_min) if x is not None]
    highs = [x for x in (a.latency_max, b.latency_max) if x is not None]
    return Rollup(
        a.component,
        a.minute,
        a.ok + b.ok,
        a.failed + b.failed,
        min(lows) if lows else None,
        max(highs) if highs else None,
        a.latency_sum + b.latency_sum,
        a.latency_count + b.latency_count,
    )


def rollup_from_row(row: Mapping[str, Any]) -> Rollup:
    minute = row["time"] // MS
    return Rollup(
        row["component"],
        minute - minute % 60_000,
        int(row["ok"]),
        int(row["failed"]),
        _float(row.get("latency_min")),
        _float(row.get("latency_max")),
        float(row.get("latency_sum") or 0.0),
        int(row.get("latency_count") or 0),
    )


def rollup_samples(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int], tuple[Rollup, int]]:
    """Per (component, minute): the rollup of raw `sample` rows and the time (ns) of the
    earliest of them, where the rollup's part is written."""
    out: dict[tuple[str, int], tuple[Rollup, int]] = {}
    for row in rows:
        t = row["time"]
        ts_ms = t // MS
        minute = ts_ms - ts_ms % 60_000
        count = int(row.get("count") or 1)
        ok = bool(row["ok"])
        latency = _float(row.get("latency_ms"))
        one = Rollup(
            row["component"],
            minute,
            count if ok else 0,
            0 if ok else count,
            latency,
            latency,
            latency * count if latency is not None else 0.0,
            count if latency is not None else 0,
        )
        k = (row["component"], minute)
        if k in out:
            seen, first = out[k]
            out[k] = (merge_rollups(seen, one), min(first, t))
        else:
            out[k] = (one, t)
    return out
