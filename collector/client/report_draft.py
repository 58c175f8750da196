"""The skeleton of an incident's written report (书面报告), in Chinese, from its timeline. Pure.

The hotline center asks for a written report within 2 working days of each repaired fault;
the draft fills in what the collector knows (times, components, evidence, who acknowledged,
the report's due date, from the API's `report_due`) and leaves marked blanks for what only
people know (cause, measures). Markdown (`draft_markdown`) or Word (`draft_docx`, python-docx),
the form that gets sent.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
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
_SYSTEM_NAMES = {"acd": "排队机", "ivr": "IVR", "seat": "座席终端", "callsys": "话务系统"}
_DUE_RULE = "恢复后第 2 个工作日 24:00 前"
EAST_ASIAN_FONT = "宋体"  # SimSun: in every Chinese Word; fontconfig maps it to Noto CJK on Linux
LATIN_FONT = "Times New Roman"


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


def report_due_text(incident: Mapping[str, Any]) -> str:
    """The written report's due date: `2026-10-09 24:00 前（恢复后第 2 个工作日）`; pending while
    unrestored; said so when the working-day calendar does not know the year."""
    i = incident
    if i.get("voided"):
        return "无需报告（已作废，不计入考核）"
    if not i.get("restored_at"):
        return f"待定（尚未恢复；{_DUE_RULE}）"
    due = i.get("report_due")
    if due:
        moment = datetime.fromisoformat(due)
        if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
            return f"{(moment - timedelta(days=1)):%Y-%m-%d} 24:00 前（恢复后第 2 个工作日）"
        return f"{moment:%Y-%m-%d %H:%M} 前（恢复后第 2 个工作日）"
    if i.get("report_due_unknown_year"):
        year = i["report_due_unknown_year"]
        return f"无法确定：{year} 年工作日安排尚未公布（{_DUE_RULE}）"
    return f"—（采集器未提供；{_DUE_RULE}）"


def _systems_text(incident: Mapping[str, Any], systems: Mapping[str, str] | None) -> str:
    names: list[str] = []
    for c in incident["components"]:
        system = (systems or {}).get(c)
        name = _SYSTEM_NAMES.get(system, system or "—") if system else "—"
        if name not in names:
            names.append(name)
    return "、".join(n for n in names if n != "—") or "—"


def _duration(incident: Mapping[str, Any]) -> str:
    if not incident.get("restored_at"):
        return "未恢复"
    return _minutes(incident["detected_at"], incident["restored_at"])


def facts(
    incident: Mapping[str, Any], systems: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The facts table of the Word report: (项目, 内容)."""
    i = incident
    responded = _when(i.get("responded_at"))
    if i.get("responded_by"):
        responded += f"（{i['responded_by']}）"
    return [
        ("编号", i["id"]),
        ("级别", _SEVERITY.get(i["severity"], i["severity"])),
        ("组件", "、".join(i["components"])),
        ("系统", _systems_text(i, systems)),
        ("故障描述", i.get("title") or _BLANK),
        ("发现时间", _when(i["detected_at"])),
        ("响应时间", responded),
        ("恢复时间", _when(i.get("restored_at"))),
        ("持续时长", _duration(i)),
        ("报告截止时间", report_due_text(i)),
        ("登记方式", _opened_by(i.get("opened_by"))),
    ]


def _timeline_rows(incident: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for e in incident.get("timeline", []):
        detail = e.get("detail") or {}
        note = detail.get("note") or detail.get("ref") or detail.get("reason") or ""
        if detail.get("component"):
            note = f"{detail['component']} {note}".strip()
        actor = "监测系统" if e.get("actor") == "collector" else e.get("actor", "")
        rows.append((_when(e["ts"]), _EVENTS.get(e["event"], e["event"]), actor, note))
    return rows


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
        f"| 报告截止时间 | {report_due_text(i)} |",
        "",
        "## 二、处理经过（时间线）",
        "",
        "| 时间 | 事件 | 人员 | 说明 |",
        "|---|---|---|---|",
    ]
    for ts, event, actor, note in _timeline_rows(i):
        lines.append(f"| {ts} | {event} | {actor} | {note} |")
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


# --- Word ------------------------------------------------------------------------------------


def docx_fonts(element: Any, east_asian: str, bold: bool | None = None) -> None:
    """Latin and East Asian fonts on a style or run (w:rFonts w:eastAsia), theme fonts dropped
    so Word and LibreOffice render the Chinese with `east_asian`."""
    from docx.oxml.ns import qn

    element.font.name = LATIN_FONT
    if bold is not None:
        element.font.bold = bold
    rpr = element.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:eastAsia"), east_asian)


def _table(
    document: Any, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], font: str
) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        docx_fonts(cell.paragraphs[0].add_run(text), font, bold=True)
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            docx_fonts(cell.paragraphs[0].add_run(text), font)


def draft_docx(
    incident: Mapping[str, Any],
    systems: Mapping[str, str] | None = None,
    east_asian_font: str = EAST_ASIAN_FONT,
) -> bytes:
    """The 书面报告 as a Word document (.docx bytes): facts, timeline, blanks to fill in."""
    from docx import Document

    i = incident
    document = Document()
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        docx_fonts(document.styles[name], east_asian_font)

    def heading(text: str, level: int) -> None:
        docx_fonts(document.add_heading(level=level).add_run(text), east_asian_font)

    def paragraph(text: str) -> None:
        docx_fonts(document.add_paragraph().add_run(text), east_asian_font)

    heading("事件报告（书面报告）", 0)
    paragraph(f"事件编号：{i['id']}　　报告截止时间：{report_due_text(i)}")
    heading("一、事件概况", 1)
    _table(document, ("项目", "内容"), facts(i, systems), east_asian_font)
    heading("二、事件时间线", 1)
    rows = _timeline_rows(i)
    if rows:
        _table(document, ("时间", "事件", "人员", "说明"), rows, east_asian_font)
    else:
        paragraph("（时间线无记录）")
    for title in ("三、原因分析", "四、处理过程", "五、整改措施"):
        heading(title, 1)
        paragraph(_BLANK)
    heading("六、证据", 1)
    paragraph(f"相关停机记录：{'、'.join(i.get('outages') or []) or '无（人工登记）'}")
    paragraph("采样数据与停机记录可通过采集器接口 /api/v1/outages 与 /api/v1/facts 复核。")
    paragraph("报告人：" + _BLANK + "　　审核人：" + _BLANK + "　　日期：" + _BLANK)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
