"""A month of history for the demo, replayed through the collector's own API.

Every component is probed once a minute. Runs of identical results are sent the way the agent
ships a spool the collector was away from: one result with `count` and `until`. The replay moves
the collector's clock (see `hotline.demo.clock`) through the month in steps, so each batch
arrives just after its results were taken, and the operators' acts — a window entered days
before or only after it began, an acknowledgement minutes after the alert, a written report on
time, late or never — happen at their moment in the month.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Fault:
    components: tuple[str, ...]
    start: datetime
    minutes: int
    reason: str
    ack_after: int | None  # minutes after the first failed sample; None: never acknowledged
    report: str  # on_time | late | missing
    note: str


@dataclass(frozen=True)
class Window:
    component: str
    start: datetime
    minutes: int
    created: datetime
    reason: str


@dataclass
class Plan:
    month: str
    start: datetime
    end: datetime
    faults: list[Fault] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    blips: list[tuple[str, datetime, int]] = field(default_factory=list)  # under down_after


def previous_month(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(TZ)
    end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    return start, end


def _holidays(start: datetime, end: datetime) -> list[date]:
    import chinese_calendar

    out, day = [], start.date()
    while day < end.date():
        try:
            if chinese_calendar.is_holiday(day) and day.weekday() < 5:
                out.append(day)
        except NotImplementedError:
            pass
        day += timedelta(days=1)
    return out


def workday_after(day: date, n: int) -> date:
    """The n-th working day after `day` (China's calendar, with its holidays and swapped days)."""
    import chinese_calendar

    found = 0
    while found < n:
        day += timedelta(days=1)
        try:
            work = chinese_calendar.is_workday(day)
        except NotImplementedError:
            work = day.weekday() < 5
        found += work
    return day


def make_plan(now: datetime) -> Plan:
    start, end = previous_month(now)
    month = start.strftime("%Y-%m")

    def at(day: int, hh: int, mm: int) -> datetime:
        return start.replace(day=day, hour=hh, minute=mm)

    holidays = _holidays(start, end)
    hday = holidays[1].day if len(holidays) > 1 else (holidays[0].day if holidays else 17)
    plan = Plan(month, start, end)
    plan.faults = [
        Fault(("ivr-2",), at(3, 10, 12), 14, "timeout", 6, "on_time", "IVR 节点语音板卡故障"),
        Fault(("acd-1",), at(8, 21, 40), 23, "refused", 25, "late", "排队机主控进程异常退出"),
        Fault(("seat-007",), at(11, 9, 5), 95, "timeout", 20, "missing", "座席话机断电"),
        Fault(("cti-1",), at(hday, 14, 30), 38, "refused", 9, "on_time", "CTI 服务节假日值守重启"),
        Fault(
            ("seat-021", "seat-022"),
            at(19, 16, 0),
            47,
            "timeout",
            12,
            "on_time",
            "接入交换机端口故障",
        ),
        Fault(("ivr-1",), at(24, 3, 10), 9, "timeout", None, "late", "IVR 夜间无应答"),
        Fault(("acd-2",), at(14, 1, 5), 72, "refused", 65, "on_time", "排队机升级超时"),
    ]
    plan.windows = [
        Window("acd-2", at(14, 1, 0), 60, at(11, 15, 0), "排队机版本升级"),
        Window("seat-030", at(26, 22, 0), 60, at(26, 22, 20), "座席话机更换（补登记）"),
    ]
    plan.faults.append(
        Fault(("seat-030",), at(26, 22, 2), 38, "timeout", None, "missing", "窗口内更换话机")
    )
    plan.blips = [
        ("ivr-2", at(5, 11, 0), 2),
        ("seat-015", at(9, 8, 31), 1),
        ("acd-1", at(21, 4, 2), 2),
    ]
    return plan


@dataclass(frozen=True)
class Component:
    id: str
    system: str
    probe: str


def _timeline(c: Component, plan: Plan) -> list[tuple[datetime, datetime, str]]:
    """(from, to, reason) failed stretches of one component, minute-aligned, sorted."""
    bad = [
        (f.start, f.start + f.minutes * MINUTE, f.reason)
        for f in plan.faults
        if c.id in f.components
    ]
    bad += [(s, s + n * MINUTE, "timeout") for cid, s, n in plan.blips if cid == c.id]
    return sorted(bad)


def results_between(
    components: list[Component], plan: Plan, a: datetime, b: datetime
) -> list[dict[str, Any]]:
    """Per-minute samples in [a, b) of every component, coalesced into runs."""
    out: list[dict[str, Any]] = []
    for c in components:
        t = a
        for f_start, f_end, reason in [*_timeline(c, plan), (b, b, "ok")]:
            for seg_a, seg_b, why in (
                (t, min(f_start, b), "ok"),
                (max(f_start, t), min(f_end, b), reason),
            ):
                if seg_b <= seg_a or seg_a >= b:
                    continue
                n = math.ceil((seg_b - seg_a) / MINUTE)
                r: dict[str, Any] = {
                    "component": c.id,
                    "system": c.system,
                    "probe": c.probe,
                    "ts": seg_a.isoformat(),
                    "ok": why == "ok",
                    "reason": why,
                    "latency_ms": (3.2 if c.probe == "sip" else 41.0) if why == "ok" else None,
                    "detail": "answered 200 OK" if why == "ok" else f"demo: {why}",
                    "interval": 60,
                }
                if n > 1:
                    r["count"], r["until"] = n, (seg_a + (n - 1) * MINUTE).isoformat()
                out.append(r)
            t = max(t, f_end)
            if t >= b:
                break
    return out + inspection_results(plan, a, b)


# The inspection report's (巡检报告) data: hourly host resources of two hosts (a `process`
# check with target `system`), and the ACD's daily database backup (a `file_age` check with
# `backup: daily`, at 03:00 and 15:00) that is not made on MISSED_BACKUP_DAY — one failed check,
# under down_after, so the month's outages and score stay as they were.
RESOURCE_HOSTS = (("acd-1", "acd", 31.0), ("ivr-1", "ivr", 18.0))
BACKUP_COMPONENT = ("acd-1", "acd")
MISSED_BACKUP_DAY = 12
_HOUR = timedelta(hours=1)


def _backup_made(plan: Plan, moment: datetime) -> datetime:
    """When the newest backup file seen at `moment` was written (02:00 daily, but none on
    MISSED_BACKUP_DAY)."""
    day = moment.replace(hour=2, minute=0, second=0, microsecond=0)
    if moment < day:
        day -= timedelta(days=1)
    if day.date() == plan.start.date().replace(day=MISSED_BACKUP_DAY):
        day -= timedelta(days=1)
    return day


def inspection_results(plan: Plan, a: datetime, b: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = a.replace(minute=30, second=0, microsecond=0)
    if t < a:
        t += _HOUR
    while t < b:
        hour, day = t.hour, t.day
        for host, system, base in RESOURCE_HOSTS:
            cpu = base + 25 * math.sin(math.pi * max(0, hour - 7) / 14) * (hour >= 7) + day % 5
            value = {
                "cpu_pct": round(cpu, 1),
                "memory_pct": round(base + 30 + day * 0.4, 1),
                "disk_pct": round(52 + day * 0.35 + (base > 20) * 8, 1),
            }
            out.append(
                {"component": host, "system": system, "probe": "resources",
                 "ts": t.isoformat(), "ok": True, "reason": "ok",
                 "detail": "system: within limits", "interval": 3600, "value": value}
            )  # fmt: skip
        if hour in (3, 15):
            made = _backup_made(plan, t)
            age = (t - made).total_seconds() / 3600
            ok = age <= 26
            detail = f"daily backup: /var/backups/acd: newest is {age:.1f} h old" + (
                "" if ok else " (> 26 h)"
            )
            out.append(
                {"component": BACKUP_COMPONENT[0], "system": BACKUP_COMPONENT[1],
                 "probe": "backup", "ts": t.isoformat(), "ok": ok,
                 "reason": "ok" if ok else "check_failed", "detail": detail,
                 "interval": 43200,
                 "value": {"backup": "daily", "age_hours": round(age, 4),
                           "mtime": made.timestamp()}}
            )  # fmt: skip
        t += _HOUR
    return out


@dataclass(frozen=True)
class Act:
    at: datetime
    what: str  # window | ack | report
    fault: Fault | None = None
    window: Window | None = None


def acts(plan: Plan, until: datetime) -> list[Act]:
    out = [Act(w.created, "window", window=w) for w in plan.windows]
    for f in plan.faults:
        if f.ack_after is not None:
            out.append(Act(f.start + f.ack_after * MINUTE, "ack", f))
        restored = (f.start + f.minutes * MINUTE).date()
        deadline = workday_after(restored, 2)
        if f.report == "on_time":
            when = datetime.combine(workday_after(restored, 1), datetime.min.time(), TZ)
            out.append(Act(when.replace(hour=16, minute=30), "report", f))
        elif f.report == "late":
            when = datetime.combine(workday_after(deadline, 2), datetime.min.time(), TZ)
            out.append(Act(when.replace(hour=10, minute=15), "report", f))
    return sorted((a for a in out if a.at < until), key=lambda a: a.at)


def steps(plan: Plan, until: datetime, acts_: list[Act]) -> list[datetime]:
    """Instants the replay stops at: every midnight, every act, and `until`."""
    points = {a.at.replace(second=0, microsecond=0) for a in acts_}
    day = plan.start
    while day < until:
        points.add(day)
        day += timedelta(days=1)
    points.add(until)
    return sorted(p for p in points if plan.start < p <= until)


def replay(
    plan: Plan,
    components: list[Component],
    until: datetime,
    set_clock: Callable[[datetime], None],
    post: Callable[[list[dict[str, Any]], str], int],
    act: Callable[[Act], None],
) -> int:
    """Send the history from plan.start to `until` (the last step may end between minutes);
    returns the number of results sent."""
    todo = acts(plan, until)
    sent, t, seq = 0, plan.start, 0
    for stop in steps(plan, until, todo):
        set_clock(min(stop + timedelta(seconds=5), datetime.now(TZ)))
        batch = results_between(components, plan, t, stop)
        for i in range(0, len(batch), 500):
            seq += 1
            sent += post(batch[i : i + 500], f"demo-backfill-{plan.month}-{seq:05d}")
        t = stop
        while todo and todo[0].at <= stop:
            act(todo.pop(0))
    return sent
