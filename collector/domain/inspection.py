"""The month's inspection (巡检报告) from stored records, and backups as events. Pure.

`build_inspection` turns what the store keeps about a month — per-check daily counts
(`CheckDay`), samples whose `value` carries host resources, certificate days or a backup's age,
outages, no-data intervals, windows, incidents and the agents' latest heartbeats — into the
JSON `GET /api/v1/inspection?month=` returns and `hotline inspect` writes as a report. What was
missed is listed, never hidden: components that reported nothing in the month, days a check
had no result, agents silent, backups not done.

`backup_events` is the backups' rule: a `file_age` check with `backup: daily` owes one backup
per local day (due at 24:00 of that day), `backup: monthly` one per month (due at 24:00 of its
last day). A backup is done when a file the check saw was written inside that day (month);
`done_at` is the earliest such file's time, null when none was seen. Only periods whose due
time has passed (by `as_of`) and that the check was running for are listed.

A backup check's samples decide no component state (`is_backup_sample`: the collector keeps
them out of the state engine — a missed backup is never downtime nor an incident).
`missed_backups` is the alert's side of the same rule: the periods `backup_events` lists as not
done, once that is settled — the check has looked at or after the due instant, or stayed silent
for two of its intervals past it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from collector.domain.maintenance import Occurrence, occurrences
from collector.domain.model import (
    CheckDay,
    Component,
    Heartbeat,
    Incident,
    IntervalKind,
    MaintenanceWindow,
    Millis,
    Outage,
    Sample,
)
from collector.domain.timefmt import format_instant, month_range, to_datetime

DAY_MS = 86_400_000
RESOURCE_KEYS = ("cpu_pct", "memory_pct", "disk_pct")
CERT_KEY = "cert_days_left"
BACKUP_KEY = "backup"
VALUE_KEYS = (*RESOURCE_KEYS, CERT_KEY, BACKUP_KEY)
BACKUP_KINDS = ("daily", "monthly")


def _day_label(ms: Millis) -> str:
    return to_datetime(ms).date().isoformat()


def _days(lo: Millis, hi: Millis) -> list[Millis]:
    """Local midnights from `lo` (a local midnight) up to `hi`."""
    out, d = [], lo
    while d < hi:
        out.append(d)
        d += DAY_MS
    return out


def _done_instant(s: Sample) -> Millis | None:
    """When the backup file the sample saw was written (ms), or None when it saw none."""
    v = s.value
    if not isinstance(v, dict):
        return None
    mtime = v.get("mtime")
    if isinstance(mtime, int | float) and not isinstance(mtime, bool):
        return int(mtime * 1000)
    age = v.get("age_hours")
    if isinstance(age, int | float) and not isinstance(age, bool):
        return s.ts - int(age * 3_600_000)
    return None


def is_backup_sample(s: Sample) -> bool:
    """Whether `s` is a backup check's result (its `value` says `backup: daily|monthly`)."""
    return isinstance(s.value, dict) and s.value.get(BACKUP_KEY) in BACKUP_KINDS


def _backup_checks(samples: Iterable[Sample]) -> dict[tuple[str, str], list[Sample]]:
    found: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        if is_backup_sample(s):
            found[(s.component, s.probe)].append(s)
    return found


def _periods(
    found: Sequence[Sample], lo: Millis, hi: Millis, as_of: Millis
) -> Iterator[tuple[str, Millis, Millis | None]]:
    """One backup check's periods in [lo, hi) due by `as_of`: (kind, due, done_at or None)."""
    kind = found[-1].value[BACKUP_KEY]
    started = min(s.ts for s in found)
    done = sorted({d for s in found if (d := _done_instant(s)) is not None})
    if kind == "daily":
        periods = [(d, d + DAY_MS) for d in _days(lo, hi) if d + DAY_MS > started]
    else:
        periods = [(lo, hi)] if started < hi else []
    for start, due in periods:
        if due > as_of:
            continue  # not due yet
        yield kind, due, next((d for d in done if start <= d < due), None)


