"""The report for people: Markdown in Chinese — the HTML report's content without the charts.

Everything shown comes from the JSON report (values, formulas with the actual numbers,
evidence) and, for the appendix, from `scoring.breakdown` (outages split into fault and
maintenance, windows with the intervals they counted, incidents with their timeline), so the
document a project manager hands over and the JSON an auditor recomputes never disagree.
Instants are written one way throughout (`scoring.present.instant`).
"""

from __future__ import annotations

from typing import Any

from scoring.breakdown import Breakdown
from scoring.present import (
    BACKUP_HEADER,
    EVENT_HEADER,
    REPORT_STATUS,
    STATUS,
    backup_rows,
    description,
    duration,
    event_rows,
    flag_text,
    formula,
    inspection_text,
    instant,
    interpretations,
    low_coverage,
    measure_of,
    percent_down,
    points,
    seconds_text,
    summary_rows,
    target_text,
    unmeasured,
    us_seconds,
    value_text,
)
from scoring.rules import Rules

_MAX_ROWS = 50  # per evidence table; the JSON report holds them all
_MAX_APPENDIX_ROWS = 1000  # per appendix table; the XLSX report holds every row


def render_markdown(report: dict[str, Any], rules: Rules, details: Breakdown | None = None) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"# {rules.name} — {report['month']} 月度考核报告")
    add("")
    _coverage_warning(report, rules, add)
    period = report.get("period", {})
    add(f"- 统计区间：{instant(period.get('start'), rules)} 至 {instant(period.get('end'), rules)}")
    add(f"- 数据截至：{instant(report['as_of'], rules)}")
    add(f"- 考核规则：{report['rules']}")
    add(f"- 总分：**{points(report['total'])}**（满分 {points(report['max_total'])}）")
    add("")
    add("## 得分汇总")
    add("")
    add("| 指标 | 实际值 | 监测覆盖率 | 目标值 | 计算（实际数值） | 扣分 | 得分 | 指标描述 |")
    add("|---|---|---|---|---|---|---|---|")
    for section, key, item in summary_rows(report):
        if section is not None:
            add(
                f"| **{section['name']}** | | | | | {points(section['deduction'])} "
                f"| **{points(section['score'])}** / {points(section['max_points'])} | |"
            )
        add(
            f"| {item['name']} | {value_text(item)} | {_coverage(item)} | {target_text(item)} "
            f"| {formula(item, key, rules)} | {points(item['deduction'])} "
            f"| {points(item['score'])} | {description(key, rules)} |"
        )
    add(f"| **合计** | | | | | | **{points(report['total'])}** | |")
    add("")
    add(
        "监测覆盖率：该项所涉组件在工作时间内有监测数据的比例（1 − 无数据时长 / 工作时长）；"
        "故障响应、话务恢复两项按全部组件计（故障由探测发现）。"
    )
    add("")
    add("## 标记")
    add("")
    # Low coverage is shown at the top of the report, not among the flags.
    flags = [f for f in report["flags"] if f["type"] != "low_coverage"]
    if flags:
        for flag in flags:
            add(f"- {flag_text(flag, report, rules)}")
    else:
        add("无。")
    add("")
    add("## 各项依据")
    for key, item in report["items"].items():
        add("")
        add(f"### {item['name']}（`{key}`）")
        add("")
        _evidence(item, key, rules, add)
    if details is not None:
        add("")
        _appendix(report, rules, details, add)
    add("")
    add("## 待与热线中心确认的口径")
    add("")
    for note in interpretations(rules):
        add(f"- {note}")
    add("")
    return "\n".join(lines)


def _coverage_warning(report: dict[str, Any], rules: Rules, add) -> None:
    """The warning that opens the report when the score rests on missing measurements: systems
    whose coverage is under the rules' threshold (zero first), and items not measured at all."""
    low = low_coverage(report)
    no_components, no_facts = unmeasured(report)
    if not low and not no_components and not no_facts:
        return
    add("> **⚠ 监测覆盖不足：以下得分缺少监测数据支撑，使用本报告前请先核实。**")
    add(">")
    required = percent_down(1 - float(rules.max_no_data_share))
    for system, row in low:
        label = rules.systems.get(system, system)
        text = (
            f"> - {label}（`{system}`）：监测覆盖率 **{percent_down(row['coverage'])}**"
            f"（无数据 {seconds_text(row['no_data_seconds'])} 秒 / 工作时长 "
            f"{seconds_text(row['working_seconds'])} 秒），低于要求 {required}"
        )
        if row["coverage"] == 0:
            text += "；**整个统计区间无任何监测数据，该系统的得分没有依据**"
        add(text + "。")
    if no_components:
        add(f"> - 未测量（无对应组件），按满分计：{'、'.join(no_components)}。")
    if no_facts:
        add(f"> - 缺少数据，未测量的按满分计：{'、'.join(no_facts)}。")
    add("")


