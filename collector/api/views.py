"""The API's JSON shapes of the collector's records (instants as ISO 8601, +08:00)."""

from __future__ import annotations

import logging
from typing import Any

from collector.domain.model import (
    AuditEntry,
    Heartbeat,
    Incident,
    MaintenanceWindow,
    Outage,
    Rollup,
    TimelineEntry,
)
from collector.domain.timefmt import format_instant, in_range

log = logging.getLogger("hotline.collector.views")


def iso(ms: int | None) -> str | None:
    """ISO 8601 of a stored instant; null (and a log line) for one outside the years
    2000..2099, which an older version may have stored: a read never fails on a record."""
    if ms is None or in_range(ms):
        return format_instant(ms)
    log.warning("stored instant %r is outside the years 2000..2099: shown as null", ms)
    return None


def outage(o: Outage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": o.id,
        "component": o.component,
        "start": iso(o.start),
        "end": iso(o.end),
        "kind": str(o.kind),
        "detected_at": iso(o.detected_at),
        "probes": list(o.probes),
        "reason": o.reason,
        "detail": o.detail,
    }
    if o.excluded is not None:
        out["excluded"] = {
            "reason": o.excluded.reason,
            "approved_by": o.excluded.approved_by,
            "by": o.excluded.by,
            "at": iso(o.excluded.at),
        }
    return out


def window(w: MaintenanceWindow) -> dict[str, Any]:
    return {
        "id": w.id,
        "components": list(w.components),
        "start": iso(w.start),
        "end": iso(w.end),
        "reason": w.reason,
        "approval_ref": w.approval_ref,
        "created_at": iso(w.created_at),
        "created_by": w.created_by,
        "rrule": w.rrule,
    }


def incident(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "components": list(i.components),
        "severity": i.severity,
        "title": i.title,
        "opened_by": i.opened_by,
        "detected_at": iso(i.detected_at),
        "first_failed_at": iso(i.first_failed_at),
        "responded_at": iso(i.responded_at),
        "responded_by": i.responded_by,
        "restored_at": iso(i.restored_at),
        "restored_by": i.restored_by,
        "report_submitted_at": iso(i.report_submitted_at),
        "report_ref": i.report_ref,
        "outages": list(i.outage_ids),
        "voided": i.voided,
    }


def timeline_entry(e: TimelineEntry) -> dict[str, Any]:
    return {"ts": iso(e.ts), "event": e.event, "actor": e.actor, "detail": e.detail}


def audit_entry(a: AuditEntry) -> dict[str, Any]:
    return {
        "ts": iso(a.ts),
        "actor": a.actor,
        "action": a.action,
        "target": a.target,
        "detail": a.detail,
    }


def heartbeat(h: Heartbeat) -> dict[str, Any]:
    return {
        "agent": h.agent,
        "last_seen": iso(h.received_at),
        "sent_at": iso(h.sent_at),
        "skew_seconds": h.skew_ms / 1000 if in_range(h.sent_at) else None,
        "interval": h.interval,
        "spool": h.spool,
        "health": h.health,
        "host": h.host,
    }


def rollup(r: Rollup) -> dict[str, Any]:
    return {
        "component": r.component,
        "minute": iso(r.minute),
        "ok": r.ok,
        "failed": r.failed,
        "latency_ms": {
            "min": r.latency_min,
            "max": r.latency_max,
            "mean": r.latency_sum / r.latency_count if r.latency_count else None,
        },
    }
