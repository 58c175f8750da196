"""Alert texts: one short Chinese message per incident state change. Pure — no I/O, no clock.

Every function takes plain records (`Incident`, `Outage`, `Limits`) and returns a `Message`
(title, body) short enough for a phone screen. Component ids appear exactly as written;
instants are local time with their offset (`2026-11-03 10:00:05+08:00`); an acknowledgement
link is passed in (and shown) only while the incident is unacknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from collector.domain.incidents import DEFAULT_RESPONSE_LIMITS, DEFAULT_RESTORATION_LIMITS
from collector.domain.model import Incident, Millis, Outage
from collector.domain.timefmt import LOCAL, from_datetime, to_datetime
from scoring.workdays import UnknownYear, nth_workday_after

SYSTEM_NAMES = {"acd": "排队机", "ivr": "IVR", "seat": "座席终端", "callsys": "话务系统"}
REASON_NAMES = {
    "ok": "正常",
    "timeout": "超时",
    "refused": "连接被拒绝",
    "unreachable": "不可达",
    "dns_error": "域名解析失败",
    "tls_error": "TLS错误",
    "auth_failed": "认证失败",
    "host_key_mismatch": "主机密钥不符",
    "error_response": "错误应答",
    "unexpected_response": "应答异常",
    "check_failed": "检查未通过",
    "config_error": "探测配置错误",
    "no_data": "无数据",
}
MEASURE_NAMES = {"response": "响应", "restoration": "恢复"}
BACKUP_NAMES = {"daily": "每日增量备份", "monthly": "每月全量备份"}
_MAX_LISTED = 8  # component ids listed before "等N个"


class Message(NamedTuple):
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Limits:
    """Response and restoration limits per severity, in seconds (missing severity: P2)."""

    response: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RESPONSE_LIMITS))
    restoration: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RESTORATION_LIMITS)
    )

    def of(self, measure: str, severity: str) -> float:
        table = self.response if measure == "response" else self.restoration
        return float(table.get(severity, table.get("P2", 1800.0)))

    def deadline(self, measure: str, incident: Incident) -> Millis:
        return incident.detected_at + int(self.of(measure, incident.severity) * 1000)


SystemOf = Callable[[str], str]


def report_deadline(
    restored_at: Millis, working_days: int = 2, overrides: Mapping | None = None
) -> Millis | None:
    """When a written report is due, as the scorer counts it: 00:00 local on the day after
    the `working_days`-th working day after the restoration date; None for a year the
    working-day calendar does not know (never a guess)."""
    day = to_datetime(restored_at).date()
    try:
        due = nth_workday_after(day, working_days, overrides or {})
    except UnknownYear:
        return None
    return from_datetime(datetime(due.year, due.month, due.day, tzinfo=LOCAL) + timedelta(days=1))


def system_name(system: str) -> str:
    return SYSTEM_NAMES.get(system, "其他")


def local_time(ms: Millis) -> str:
    """`2026-11-03 10:00:05+08:00`: local time with its offset."""
    moment = to_datetime(ms)
    return moment.isoformat(sep=" ", timespec="seconds")


def duration(seconds: float) -> str:
    """`1小时5分`, `3分20秒`, `45秒`, `2天3小时`."""
    s = max(0, round(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分" if minutes else f"{hours}小时"
    if minutes:
        return f"{minutes}分{s}秒" if s else f"{minutes}分"
    return f"{s}秒"


def reason_text(reason: str, detail: str = "") -> str:
    name = REASON_NAMES.get(reason)
    text = f"{name}（{reason}）" if name else reason
    if detail:
        text += f"：{_clip(detail, 60)}"
    return text


# --- one function per state change ------------------------------------------------------------


def opened(
    inc: Incident,
    system_of: SystemOf,
    limits: Limits,
    *,
    outage: Outage | None = None,
    ack_link: str | None = None,
) -> Message:
    """A fault incident was opened (confirmed by the collector, or opened by an operator)."""
    head = f"【故障{inc.severity}】{_what(inc, system_of)} 中断"
    lines = [
        *_facts(inc, system_of, outage),
        f"响应时限：{local_time(limits.deadline('response', inc))}"
        f"（{duration(limits.of('response', inc.severity))}内）",
    ]
    if inc.opened_by != "collector":
        lines.append(f"人工登记：{inc.opened_by}" + (f"，{inc.title}" if inc.title else ""))
    return Message(head, _body(lines, ack_link))


def overrun(
    inc: Incident,
    system_of: SystemOf,
    limits: Limits,
    *,
    outage: Outage | None = None,
    ack_link: str | None = None,
) -> Message:
    """A maintenance window ended with the component still down: the overrun is a fault."""
    head = f"【维护超时{inc.severity}】{_what(inc, system_of)} 维护窗口结束仍未恢复"
    lines = [
        f"窗口结束：{local_time(inc.detected_at)}，此后计为故障",
        *_facts(inc, system_of, outage, since_label="停机开始"),
        f"响应时限：{local_time(limits.deadline('response', inc))}",
    ]
    return Message(head, _body(lines, ack_link))


def acknowledged(inc: Incident, system_of: SystemOf, limits: Limits) -> Message:
    assert inc.responded_at is not None
    took = (inc.responded_at - inc.detected_at) / 1000
    timely = took <= limits.of("response", inc.severity)
    head = f"【已响应】{_what(inc, system_of)}"
    lines = [
        f"事件：{inc.id}",
        f"响应人：{inc.responded_by or '-'}，{local_time(inc.responded_at)}",
        f"用时{duration(took)}，{'及时' if timely else '超时'}"
        f"（时限{duration(limits.of('response', inc.severity))}）",
    ]
    return Message(head, _body(lines, None))


def restored(
    inc: Incident, system_of: SystemOf, limits: Limits, *, ack_link: str | None = None
) -> Message:
    assert inc.restored_at is not None
    lasted = (inc.restored_at - (inc.first_failed_at or inc.detected_at)) / 1000
    head = f"【已恢复】{_what(inc, system_of)}"
    lines = [
        f"事件：{inc.id}",
        f"恢复于：{local_time(inc.restored_at)}，中断{duration(lasted)}",
        _timeliness(inc, "response", inc.responded_at, limits),
        _timeliness(inc, "restoration", inc.restored_at, limits),
    ]
    if inc.restored_by:
        lines.append(f"恢复登记：{inc.restored_by}")
    return Message(head, _body(lines, ack_link if inc.responded_at is None else None))


def deadline_passed(
    inc: Incident,
    measure: str,
    system_of: SystemOf,
    limits: Limits,
    *,
    ack_link: str | None = None,
) -> Message:
    name = MEASURE_NAMES.get(measure, measure)
    limit = limits.of(measure, inc.severity)
    head = f"【{name}超时】{_what(inc, system_of)}"
    lines = [
        f"事件：{inc.id}（{inc.severity}）",
        f"{name}时限{duration(limit)}已过：{local_time(limits.deadline(measure, inc))}",
        f"发现于：{local_time(inc.detected_at)}",
    ]
    return Message(head, _body(lines, ack_link if inc.responded_at is None else None))


def reminder(
    inc: Incident, system_of: SystemOf, limits: Limits, now: Millis, *, ack_link: str | None
) -> Message:
    """Still unacknowledged past the response deadline."""
    head = f"【催办】{_what(inc, system_of)} 仍未响应"
    lines = [
        f"事件：{inc.id}（{inc.severity}）",
        f"发现于：{local_time(inc.detected_at)}，已{duration((now - inc.detected_at) / 1000)}",
        f"响应时限已过：{local_time(limits.deadline('response', inc))}",
    ]
    return Message(head, _body(lines, ack_link))


def escalation(
    inc: Incident,
    system_of: SystemOf,
    limits: Limits,
    from_routes: Sequence[str],
    *,
    outage: Outage | None = None,
    ack_link: str | None = None,
) -> Message:
    head = f"【升级{inc.severity}】{_what(inc, system_of)} 超时未响应"
    lines = [
        f"由{'、'.join(from_routes)}升级：响应时限{duration(limits.of('response', inc.severity))}"
        f"已过（{local_time(limits.deadline('response', inc))}）",
        *_facts(inc, system_of, outage),
    ]
    return Message(head, _body(lines, ack_link))


def report_due(inc: Incident, system_of: SystemOf, deadline: Millis) -> Message:
    head = f"【书面报告待交】{inc.id}"
    lines = [
        f"{_what(inc, system_of)} 已于{local_time(inc.restored_at or inc.detected_at)}恢复",
        f"书面报告截止：{local_time(deadline)}（恢复后第2个工作日结束）",
        f"提交：hotline incident report {inc.id} --ref 文号",
    ]
    return Message(head, _body(lines, None))


def report_missed(inc: Incident, system_of: SystemOf, deadline: Millis) -> Message:
    head = f"【书面报告逾期】{inc.id}"
    lines = [
        f"{_what(inc, system_of)} 的书面报告未在{local_time(deadline)}前提交",
        "故障响应及时率将按每份逾期报告扣分",
    ]
    return Message(head, _body(lines, None))


def backup_missed(
    component: str,
    system: str,
    kind: str,
    due: Millis,
    *,
    probe: str = "",
    last_good: Millis | None = None,
) -> Message:
    """A backup period passed its due instant with no backup done (no incident: a missed
    backup is neither downtime nor a fault)."""
    name = BACKUP_NAMES.get(kind, kind)
    head = f"【备份缺失】{component} {name} 未在 {local_time(due)} 前完成"
    lines = [
        f"系统：{system_name(system)}" + (f"，检查：{probe}" if probe else ""),
        f"上次成功备份：{local_time(last_good) if last_good is not None else '无记录'}",
        "不计停机、不计故障事件；计入巡检报告的备份缺失",
    ]
    return Message(head, _body(lines, None))


def agent_silent(components: Sequence[tuple[str, str]], since: Millis) -> Message:
    """No results from these components (id, system): their agent has gone silent."""
    systems = sorted({system_name(s) for _, s in components})
    head = f"【无数据】{_ids([c for c, _ in components])}"
    lines = [
        f"系统：{'、'.join(systems)}",
        f"自{local_time(since)}起未收到探测结果（采集端失联？）",
        "无数据时段不计入可用率，计入覆盖率",
    ]
    return Message(head, _body(lines, None))


# --- helpers ---------------------------------------------------------------------------------


def _what(inc: Incident, system_of: SystemOf) -> str:
    systems = sorted({system_name(system_of(c)) for c in inc.components}) or ["其他"]
    return f"{'、'.join(systems)} {_ids(inc.components)}"


def _ids(components: Sequence[str]) -> str:
    shown = list(components[:_MAX_LISTED])
    more = len(components) - len(shown)
    return "、".join(shown) + (f" 等{len(components)}个" if more > 0 else "")


def _facts(
    inc: Incident, system_of: SystemOf, outage: Outage | None, since_label: str = "中断开始"
) -> list[str]:
    since = inc.first_failed_at or inc.detected_at
    lines = [f"事件：{inc.id}（{inc.severity}）", f"{since_label}：{local_time(since)}"]
    if outage is not None and outage.reason:
        lines.append(f"原因：{reason_text(outage.reason, outage.detail)}")
    elif inc.title and inc.opened_by == "collector":
        lines.append(f"说明：{_clip(inc.title, 60)}")
    return lines


def _timeliness(inc: Incident, measure: str, done: Millis | None, limits: Limits) -> str:
    name = MEASURE_NAMES[measure]
    limit = limits.of(measure, inc.severity)
    if done is None:
        return f"{name}：尚未{name}（时限{duration(limit)}）"
    took = (done - inc.detected_at) / 1000
    verdict = "及时" if took <= limit else "超时"
    return f"{name}：{verdict}，用时{duration(took)}（时限{duration(limit)}）"


def _body(lines: Sequence[str], ack_link: str | None) -> str:
    if ack_link:
        lines = [*lines, f"一键确认响应：{ack_link}"]
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def runbook_outcome(inc: Incident, system_of: SystemOf, detail: Mapping[str, object]) -> Message:
    """A runbook ran for the incident: its name, how it ended, how long it took, what it said."""
    status = str(detail.get("status", ""))
    word = {"ok": "成功", "failed": "失败", "timeout": "超时被终止"}.get(status, status)
    head = f"【处置脚本】{detail.get('runbook', '')} {word}：{_what(inc, system_of)}"
    lines = [f"事件：{inc.id}", f"用时 {detail.get('duration_ms', '?')} 毫秒"]
    if detail.get("exit_status") is not None:
        lines.append(f"退出码 {detail['exit_status']}")
    output = str(detail.get("stdout") or detail.get("stderr") or detail.get("error") or "")
    if output:
        lines.append(_clip(output.strip(), 200))
    return Message(head, _body(lines, None))
