"""The month's report as an XLSX workbook (openpyxl), for those who edit in Excel.

The first sheet is the summary: a row per item with its Chinese name, key, description,
target, value, coverage, formula, deduction and score under a 得分 heading, then 合计. The
other sheets hold one section each: flags, coverage per system, outages split into fault and
maintenance, windows with the intervals they counted, incidents, and the daily availability.
Values, seconds and scores are numbers (the JSON report's floats, formatted as percentages or
hours), never formulas, so every cell has its value without Excel recomputing it. Instants are
text in the reports' one format (local time with its offset), which a date cell cannot hold.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from scoring.breakdown import Breakdown
from scoring.present import (
    BACKUP_HEADER,
    EVENT_HEADER,
    FLAG_TITLE,
    REPORT_STATUS,
    STATUS,
    backup_rows,
    description,
    event_rows,
    flag_text,
    formula,
    inspection_text,
    instant,
    summary_rows,
    unit_of,
    us_seconds,
)
from scoring.report_html import incident_timelines
from scoring.rules import Rules

MAX_ROWS = 1_000_000  # Excel holds 1,048,576 rows a sheet; the JSON report holds the rest
_HEAD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="EEF3F7")
_PERCENT = "0.0000%"
_HOURS = '0.0000" 小时"'
_FORMATS = {"ratio": _PERCENT, "hours": _HOURS, "seconds": '0.###" 秒"', "events": '0" 次"'}


def render_xlsx(report: dict[str, Any], rules: Rules, details: Breakdown) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "汇总"
    _summary(summary, report, rules)
    _flags(book.create_sheet("标记"), report, rules)
    _coverage(book.create_sheet("监测覆盖率"), report, rules)
    _outages(book.create_sheet("停机明细"), details, rules)
    _windows(book.create_sheet("维护窗口"), details, rules)
    _incidents(book.create_sheet("故障事件"), report, rules)
    _daily(book.create_sheet("每日可用率"), report, details, rules)
    if any("unit" in item["evidence"] for item in report["items"].values()):
        _events(book.create_sheet("月度事项"), report, rules)  # the table's other rows
    out = io.BytesIO()
    book.save(out)
    return _exact_numbers(out.getvalue(), book)


_NUMBER_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*? t="n"[^>]*)><v>([^<]*)</v>')


def _exact_numbers(data: bytes, book: Workbook) -> bytes:
    """Write every float cell with its shortest exact form (`repr`): openpyxl writes 16
    significant digits, so 1.5833333333333333 h would read back as 1.583333333333333 and no
    longer equal the JSON report's value."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            match = re.fullmatch(r"xl/worksheets/sheet([0-9]+)\.xml", info.filename)
            if match:
                sheet = book.worksheets[int(match.group(1)) - 1]

                def exact(m: re.Match[str], sheet: Worksheet = sheet) -> str:
                    value = sheet[m.group(1)].value
                    text = repr(value) if type(value) is float else m.group(3)
                    return f'<c r="{m.group(1)}"{m.group(2)}><v>{text}</v>'

                content = _NUMBER_CELL.sub(exact, content.decode("utf-8")).encode("utf-8")
            target.writestr(info, content)
    return out.getvalue()


def _header(sheet: Worksheet, names: list[str], widths: list[int] | None = None) -> None:
    sheet.append(names)
    for cell in sheet[sheet.max_row]:
        cell.font = _HEAD
        cell.fill = _HEAD_FILL
        cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = f"A{sheet.max_row + 1}"
    for n, width in enumerate(widths or []):
        sheet.column_dimensions[chr(ord("A") + n)].width = width


