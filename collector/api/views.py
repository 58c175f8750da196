"""The API's JSON shapes of the collector's records (instants as ISO 8601, +08:00)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
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
from collector.domain.timefmt import LOCAL, format_instant, from_datetime, in_range, to_datetime
from scoring.workdays import UnknownYear, nth_workday_after

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


REPORT_WORKING_DAYS = 2  # the written report: by 24:00 of the 2nd working day after restoration


def report_due(
    i: Incident, calendar: Mapping[Any, Any] | None = None
) -> tuple[str | None, int | None]:
    """(deadline, unknown year) of the written report (书面报告), as the scorer counts it:
    00:00 local of the day after the 2nd Chinese working day after the local restoration date,
    i.e. 24:00 of that working day. (None, None) while unrestored or voided (no report is owed);
    (None, year) when the working-day calendar does not know `year` (never a guess)."""
    if i.restored_at is None or i.voided is not None or not in_range(i.restored_at):
        return None, None
    day = to_datetime(i.restored_at).date()
    try:
        due = nth_workday_after(day, REPORT_WORKING_DAYS, calendar or {})
    except UnknownYear as exc:
        return None, exc.year
    midnight = datetime(due.year, due.month, due.day, tzinfo=LOCAL) + timedelta(days=1)
    return iso(from_datetime(midnight)), None


def incident(i: Incident, calendar: Mapping[Any, Any] | None = None) -> dict[str, Any]:
    due, unknown_year = report_due(i, calendar)
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
        "report_due": due,
        "report_due_unknown_year": unknown_year,
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
