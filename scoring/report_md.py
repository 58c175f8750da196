"""The report for people: Markdown in Chinese, rendered from the report object alone.

Everything shown comes from the JSON report (values, formulas with the actual numbers,
evidence), so the document a project manager hands over and the JSON an auditor recomputes
never disagree.
"""

from __future__ import annotations

from typing import Any

from scoring.rules import Rules

_MAX_ROWS = 50  # per evidence table; the JSON report holds them all

_STATUS = {
    "timely": "及时",
    "late": "超时",
    "missing": "未完成且已超时",
    "pending": "未到期",
    "on_time": "按时提交",
    "calendar_unknown": "无法确定（缺少工作日历）",
}

_FLAG_TEXT = {
    "report_missing": "书面报告缺失：事件 {incident}，截止 {deadline}",
    "report_late": "书面报告逾期：事件 {incident}，截止 {deadline}",
    "report_pending": "书面报告未到期：事件 {incident}，截止 {deadline}",
    "incident_pending": "事件 {incident} 的响应或恢复尚未到时限，未计入",
    "incident_unrestored": "事件 {incident} 尚未恢复",
    "not_measured": "{item}：无对应组件，未测量，按满分计",
    "calendar_unknown": "事件 {incident}：缺少 {year} 年工作日历，书面报告截止时间无法计算，未扣分",
    "window_late": "维护窗口 {window} 在开始（{start}）之后才登记（{created_at}）",
    "low_coverage": "{system} 无数据时间占比 {no_data_share:.2%}，超过阈值 {threshold:.2%}",
    "excluded": "{component} 的停机 {start} 至 {end} 已剔除：{reason}（批准人：{approved_by}）",
}

INTERPRETATIONS = (
    "扣分按“每下降1%”的已开始步长计（ceil）：下降0.3个百分点扣一档；"
    "可在规则中改为 floor 或 linear。",
    "故障响应/话务恢复时限为占位值（{limits}），以合同约定为准。",
    "时长按秒计；评分表对IVR和话务系统按分钟计，可在规则中设 granularity: minute。",
    "停机维护时长统计排队机、IVR、话务系统及其他话务相关硬件，座席终端不计入；重叠维护只计一次。",
    "冗余节点的汇总方式：排队机/座席/IVR按时长求和（sum），话务系统按任一故障即故障（union）；"
    "主备节点可设为 all。",
)


def render_markdown(report: dict[str, Any], rules: Rules) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"# {rules.name} — {report['month']} 月度考核报告")
    add("")
    period = report.get("period", {})
    add(f"- 统计区间：{period.get('start')} 至 {period.get('end')}")
    add(f"- 数据截至：{report['as_of']}")
    add(f"- 考核规则：{report['rules']}")
    add(f"- 得分：**{_points(report['total'])} / {_points(report['max_total'])}**")
    add("")
    add("## 得分汇总")
    add("")
    add("| 指标 | 实际值 | 目标 | 计算 | 扣分 | 得分 |")
    add("|---|---|---|---|---|---|")
    for item in report["items"].values():
        add(
            f"| {item['name']} | {_value(item)} | {_target(item)} | {_formula(item)} "
            f"| {_points(item['deduction'])} | {_points(item['score'])} |"
        )
    add("")
    add("## 标记")
    add("")
    if report["flags"]:
        names = {key: item["name"] for key, item in report["items"].items()}
        for flag in report["flags"]:
            add(f"- {_flag_text(flag, names, rules)}")
    else:
        add("无。")
    add("")
    add("## 各项依据")
    for key, item in report["items"].items():
        add("")
        add(f"### {item['name']}（`{key}`）")
        add("")
        _evidence(item, rules, add)
    add("")
    add("## 待与热线中心确认的口径")
    add("")
    limits = "，".join(
        f"{name} {_duration(v.response_us)}/{_duration(v.restoration_us)}"
        for name, v in rules.severities.items()
    )
    for note in INTERPRETATIONS:
        add(f"- {note.format(limits=limits)}")
    add("")
    return "\n".join(lines)


def _duration(us: int) -> str:
    minutes = us / 60_000_000
    return f"{minutes / 60:g}小时" if minutes >= 60 and minutes % 60 == 0 else f"{minutes:g}分钟"


def _points(value: float) -> str:
    return f"{value:g}"


def _percent(value: float) -> str:
    return f"{value * 100:.4f}%"


def _value(item: dict[str, Any]) -> str:
    if item["value"] is None:
        return "未测量"
    if "maintenance_seconds" in item["evidence"]:
        return f"{item['value']:.4f} 小时"
    return _percent(item["value"])


def _target(item: dict[str, Any]) -> str:
    if "maintenance_seconds" in item["evidence"]:
        return f"≤ {item['target']:g} 小时"
    return f"≥ {_percent(item['target'])}"


