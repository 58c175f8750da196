"""The month's facts (SPEC "Facts"), the scorer's only input, built from stored records. Pure.

Outages are exported as recorded (the scorer clips them to the month and splits maintenance
from fault); recurring windows are expanded into their occurrences in the month; no-data
intervals still open end at `as_of`, and a component first seen mid-month has no data from the
month's start until then; components that a window or incident names but that never
reported are left out of it (the facts must only name known components). The audit trail of the
month rides along under `audit` (unknown keys are ignored by the scorer).

A record with an instant outside the years 2000..2099 (stored by an older version that did not
bound them) is left out with a log line: it cannot be formatted, and the month must still be
exported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from collector.domain.maintenance import ALL, occurrences
from collector.domain.model import (
    AuditEntry,
    Component,
    Incident,
    MaintenanceWindow,
    Millis,
    Outage,
)
from collector.domain.timefmt import format_instant, in_range, month_range

log = logging.getLogger("hotline.collector.facts")


def _sane(kind: str, ident: str, *instants: Millis | None) -> bool:
    if all(ms is None or in_range(ms) for ms in instants):
        return True
    log.warning(
        "facts: %s %s left out: an instant outside the years 2000..2099 %r", kind, ident, instants
    )
    return False


def build_facts(
    month: str,
    now: Millis,
    components: Sequence[Component],
    composite_id: str | None,
    outages: Sequence[Outage],
    no_data: Sequence[Outage],
    windows: Sequence[MaintenanceWindow],
    incidents: Sequence[Incident],
    audit: Sequence[AuditEntry] = (),
    backups: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The facts of `month`. `backups` (from `inspection.backup_events`) is exported under the
    optional key `backups` when there is any: `[{"component", "kind": "daily"|"monthly",
    "due", "done_at"}]` (`done_at` null: the backup was missed)."""
    lo, hi = month_range(month)
    as_of = max(now, lo)
    comps = [{"id": c.id, "system": c.system} for c in components if c.id != composite_id]
    if composite_id is not None:
        comps.append({"id": composite_id, "system": "callsys"})
    known = {c["id"] for c in comps}
    out_outages = []
    for o in outages:
        if o.component not in known or o.start >= hi:
            continue
        ex_at = o.excluded.at if o.excluded is not None else None
        if not _sane("outage", o.id, o.start, o.end, o.detected_at, ex_at):
            continue
        entry: dict[str, Any] = {
            "id": o.id,
            "component": o.component,
            "start": format_instant(o.start),
            "end": format_instant(o.end),
            "detected_at": format_instant(o.detected_at),
            "reason": o.reason,
        }
        if o.excluded is not None:
            entry["excluded"] = {
                "reason": o.excluded.reason,
                "approved_by": o.excluded.approved_by,
                "by": o.excluded.by,
                "at": format_instant(o.excluded.at),
            }
        out_outages.append(entry)
    out_no_data = []
    # A component first heard of mid-month was not observed before: that time is no-data
    # (shown as coverage) rather than silently counted as up. If it was really installed then,
    # an operator says so with `since`.
    for c in components:
        if c.id != composite_id and lo < c.first_seen:
            end = min(c.first_seen, as_of, hi)
            if end > lo:
                out_no_data.append(
                    {"component": c.id, "start": format_instant(lo), "end": format_instant(end)}
                )
    for o in no_data:
        end = o.end if o.end is not None else min(as_of, hi)
        if o.component not in known or end <= o.start or not _sane("no-data", o.id, o.start, end):
            continue
        out_no_data.append(
            {"component": o.component, "start": format_instant(o.start), "end": format_instant(end)}
        )
    out_windows = []
    windows = [w for w in windows if _sane("window", w.id, w.start, w.end)]
    for occ in occurrences(windows, lo, hi):
        w = occ.window
        names = [c for c in w.components if c == ALL or c in known]
        if not names:
            continue
        out_windows.append(
            {
                "id": occ.id,
                "start": format_instant(occ.start),
                "end": format_instant(occ.end),
                "components": names,
                "created_at": format_instant(w.created_at) if in_range(w.created_at) else None,
                "created_by": w.created_by,
                "reason": w.reason,
                "approval_ref": w.approval_ref,
                **({"rrule": w.rrule} if w.rrule else {}),
            }
        )
    out_incidents = []
    for inc in incidents:
        if not lo <= inc.detected_at < hi or inc.voided is not None:
            continue  # a voided incident's downtime was maintenance: it is not counted
        stamps = (inc.responded_at, inc.restored_at, inc.report_submitted_at, inc.first_failed_at)
        if not _sane("incident", inc.id, *stamps):
            continue
        out_incidents.append(
            {
                "id": inc.id,
                "components": [c for c in inc.components if c in known],
                "severity": inc.severity,
                "detected_at": format_instant(inc.detected_at),
                "responded_at": format_instant(inc.responded_at),
                "restored_at": format_instant(inc.restored_at),
                "report_submitted_at": format_instant(inc.report_submitted_at),
                "first_failed_at": format_instant(inc.first_failed_at),
                "title": inc.title,
                "opened_by": inc.opened_by,
                "responded_by": inc.responded_by,
                "report_ref": inc.report_ref,
            }
        )
    facts: dict[str, Any] = {
        "month": month,
        "as_of": format_instant(as_of),
        "components": comps,
        "outages": out_outages,
        "maintenance_windows": out_windows,
        "incidents": out_incidents,
        "no_data": out_no_data,
        "audit": [
            {
                "ts": format_instant(a.ts),
                "actor": a.actor,
                "action": a.action,
                "target": a.target,
                "detail": a.detail,
            }
            for a in audit
            if a.ts < hi and _sane("audit entry", a.target, a.ts)
        ],
    }
    if backups:
        # every backup the store saw, also of components left out of `components` (watched
        # only by backup checks: no state, no member of their system)
        facts["backups"] = [dict(b) for b in backups]
    return facts