def _coverage(item: dict[str, Any]) -> str:
    coverage = item.get("coverage")
    if coverage is None:
        return "—"
    text = percent_down(coverage)
    return f"**{text}**" if coverage == 0 else text


def _evidence(item: dict[str, Any], key: str, rules: Rules, add) -> None:
    evidence = item["evidence"]
    if item["value"] is None:
        add(f"未测量：{evidence.get('reason', '')}。")
        return
    add(f"{formula(item, key, rules)}。")
    add("")
    measure = measure_of(key, rules)
    if measure in ("threshold", "events"):
        _table_evidence(item, rules, add)
    elif measure == "availability":
        systems = "、".join(rules.systems.get(s, s) for s in evidence["systems"])
        add(
            f"系统：{systems}；汇总方式：{evidence['aggregation']}；工作时长 "
            f"{seconds_text(evidence['working_seconds'])} 秒，故障时长 "
            f"{seconds_text(evidence['fault_seconds'])} 秒，无数据 "
            f"{seconds_text(evidence['no_data_seconds'])} 秒；监测覆盖率 {_coverage(item)}。"
        )
        add("")
        add("| 组件 | 工作时长(秒) | 故障(秒) | 维护(秒) | 无数据(秒) |")
        add("|---|---|---|---|---|")
        rows = sorted(evidence["components"], key=lambda r: (-r["fault_seconds"], r["id"]))
        for row in rows[:_MAX_ROWS]:
            add(
                f"| {row['id']} | {seconds_text(row['working_seconds'])} "
                f"| {seconds_text(row['fault_seconds'])} "
                f"| {seconds_text(row['maintenance_seconds'])} "
                f"| {seconds_text(row['no_data_seconds'])} |"
            )
        _more(len(rows), _MAX_ROWS, add)
        if evidence.get("fault_intervals"):
            add("")
            spans = "；".join(
                f"{instant(s, rules)} 至 {instant(e, rules)}"
                for s, e in evidence["fault_intervals"][:_MAX_ROWS]
            )
            add(f"计入的故障区间：{spans}")
    elif measure == "maintenance":
        spans = "；".join(
            f"{instant(s, rules)} 至 {instant(e, rules)}" for s, e in evidence["intervals"]
        )
        add(
            f"维护停机合计 {seconds_text(evidence['maintenance_seconds'])} 秒（重叠只计一次），"
            f"计入区间：{spans or '无'}。"
        )
        if evidence["windows"]:
            add("")
            add("| 维护窗口 | 开始 | 结束 | 组件 |")
            add("|---|---|---|---|")
            for w in evidence["windows"][:_MAX_ROWS]:
                add(
                    f"| {w['id']} | {instant(w['start'], rules)} | {instant(w['end'], rules)} "
                    f"| {', '.join(w['components'])} |"
                )
            _more(len(evidence["windows"]), _MAX_ROWS, add)
    else:
        limits = "，".join(
            f"{k} {duration(int(v * 1_000_000))}" for k, v in evidence["limits_seconds"].items()
        )
        add(f"时限（占位值，以合同为准）：{limits}。")
        if evidence["incidents"]:
            add("")
            add("| 事件 | 级别 | 发现时间 | 完成时间 | 用时(秒) | 时限(秒) | 结论 |")
            add("|---|---|---|---|---|---|---|")
            for row in evidence["incidents"][:_MAX_ROWS]:
                elapsed = "—" if row["elapsed_seconds"] is None else row["elapsed_seconds"]
                add(
                    f"| {row['id']} | {row['severity']} | {instant(row['detected_at'], rules)} "
                    f"| {instant(row['done_at'], rules)} | {elapsed} | {row['limit_seconds']} "
                    f"| {STATUS.get(row['status'], row['status'])} |"
                )
            _more(len(evidence["incidents"]), _MAX_ROWS, add)
        if evidence.get("reports"):
            add("")
            add(f"书面报告（修复后{rules.report_working_days}个工作日内提交）：")
            add("")
            add("| 事件 | 恢复时间 | 截止 | 提交时间 | 结论 |")
            add("|---|---|---|---|---|")
            for row in evidence["reports"][:_MAX_ROWS]:
                add(
                    f"| {row['incident']} | {instant(row['restored_at'], rules)} "
                    f"| {instant(row['deadline'], rules)} "
                    f"| {instant(row['submitted_at'], rules, '未提交')} "
                    f"| {REPORT_STATUS.get(row['status'], row['status'])} |"
                )
            _more(len(evidence["reports"]), _MAX_ROWS, add)


