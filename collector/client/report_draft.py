"""The skeleton of an incident's written report (书面报告), in Chinese, from its timeline. Pure.

The hotline center asks for a written report within 2 working days of each repaired fault;
the draft fills in what the collector knows (times, components, evidence, who acknowledged)
and leaves marked blanks for what only people know (cause, measures).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

_EVENTS = {
    "detected": "监测系统确认故障",
    "opened": "人工登记故障",
    "joined": "关联故障并入",
    "acked": "运维人员响应",
    "restored": "服务恢复",
    "reported": "提交书面报告",
    "annotated": "备注",
    "deadline_passed": "响应时限已过",
}
_SEVERITY = {"P1": "一级（P1）", "P2": "二级（P2）", "P3": "三级（P3）"}
_BLANK = "（待填写）"


def _when(text: str | None) -> str:
    if not text:
        return "—"
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")


def _minutes(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "—"
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return f"{delta.total_seconds() / 60:.1f} 分钟"


def _opened_by(who: object) -> str:
    return "监测系统自动发现" if who == "collector" else f"人工登记：{who}"


def draft_markdown(incident: dict[str, Any]) -> str:
    i = incident
    lines = [
        f"# 故障书面报告：{i['id']}",
        "",
        "## 一、故障概况",
        "",
        "| 项目 | 内容 |",
        "|---|---|",
        f"| 故障编号 | {i['id']} |",
        f"| 故障等级 | {_SEVERITY.get(i['severity'], i['severity'])} |",
        f"| 影响部件 | {'、'.join(i['components'])} |",
        f"| 故障描述 | {i.get('title') or _BLANK} |",
        f"| 首次失败采样时间 | {_when(i.get('first_failed_at'))} |",
        f"| 故障确认（发现）时间 | {_when(i['detected_at'])} |",
        f"| 响应时间 | {_when(i.get('responded_at'))}"
        + (f"（{i['responded_by']}）" if i.get("responded_by") else "")
        + " |",
        f"| 恢复时间 | {_when(i.get('restored_at'))} |",
        f"| 响应用时 | {_minutes(i['detected_at'], i.get('responded_at'))} |",
        f"| 恢复用时 | {_minutes(i['detected_at'], i.get('restored_at'))} |",
        f"| 登记方式 | {_opened_by(i.get('opened_by'))} |",
        "",
        "## 二、处理经过（时间线）",
        "",
        "| 时间 | 事件 | 人员 | 说明 |",
        "|---|---|---|---|",
    ]
    for e in i.get("timeline", []):
        detail = e.get("detail") or {}
        note = detail.get("note") or detail.get("ref") or detail.get("reason") or ""
        if detail.get("component"):
            note = f"{detail['component']} {note}".strip()
        actor = "监测系统" if e.get("actor") == "collector" else e.get("actor", "")
        lines.append(
            f"| {_when(e['ts'])} | {_EVENTS.get(e['event'], e['event'])} | {actor} | {note} |"
        )
    lines += [
        "",
        "## 三、故障原因分析",
        "",
        _BLANK,
        "",
        "## 四、处理措施",
        "",
        _BLANK,
        "",
        "## 五、整改及预防措施",
        "",
        _BLANK,
        "",
        "## 六、证据",
        "",
        f"- 相关停机记录：{'、'.join(i.get('outages') or []) or '无（人工登记）'}",
        "- 采样数据与停机记录可通过采集器接口 `/api/v1/outages` 与 `/api/v1/facts` 复核。",
        "",
        "报告人：" + _BLANK + "　　审核人：" + _BLANK + "　　日期：" + _BLANK,
        "",
    ]
    return "\n".join(lines)