def backup_events(month: str, now: Millis, samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """The facts' `backups`: `[{"component", "kind", "due", "done_at"}]` (see the module), in
    order of (component, due). `samples` are the backup checks' samples from the month's start
    to `now` (later samples may reveal a backup written inside the month)."""
    lo, hi = month_range(month)
    as_of = max(now, lo)
    out: list[tuple[str, Millis, dict[str, Any]]] = []
    for (component, _probe), found in sorted(_backup_checks(samples).items()):
        for kind, due, at in _periods(found, lo, hi, as_of):
            out.append(
                (
                    component,
                    due,
                    {
                        "component": component,
                        "kind": kind,
                        "due": format_instant(due),
                        "done_at": format_instant(at),
                    },
                )
            )
    out.sort(key=lambda e: (e[0], e[1], e[2]["kind"]))
    return [e[2] for e in out]


@dataclass(frozen=True, slots=True)
class MissedBackup:
    """A backup period that passed its due instant without a backup done (an alert)."""

    component: str
    system: str
    probe: str
    kind: str  # daily | monthly
    due: Millis
    last_good: Millis | None  # the newest backup the check saw written before `due`


def missed_backups(month: str, now: Millis, samples: Sequence[Sample]) -> list[MissedBackup]:
    """The periods of `month` that `backup_events` lists as not done, settled as of `now`:
    the check reported at or after the due instant (it looked, and the files it saw were not
    written in time), or it has been silent for two of its intervals (default an hour) past
    it. Same `samples` as `backup_events`; in order of (due, component, probe)."""
    lo, hi = month_range(month)
    as_of = max(now, lo)
    out = []
    for (component, probe), found in sorted(_backup_checks(samples).items()):
        latest = max(s.last_ts for s in found)
        interval = next((s.interval for s in reversed(found) if s.interval), None) or 3600.0
        settle = int(2 * interval * 1000)
        done = sorted({d for s in found if (d := _done_instant(s)) is not None})
        for kind, due, at in _periods(found, lo, hi, as_of):
            if at is not None or (latest < due and as_of < due + settle):
                continue
            last_good = max((d for d in done if d < due), default=None)
            out.append(MissedBackup(component, found[-1].system, probe, kind, due, last_good))
    out.sort(key=lambda m: (m.due, m.component, m.probe))
    return out


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": round(min(values), 2),
        "avg": round(sum(values) / len(values), 2),
        "max": round(max(values), 2),
    }


