"""The report for people: Markdown in Chinese, rendered from the report object alone.

Everything shown comes from the JSON report (values, formulas with the actual numbers,
evidence), so the document a project manager hands over and the JSON an auditor recomputes
never disagree.
"""

from __future__ import annotations

import math
from fractions import Fraction
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
    _coverage_warning(report, rules, add)
    period = report.get("period", {})
    add(f"- 统计区间：{period.get('start')} 至 {period.get('end')}")
    add(f"- 数据截至：{report['as_of']}")
    add(f"- 考核规则：{report['rules']}")
    add(f"- 得分：**{_points(report['total'])} / {_points(report['max_total'])}**")
    add("")
    add("## 得分汇总")
    add("")
    add("| 指标 | 实际值 | 监测覆盖率 | 目标 | 计算 | 扣分 | 得分 |")
    add("|---|---|---|---|---|---|---|")
    for item in report["items"].values():
        add(
            f"| {item['name']} | {_value(item)} | {_coverage(item)} | {_target(item)} "
            f"| {_formula(item)} | {_points(item['deduction'])} | {_points(item['score'])} |"
        )
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
        names = {key: item["name"] for key, item in report["items"].items()}
        for flag in flags:
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


def _coverage_warning(report: dict[str, Any], rules: Rules, add) -> None:
    """The warning that opens the report when the score rests on missing measurements: systems
    whose coverage is under the rules' threshold (zero first), and items not measured at all."""
    low = [
        (system, row)
        for system, row in report.get("coverage", {}).items()
        if row.get("low") and row.get("coverage") is not None
    ]
    low.sort(key=lambda pair: pair[1]["coverage"])
    unmeasured = [item["name"] for item in report["items"].values() if item["value"] is None]
    if not low and not unmeasured:
        return
    add("> **⚠ 监测覆盖不足：以下得分缺少监测数据支撑，使用本报告前请先核实。**")
    add(">")
    required = _percent(1 - float(rules.max_no_data_share))
    for system, row in low:
        label = rules.systems.get(system, system)
        text = (
            f"> - {label}（`{system}`）：监测覆盖率 **{_percent_down(row['coverage'])}**"
            f"（无数据 {row['no_data_seconds']} 秒 / 工作时长 {row['working_seconds']} 秒），"
            f"低于要求 {required}"
        )
        if row["coverage"] == 0:
            text += "；**整个统计区间无任何监测数据，该系统的得分没有依据**"
        add(text + "。")
    if unmeasured:
        add(f"> - 未测量（无对应组件），按满分计：{'、'.join(unmeasured)}。")
    add("")


def _coverage(item: dict[str, Any]) -> str:
    coverage = item.get("coverage")
    if coverage is None:
        return "—"
    text = _percent_down(coverage)
    return f"**{text}**" if coverage == 0 else text


def _duration(us: int) -> str:
    minutes = us / 60_000_000
    return f"{minutes / 60:g}小时" if minutes >= 60 and minutes % 60 == 0 else f"{minutes:g}分钟"


def _points(value: float) -> str:
    return f"{value:g}"


def _percent(value: float) -> str:
    return f"{value * 100:.4f}%"


def _percent_down(value: float) -> str:
    """A share as a percentage truncated, not rounded, to 4 places: 94.99999% of coverage must
    not read as the 95% it falls short of."""
    hundredths = math.floor(Fraction(repr(value)) * 1_000_000)
    return f"{hundredths // 10_000}.{hundredths % 10_000:04d}%"


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
            f"无数据 {evidence['no_data_seconds']} 秒；监测覆盖率 {_coverage(item)}。"
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