def _table(header: list[str], rows: list[list[str]], add) -> None:
    add("| " + " | ".join(header) + " |")
    add("|" + "---|" * len(header))
    for row in rows[:_MAX_ROWS]:
        add("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    _more(len(rows), _MAX_ROWS, add)


def _table_evidence(item: dict[str, Any], rules: Rules, add) -> None:
    """A monthly item's evidence: its events, the inspection report, the backups, the note."""
    evidence = item["evidence"]
    if evidence.get("events"):
        _table(EVENT_HEADER, event_rows(item), add)
    inspection = inspection_text(item, rules)
    if inspection:
        add("")
        add(f"{inspection}。")
    backups = backup_rows(item, rules)
    if backups:
        add("")
        _table(BACKUP_HEADER, backups, add)
    if evidence.get("note"):
        add("")
        add(f"备注：{evidence['note']}")


def _spans(spans: list[tuple[int, int]], rules: Rules) -> str:
    return "<br>".join(f"{instant(s, rules)} 至 {instant(e, rules)}" for s, e in spans) or "—"


def _appendix(report: dict[str, Any], rules: Rules, details: Breakdown, add) -> None:
    from scoring.report_html import incident_timelines

    cap = _MAX_APPENDIX_ROWS
    add("## 证据附录")
    add("")
    add(
        "时间一律为当地时间（带时区偏移），仅在有毫秒时写出毫秒。停机按维护窗口拆分：窗口覆盖该组件的"
        "部分计为维护，其余（含超出窗口的部分）计为故障。"
    )
    add("")
    add(f"### A. 停机明细（{len(details.outages)} 条，拆分为故障与维护）")
    add("")
    if details.outages:
        add("| 组件 | 开始 | 结束 | 故障部分 | 故障(秒) | 维护部分 | 维护(秒) | 不计(秒) | 说明 |")
        add("|---|---|---|---|---|---|---|---|---|")
        for row in details.outages[:cap]:
            notes = []
            if row.excluded:
                notes.append(
                    f"已剔除：{row.excluded.get('reason', '')}"
                    f"（批准人：{row.excluded.get('approved_by', '')}）"
                )
            if row.windows:
                notes.append("维护窗口：" + "、".join(row.windows))
            if row.end is None:
                notes.append("未结束，计至统计区间末")
            add(
                f"| {row.component} | {instant(row.start, rules)} "
                f"| {instant(row.end, rules, '未结束')} | {_spans(row.fault, rules)} "
                f"| {seconds_text(us_seconds(row.fault_us))} | {_spans(row.maintenance, rules)} "
                f"| {seconds_text(us_seconds(row.maintenance_us))} "
                f"| {seconds_text(us_seconds(row.not_working))} | {'；'.join(notes)} |"
            )
        _more(len(details.outages), cap, add)
    else:
        add("本月无停机记录。")
    add("")
    add(f"### B. 维护窗口（{len(details.windows)} 个）及其计入的停机区间")
    add("")
    if details.windows:
        add(
            "| 窗口 | 开始 | 结束 | 覆盖组件 | 登记时间 | 计入的维护停机区间 "
            "| 计入停机维护时长(秒) |"
        )
        add("|---|---|---|---|---|---|---|")
        for w in details.windows[:cap]:
            created = instant(w.created_at, rules, "未记录") + ("（开始后补登）" if w.late else "")
            counted = (
                "<br>".join(
                    f"{c}：{instant(s, rules)} 至 {instant(e, rules)}（{duration(e - s)}）"
                    for c, s, e in w.counted[:cap]
                )
                or "无停机"
            )
            components = "全部" if "*" in w.components else "、".join(w.components)
            add(
                f"| {w.id} | {instant(w.start, rules)} | {instant(w.end, rules)} | {components} "
                f"| {created} | {counted} | {seconds_text(us_seconds(w.in_scope_us))} |"
            )
        _more(len(details.windows), cap, add)
    else:
        add("本月无维护窗口。")
    add("")
    timelines = incident_timelines(report, rules)
    add(f"### C. 故障事件（{len(timelines)} 起）")
    add("")
    if not timelines:
        add("本月无计入的故障事件。")
        return
    add(
        "| 事件 | 级别 | 发现 | 响应 | 响应结论 | 恢复 | 恢复结论 "
        "| 报告截止 | 报告提交 | 报告结论 |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|")
    for entry in timelines[:cap]:
        cells: list[str] = [entry["id"], entry["severity"], instant(entry["detected_at"], rules)]
        for measure in ("response", "restoration"):
            done = entry.get(measure)
            if done is None:
                cells += ["—", "—"]
                continue
            cells.append(instant(done["done_at"], rules, "未完成"))
            cells.append(STATUS.get(done["status"], done["status"]))
        written = entry.get("report")
        if written is None:
            cells += ["—", "—", "未恢复，暂不需提交"]
        else:
            cells += [
                instant(written["deadline"], rules),
                instant(written["submitted_at"], rules, "未提交"),
                REPORT_STATUS.get(written["status"], written["status"]),
            ]
        add("| " + " | ".join(cells) + " |")
    _more(len(timelines), cap, add)


def _more(count: int, cap: int, add) -> None:
    if count > cap:
        add(f"\n（另有 {count - cap} 条，见 JSON/XLSX 报告。）")