def _summary(sheet: Worksheet, report: dict[str, Any], rules: Rules) -> None:
    _header(
        sheet,
        [
            "指标",
            "键",
            "指标描述",
            "目标值",
            "实际值",
            "监测覆盖率",
            "计算（实际数值）",
            "扣分",
            "得分",
            "满分",
        ],
        [20, 20, 48, 10, 14, 12, 48, 8, 8, 8],
    )
    for section, key, item in summary_rows(report):
        if section is not None:
            sheet.append(
                [section["name"], None, None, None, None, None, None, section["deduction"],
                 section["score"], section["max_points"]]
            )  # fmt: skip
            for cell in sheet[sheet.max_row]:
                cell.font = _HEAD
        sheet.append(
            [
                item["name"],
                key,
                description(key, rules),
                item["target"],
                item["value"],  # None (not measured) leaves the cell empty
                item["coverage"],
                formula(item, key, rules),
                item["deduction"],
                item["score"],
                item["max_points"],
            ]
        )
        row = sheet.max_row
        number_format = _FORMATS.get(unit_of(item), "General")
        sheet.cell(row, 4).number_format = number_format
        sheet.cell(row, 5).number_format = number_format
        sheet.cell(row, 6).number_format = _PERCENT
        for column in (3, 7):
            sheet.cell(row, column).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.append(
        ["合计", "total", None, None, None, None, None, None, report["total"], report["max_total"]]
    )
    for cell in sheet[sheet.max_row]:
        cell.font = _HEAD
    sheet.append([])
    period = report.get("period") or {}
    for label, value in (
        ("考核月份", report["month"]),
        ("统计区间开始", instant(period.get("start"), rules)),
        ("统计区间结束", instant(period.get("end"), rules)),
        ("数据截至", instant(report["as_of"], rules)),
        ("考核规则", report["rules"]),
        ("规则名称", rules.name),
    ):
        sheet.append([label, value])


def _events(sheet: Worksheet, report: dict[str, Any], rules: Rules) -> None:
    """Per monthly item: its kinds of events, the inspection report, the backups, the note."""
    _header(sheet, ["指标", "键", *EVENT_HEADER, "说明"], [20, 20, 40, 12, 24, 10, 8, 60])
    for key, item in report["items"].items():
        if "unit" not in item["evidence"]:
            continue
        for row in event_rows(item):
            sheet.append([item["name"], key, *row])
        inspection = inspection_text(item, rules)
        if inspection:
            sheet.append([item["name"], key, None, None, None, None, None, inspection])
        for row in backup_rows(item, rules):
            text = "；".join(f"{h}：{c}" for h, c in zip(BACKUP_HEADER, row, strict=True))
            sheet.append([item["name"], key, None, None, None, None, None, text])
        if item["evidence"].get("note"):
            note = f"备注：{item['evidence']['note']}"
            sheet.append([item["name"], key, None, None, None, None, None, note])


def _flags(sheet: Worksheet, report: dict[str, Any], rules: Rules) -> None:
    _header(
        sheet,
        ["类型", "键", "说明", "事件", "维护窗口", "组件/系统", "截止"],
        [14, 18, 80, 18, 18, 16, 28],
    )
    for flag in report["flags"]:
        sheet.append(
            [
                FLAG_TITLE.get(flag["type"], flag["type"]),
                flag["type"],
                flag_text(flag, report, rules),
                flag.get("incident"),
                flag.get("window"),
                flag.get("component") or flag.get("system") or flag.get("item"),
                instant(flag["deadline"], rules) if flag.get("deadline") else None,
            ]
        )


def _coverage(sheet: Worksheet, report: dict[str, Any], rules: Rules) -> None:
    _header(
        sheet,
        ["系统", "键", "监测覆盖率", "工作时长(秒)", "无数据(秒)", "不足"],
        [20, 10, 12, 14, 12, 8],
    )
    for system, row in (report.get("coverage") or {}).items():
        sheet.append(
            [
                rules.systems.get(system, system),
                system,
                row["coverage"],
                row["working_seconds"],
                row["no_data_seconds"],
                "是" if row["low"] else "否",
            ]
        )
        sheet.cell(sheet.max_row, 3).number_format = _PERCENT


def _spans(spans: list[tuple[int, int]], rules: Rules) -> str:
    return "\n".join(f"{instant(s, rules)} 至 {instant(e, rules)}" for s, e in spans)