def _formula(item: dict[str, Any]) -> str:
    evidence = item["evidence"]
    if item["value"] is None:
        return "—"
    if "working_seconds" in evidence:
        return f"1 − {evidence['fault_seconds']} 秒 / {evidence['working_seconds']} 秒"
    if "maintenance_seconds" in evidence:
        return f"{evidence['maintenance_seconds']} 秒 / 3600"
    if evidence.get("counted"):
        text = f"{evidence['timely']} / {evidence['counted']}"
    else:
        text = "无计入事件，按100%"
    if evidence.get("reports_late_or_missing"):
        text += f"；报告逾期/缺失 {evidence['reports_late_or_missing']} 次"
    return text


def _flag_text(flag: dict[str, Any], item_names: dict[str, str], rules: Rules) -> str:
    template = _FLAG_TEXT.get(flag["type"])
    values = dict(flag)
    if "item" in values:
        values["item"] = item_names.get(values["item"], values["item"])
    if "system" in values:
        values["system"] = rules.systems.get(values["system"], values["system"])
    try:
        return template.format(**values) if template else str(flag)
    except (KeyError, ValueError):
        return str(flag)


def _evidence(item: dict[str, Any], rules: Rules, add) -> None:
    evidence = item["evidence"]
    if item["value"] is None:
        add(f"未测量：{evidence.get('reason', '')}。")
        return
    if "working_seconds" in evidence:
        systems = "、".join(rules.systems.get(s, s) for s in evidence["systems"])
        add(
            f"系统：{systems}；汇总方式：{evidence['aggregation']}；工作时长 "
            f"{evidence['working_seconds']} 秒，故障时长 {evidence['fault_seconds']} 秒，"
            f"无数据 {evidence['no_data_seconds']} 秒。"
        )
        add("")
        add("| 组件 | 工作时长(秒) | 故障(秒) | 维护(秒) | 无数据(秒) |")
        add("|---|---|---|---|---|")
        rows = sorted(evidence["components"], key=lambda r: -r["fault_seconds"])
        for row in rows[:_MAX_ROWS]:
            add(
                f"| {row['id']} | {row['working_seconds']} | {row['fault_seconds']} "
                f"| {row['maintenance_seconds']} | {row['no_data_seconds']} |"
            )
        _more(len(rows), add)
        if evidence["outages"]:
            add("")
            add("停机记录：")
            add("")
            add("| 组件 | 开始 | 结束 |")
            add("|---|---|---|")
            for outage in evidence["outages"][:_MAX_ROWS]:
                add(f"| {outage['component']} | {outage['start']} | {outage['end'] or '未结束'} |")
            _more(len(evidence["outages"]), add)
    elif "maintenance_seconds" in evidence:
        add(f"维护停机合计 {evidence['maintenance_seconds']} 秒（重叠只计一次）。")
        if evidence["windows"]:
            add("")
            add("| 维护窗口 | 开始 | 结束 | 组件 |")
            add("|---|---|---|---|")
            for w in evidence["windows"][:_MAX_ROWS]:
                add(f"| {w['id']} | {w['start']} | {w['end']} | {', '.join(w['components'])} |")
            _more(len(evidence["windows"]), add)
    else:
        limits = "，".join(f"{k} {v} 秒" for k, v in evidence["limits_seconds"].items())
        add(f"时限（占位值，以合同为准）：{limits}。")
        if evidence["incidents"]:
            add("")
            add("| 事件 | 级别 | 发现时间 | 完成时间 | 用时(秒) | 时限(秒) | 结论 |")
            add("|---|---|---|---|---|---|---|")
            for row in evidence["incidents"][:_MAX_ROWS]:
                elapsed = "—" if row["elapsed_seconds"] is None else row["elapsed_seconds"]
                add(
                    f"| {row['id']} | {row['severity']} | {row['detected_at']} "
                    f"| {row['done_at'] or '—'} | {elapsed} | {row['limit_seconds']} "
                    f"| {_STATUS.get(row['status'], row['status'])} |"
                )
            _more(len(evidence["incidents"]), add)
        if evidence.get("reports"):
            add("")
            add("书面报告（修复后2个工作日内提交）：")
            add("")
            add("| 事件 | 恢复时间 | 截止 | 提交时间 | 结论 |")
            add("|---|---|---|---|---|")
            for row in evidence["reports"][:_MAX_ROWS]:
                add(
                    f"| {row['incident']} | {row['restored_at']} | {row['deadline'] or '—'} "
                    f"| {row['submitted_at'] or '—'} "
                    f"| {_STATUS.get(row['status'], row['status'])} |"
                )
            _more(len(evidence["reports"]), add)


def _more(count: int, add) -> None:
    if count > _MAX_ROWS:
        add(f"\n（另有 {count - _MAX_ROWS} 条，见 JSON 报告。）")