def _resources(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    per: dict[tuple[str, str, str], dict[Millis, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for s in samples:
        if not isinstance(s.value, dict):
            continue
        day = _local_midnight(s.ts)
        for key in RESOURCE_KEYS:
            v = s.value.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool):
                per[(s.component, s.system, s.agent)][day][key].append(float(v))
    out = []
    for (component, system, agent), days in sorted(per.items()):
        out.append(
            {
                "host": component,
                "system": system,
                "agent": agent,
                "days": [
                    {
                        "day": _day_label(day),
                        **{k.removesuffix("_pct"): _stats(vals.get(k, [])) for k in RESOURCE_KEYS},
                    }
                    for day, vals in sorted(days.items())
                ],
            }
        )
    return out


def _local_midnight(ms: Millis) -> Millis:
    offset = 8 * 3_600_000
    return (ms + offset) // DAY_MS * DAY_MS - offset


def _certificates(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    latest: dict[tuple[str, str], Sample] = {}
    least: dict[tuple[str, str], float] = {}
    for s in samples:
        v = s.value.get(CERT_KEY) if isinstance(s.value, dict) else None
        if not isinstance(v, int | float) or isinstance(v, bool):
            continue
        key = (s.component, s.probe)
        latest[key] = s
        least[key] = min(least.get(key, float(v)), float(v))
    out = []
    for key, s in sorted(latest.items()):
        days = float(s.value[CERT_KEY])
        out.append(
            {
                "component": s.component,
                "system": s.system,
                "probe": s.probe,
                "days_left": round(days, 2),
                "min_days_left": round(least[key], 2),
                "expires_at": format_instant(s.ts + int(days * DAY_MS)),
                "seen_at": format_instant(s.ts),
            }
        )
    return out


def _overlap(o: Outage, lo: Millis, hi: Millis, as_of: Millis) -> int:
    end = o.end if o.end is not None else as_of
    return max(0, min(end, hi) - max(o.start, lo))


def build_inspection(
    month: str,
    now: Millis,
    components: Sequence[Component],
    composite_id: str | None,
    check_days: Sequence[CheckDay],
    value_samples: Sequence[Sample],
    outages: Sequence[Outage],
    windows: Sequence[MaintenanceWindow],
    incidents: Sequence[Incident],
    heartbeats: Sequence[Heartbeat],
    agents: Sequence[str] = (),
    silent_after: Millis = 10 * 60_000,
) -> dict[str, Any]:
    """The month's inspection (see the module). `outages` holds both kinds (down and
    no-data); `value_samples` those of `VALUE_KEYS` from the month's start to `now`; `agents`
    the configured agents' names (an agent that never sent a heartbeat is listed as silent);
    a heartbeat older than `silent_after` at the end of the period means a silent agent."""
    lo, hi = month_range(month)
    as_of = max(now, lo)
    end = min(as_of, hi)
    month_days = _days(lo, end)
    in_month = [s for s in value_samples if lo <= s.ts < hi]
    span = _Span(lo, hi, as_of)
    month_checks = [d for d in check_days if lo <= d.day < hi]
    down = [o for o in outages if o.start < hi and (o.end is None or o.end > lo)]

    checks, gaps = _check_rows(span, month_days, components, month_checks, down)
    ran = {d.component for d in month_checks}
    never_ran = [
        {"component": c.id, "system": c.system}
        for c in components
        if c.id != composite_id and c.id not in ran and c.first_seen < hi
    ]
    entries = backup_events(month, now, value_samples)
    agent_rows = _agent_rows(agents, heartbeats, end - silent_after)
    seen_days = {d.day for d in check_days}
    return {
        "month": month,
        "as_of": format_instant(as_of),
        "period": {"start": format_instant(lo), "end": format_instant(hi)},
        "checks": checks,
        "components": _component_rows(span, components, composite_id, down),
        "resources": _resources(in_month),
        "certificates": _certificates(in_month),
        "backups": _backup_rows(span, value_samples, entries),
        "incidents": [_incident_row(i) for i in incidents if lo <= i.detected_at < hi],
        "maintenance_windows": [_window_row(occ) for occ in occurrences(list(windows), lo, hi)],
        "agents": agent_rows,
        "missed": {
            "components_without_results": never_ran,
            "agents_silent": [
                {"agent": a["agent"], "last_seen": a["last_seen"]}
                for a in agent_rows
                if a["silent"]
            ],
            "check_days_without_data": gaps,
            "days_without_any_data": [_day_label(d) for d in month_days if d not in seen_days],
            "backups_missed": [
                {"component": e["component"], "kind": e["kind"], "due": e["due"]}
                for e in entries
                if e["done_at"] is None
            ],
        },
    }


@dataclass(frozen=True, slots=True)
class _Span:
    """The month [lo, hi) and the instant an open outage runs to."""

    lo: Millis
    hi: Millis
    as_of: Millis

    def seconds(self, found: Iterable[Outage]) -> int:
        return sum(_overlap(o, self.lo, self.hi, self.as_of) for o in found) // 1000


def _check_rows(
    span: _Span,
    month_days: Sequence[Millis],
    components: Sequence[Component],
    check_days: Sequence[CheckDay],
    outages: Sequence[Outage],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each check's month (ok/failed counts, its outages, days without a result), and the
    checks' days without data."""
    down_by: dict[tuple[str, str], list[Outage]] = defaultdict(list)
    for o in outages:
        if o.kind is not IntervalKind.NO_DATA:
            for p in o.probes:
                down_by[(o.component, p)].append(o)
    per_check: dict[tuple[str, str], list[CheckDay]] = defaultdict(list)
    for d in check_days:
        per_check[(d.component, d.probe)].append(d)
    first_seen = {c.id: c.first_seen for c in components}
    checks = []
    gaps = []
    for (component, probe), days in sorted(per_check.items()):
        ok = sum(d.ok for d in days)
        failed = sum(d.failed for d in days)
        seen = {d.day for d in days}
        joined_late = first_seen.get(component, span.lo) > span.lo
        since = min(d.day for d in days) if joined_late else span.lo
        missing = [_day_label(d) for d in month_days if d >= since and d not in seen]
        downs = down_by.get((component, probe), [])
        state = "failed" if failed and not ok else "degraded" if failed or downs else "ok"
        checks.append(
            {
                "component": component,
                "system": days[0].system,
                "probe": probe,
                "agent": days[0].agent,
                "ok": ok,
                "failed": failed,
                "ok_ratio": round(ok / (ok + failed), 6) if ok + failed else None,
                "first": format_instant(min(d.first for d in days)),
                "last": format_instant(max(d.last for d in days)),
                "days_with_data": len(seen),
                "days_without_data": missing,
                "outages": len(downs),
                "down_seconds": span.seconds(downs),
                "state": state,
            }
        )
        if missing:
            gaps.append({"component": component, "probe": probe, "days": missing})
    return checks, gaps


def _component_rows(
    span: _Span,
    components: Sequence[Component],
    composite_id: str | None,
    outages: Sequence[Outage],
) -> list[dict[str, Any]]:
    """Each component with outages or no-data in the month: its outages and both times."""
    down: dict[str, list[Outage]] = defaultdict(list)
    no_data: dict[str, list[Outage]] = defaultdict(list)
    for o in outages:
        (no_data if o.kind is IntervalKind.NO_DATA else down)[o.component].append(o)
    systems = {c.id: c.system for c in components}
    if composite_id is not None:
        systems[composite_id] = "callsys"
    return [
        {
            "component": cid,
            "system": systems.get(cid, "other"),
            "outages": [
                {
                    "start": format_instant(o.start),
                    "end": format_instant(o.end),
                    "reason": o.reason,
                    "detail": o.detail,
                    "probes": list(o.probes),
                    "excluded": o.excluded is not None,
                }
                for o in sorted(down.get(cid, []), key=lambda o: o.start)
            ],
            "down_seconds": span.seconds(down.get(cid, [])),
            "no_data_seconds": span.seconds(no_data.get(cid, [])),
        }
        for cid in sorted(set(down) | set(no_data))
    ]


def _backup_rows(
    span: _Span, value_samples: Sequence[Sample], entries: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each backup check: its kind, last good backup, failed results, what was due and missed."""
    rows = []
    for (component, probe), found in sorted(_backup_checks(value_samples).items()):
        mine = [e for e in entries if e["component"] == component]
        good = [
            d for s in found if s.ok and s.ts <= span.as_of and (d := _done_instant(s)) is not None
        ]
        rows.append(
            {
                "component": component,
                "system": found[-1].system,
                "probe": probe,
                "kind": found[-1].value[BACKUP_KEY],
                "last_good": format_instant(max(good)) if good else None,
                "failed_results": sum(
                    s.count for s in found if not s.ok and span.lo <= s.ts < span.hi
                ),
                "due": len(mine),
                "missed": [e["due"] for e in mine if e["done_at"] is None],
                "entries": mine,
            }
        )
    return rows


def _agent_rows(
    agents: Sequence[str], heartbeats: Sequence[Heartbeat], quiet_before: Millis
) -> list[dict[str, Any]]:
    """Each agent configured or heard from: last heartbeat, host, and whether it is silent
    (no heartbeat, or none since `quiet_before`)."""
    heard = {h.agent: h for h in heartbeats}
    rows = []
    for name in sorted(set(agents) | set(heard)):
        h = heard.get(name)
        rows.append(
            {
                "agent": name,
                "last_seen": format_instant(h.received_at) if h is not None else None,
                "host": h.host if h is not None else {},
                "silent": h is None or h.received_at < quiet_before,
            }
        )
    return rows


def _incident_row(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "components": list(i.components),
        "severity": i.severity,
        "title": i.title,
        "detected_at": format_instant(i.detected_at),
        "responded_at": format_instant(i.responded_at),
        "restored_at": format_instant(i.restored_at),
        "report_submitted_at": format_instant(i.report_submitted_at),
        "voided": i.voided,
    }


def _window_row(occ: Occurrence) -> dict[str, Any]:
    return {
        "id": occ.id,
        "components": list(occ.window.components),
        "start": format_instant(occ.start),
        "end": format_instant(occ.end),
        "reason": occ.window.reason,
        "approval_ref": occ.window.approval_ref,
        "created_by": occ.window.created_by,
        "created_late": occ.window.created_at > occ.start,
    }