def _outages(sheet: Worksheet, details: Breakdown, rules: Rules) -> None:
    _header(
        sheet,
        [
            "组件",
            "系统",
            "开始",
            "结束",
            "故障(秒)",
            "维护(秒)",
            "不计(秒)",
            "故障部分",
            "维护部分",
            "维护窗口",
            "剔除原因",
            "批准人",
        ],
        [14, 14, 30, 30, 10, 10, 10, 60, 60, 18, 30, 16],
    )
    for row in details.outages[:MAX_ROWS]:
        excluded = row.excluded or {}
        sheet.append(
            [
                row.component,
                rules.systems.get(row.system, row.system),
                instant(row.start, rules),
                instant(row.end, rules, "未结束"),
                us_seconds(row.fault_us),
                us_seconds(row.maintenance_us),
                us_seconds(row.not_working),
                _spans(row.fault, rules),
                _spans(row.maintenance, rules),
                "、".join(row.windows),
                excluded.get("reason"),
                excluded.get("approved_by"),
            ]
        )


def _windows(sheet: Worksheet, details: Breakdown, rules: Rules) -> None:
    _header(
        sheet,
        [
            "窗口",
            "开始",
            "结束",
            "覆盖组件",
            "登记时间",
            "开始后补登",
            "计入组件",
            "计入开始",
            "计入结束",
            "计入(秒)",
        ],
        [18, 30, 30, 24, 30, 10, 14, 30, 30, 10],
    )
    for w in details.windows[:MAX_ROWS]:
        head = [
            w.id,
            instant(w.start, rules),
            instant(w.end, rules),
            "全部" if "*" in w.components else "、".join(w.components),
            instant(w.created_at, rules, "未记录"),
            "是" if w.late else "否",
        ]
        if not w.counted:
            sheet.append([*head, None, None, None, 0])
        for component, s, e in w.counted:
            sheet.append(
                [*head, component, instant(s, rules), instant(e, rules), us_seconds(e - s)]
            )


def _incidents(sheet: Worksheet, report: dict[str, Any], rules: Rules) -> None:
    _header(
        sheet,
        [
            "事件",
            "级别",
            "发现时间",
            "响应时间",
            "响应用时(秒)",
            "响应时限(秒)",
            "响应结论",
            "恢复时间",
            "恢复用时(秒)",
            "恢复时限(秒)",
            "恢复结论",
            "书面报告截止",
            "报告提交",
            "报告结论",
        ],
        [18, 6, 30, 30, 12, 12, 12, 30, 12, 12, 12, 30, 30, 16],
    )
    for entry in incident_timelines(report, rules)[:MAX_ROWS]:
        cells: list[Any] = [entry["id"], entry["severity"], instant(entry["detected_at"], rules)]
        for measure in ("response", "restoration"):
            done = entry.get(measure)
            if done is None:
                cells += [None, None, None, None]
                continue
            cells += [
                instant(done["done_at"], rules, "未完成"),
                done["elapsed_seconds"],
                done["limit_seconds"],
                STATUS.get(done["status"], done["status"]),
            ]
        written = entry.get("report")
        if written is None:
            cells += [None, None, "未恢复，暂不需提交"]
        else:
            cells += [
                instant(written["deadline"], rules),
                instant(written["submitted_at"], rules, "未提交"),
                REPORT_STATUS.get(written["status"], written["status"]),
            ]
        sheet.append(cells)


def _daily(sheet: Worksheet, report: dict[str, Any], details: Breakdown, rules: Rules) -> None:
    keys = [key for key, days in details.daily.items() if days]
    names = [report["items"][key]["name"] for key in keys]
    _header(sheet, ["日期", *names, *(f"{n} 故障(秒)" for n in names)], [12] + [16] * 2 * len(keys))
    if not keys:
        return
    count = len(details.daily[keys[0]])
    for n in range(count):
        days = [details.daily[key][n] for key in keys]
        label = instant(days[0].start, rules)[:10]
        values = [None if d.availability is None else float(d.availability) for d in days]
        sheet.append([label, *values, *(us_seconds(d.fault_us) for d in days)])
        for column in range(2, 2 + len(keys)):
            sheet.cell(sheet.max_row, column).number_format = _PERCENT
    sheet.append([])
    sheet.append(["目标值", *(report["items"][key]["target"] for key in keys)])
