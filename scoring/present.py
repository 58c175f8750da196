"""Words and number formats shared by the reports for people (Markdown, HTML, XLSX, PDF).

One place decides how an instant, a share, a point count or a flag reads in Chinese, so the
formats never disagree with each other; every number shown comes from the JSON report or from
`scoring.breakdown`, never recomputed here.
"""

from __future__ import annotations

import math
from datetime import timedelta
from fractions import Fraction
from typing import Any

from scoring.rules import ItemRule, Rules
from scoring.values import EPOCH, US_PER_SECOND, instant_us

STATUS = {
    "timely": "及时",
    "late": "超时",
    "missing": "未完成且已超时",
    "pending": "未到期",
    "on_time": "按时提交",
    "calendar_unknown": "无法确定（缺少工作日历）",
}
REPORT_STATUS = {**STATUS, "late": "逾期提交", "missing": "缺失（已过截止时间）"}

FLAG_TEXT = {
    "report_missing": "书面报告缺失：事件 {incident}，截止 {deadline}，已扣分",
    "report_late": "书面报告逾期：事件 {incident}，截止 {deadline}，已扣分",
    "report_pending": "书面报告未到期：事件 {incident}，截止 {deadline}",
    "incident_pending": "事件 {incident} 的响应或恢复尚未到时限，暂未计入",
    "incident_unrestored": "事件 {incident} 尚未恢复",
    "not_measured": "{item}：无对应组件，未测量，按满分计",
    "calendar_unknown": "事件 {incident}：缺少 {year} 年工作日历，书面报告截止时间无法计算，未扣分",
    "window_late": "维护窗口 {window} 在开始（{start}）之后才登记（{created_at}）",
    "low_coverage": "{system} 无数据时间占比 {no_data_share}，超过阈值 {threshold}",
    "excluded": (
        "{component} 的停机 {start} 至 {end} 已剔除，不计故障：{reason}（批准人：{approved_by}）"
    ),
}
FLAG_TITLE = {
    "report_missing": "书面报告缺失",
    "report_late": "书面报告逾期",
    "report_pending": "书面报告未到期",
    "incident_pending": "事件未到时限",
    "incident_unrestored": "事件未恢复",
    "not_measured": "未测量",
    "calendar_unknown": "缺少工作日历",
    "window_late": "维护窗口补登",
    "low_coverage": "监测覆盖不足",
    "excluded": "停机已剔除",
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


# --- instants and durations -------------------------------------------------------------------


def instant(value: str | int | None, rules: Rules, missing: str = "—") -> str:
    """One format for every instant: local ISO time with its offset, milliseconds only where
    the instant has them (microseconds where it has those): `2026-11-03T03:52:20.301+08:00`."""
    if value is None:
        return missing
    us = instant_us(value) if isinstance(value, str) else value
    local = (EPOCH + timedelta(microseconds=us)).astimezone(rules.tz)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    micro = local.microsecond
    if micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    offset = local.strftime("%z")
    return f"{text}{offset[:3]}:{offset[3:]}"


def seconds_text(value: int | float) -> str:
    """Seconds as the JSON gives them: whole numbers plain, fractions as written."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value}"


def us_seconds(us: int) -> int | float:
    whole, rest = divmod(us, US_PER_SECOND)
    return whole if rest == 0 else us / US_PER_SECOND


def duration(us: int | float) -> str:
    """A readable length: `2小时05分`, `15分30秒`, `42秒`."""
    total = Fraction(us) / US_PER_SECOND if isinstance(us, int) else Fraction(str(us))
    whole = math.floor(total)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    frac = total - whole
    sec = f"{s}" if not frac else f"{float(s + frac):g}"
    if h:
        return f"{h}小时{m:02d}分{sec}秒" if s or frac else f"{h}小时{m:02d}分"
    if m:
        return f"{m}分{sec}秒" if s or frac else f"{m}分钟"
    return f"{sec}秒"


def limit_text(us: int) -> str:
    minutes = us / 60_000_000
    return f"{minutes / 60:g}小时" if minutes >= 60 and minutes % 60 == 0 else f"{minutes:g}分钟"


# --- numbers ----------------------------------------------------------------------------------


def points(value: float) -> str:
    """Points exactly as the JSON holds them (`0.6`, `4.4`, `7`)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def percent(value: float) -> str:
    return f"{value * 100:.4f}%"


def percent_down(value: float) -> str:
    """A share as a percentage truncated, not rounded, to 4 places: 94.99999% must not read as
    the 95% it falls short of, nor 98.99999% of availability as the 99% target."""
    hundredths = math.floor(Fraction(repr(float(value))) * 1_000_000)
    return f"{hundredths // 10_000}.{hundredths % 10_000:04d}%"


def hours_down(value: float) -> str:
    tenthousandths = math.floor(Fraction(repr(float(value))) * 10_000)
    return f"{tenthousandths // 10_000}.{tenthousandths % 10_000:04d}"


def is_hours(item: dict[str, Any]) -> bool:
    return "maintenance_seconds" in item["evidence"]


def value_text(item: dict[str, Any]) -> str:
    if item["value"] is None:
        return "未测量"
    if is_hours(item):
        return f"{hours_down(item['value'])} 小时"
    return percent_down(item["value"])


def target_text(item: dict[str, Any]) -> str:
    if is_hours(item):
        return f"≤ {item['target']:g} 小时"
    return f"≥ {item['target'] * 100:g}%"


def coverage_text(item: dict[str, Any]) -> str:
    coverage = item.get("coverage")
    return "—" if coverage is None else percent_down(coverage)


# --- items ------------------------------------------------------------------------------------


def item_rule(rules: Rules, key: str) -> ItemRule | None:
    return next((i for i in rules.items if i.key == key), None)


def description(key: str, rules: Rules) -> str:
    """指标描述: what the item measures and how it is deducted, from the rules in force."""
    rule = item_rule(rules, key)
    if rule is None:
        return ""
    systems = "、".join(rules.systems.get(s, s) for s in rule.systems)
    per = f"{float(rule.deduction_per_step):g}"
    rounding = {"ceil": "不足一档按一档计", "floor": "满一档才扣", "linear": "按比例"}[
        rule.step_rounding
    ]
    step = f"{float(rule.step) * 100:g}%"
    below = f"每低于目标{step}扣{per}分（{rounding}）"
    if rule.measure == "availability":
        how = {
            "sum": f"1 − Σ故障时长 / Σ工作时长，{systems}各组件求和",
            "union": f"1 − 任一{systems}组件故障的时长（并集）/ 统计时长",
            "all": f"1 − 全部{systems}组件同时故障的时长 / 统计时长",
        }[rule.aggregation]
        return f"{how}；维护窗口内的停机计为维护，不计故障。{below}"
    if rule.measure == "maintenance":
        return (
            f"{systems}在维护窗口内的停机时长（重叠只计一次）；"
            f"超过 {float(rule.limit_hours):g} 小时后每 {float(rule.step_hours):g} 小时扣{per}分"
            f"（{rounding}）"
        )
    if rule.measure == "response":
        extra = f"{float(rule.report_deduction):g}"
        return (
            f"在时限内响应（确认）的故障事件占比，自发现时起算。{below}；"
            f"修复后{rules.report_working_days}个工作日内未提交书面报告的，每次另扣{extra}分"
        )
    return f"在时限内恢复话务的故障事件占比，自发现时起算。{below}"


def formula(item: dict[str, Any], key: str, rules: Rules) -> str:
    """The item's computation with the actual numbers, then its deduction."""
    evidence = item["evidence"]
    if item["value"] is None:
        return f"未测量：{evidence.get('reason', '')}"
    rule = item_rule(rules, key)
    if "working_seconds" in evidence:
        text = (
            f"1 − {seconds_text(evidence['fault_seconds'])} 秒 / "
            f"{seconds_text(evidence['working_seconds'])} 秒 = {percent_down(item['value'])}"
        )
    elif is_hours(item):
        text = (
            f"{seconds_text(evidence['maintenance_seconds'])} 秒 / 3600 = "
            f"{hours_down(item['value'])} 小时"
        )
    elif evidence.get("counted"):
        text = f"{evidence['timely']} / {evidence['counted']} = {percent_down(item['value'])}"
    else:
        text = "无计入事件，按100%"
    steps = evidence.get("steps", 0)
    parts = []
    if steps and rule is not None:
        parts.append(f"{steps:g} 档 × {float(rule.deduction_per_step):g}")
    late = evidence.get("reports_late_or_missing")
    if late and rule is not None:
        parts.append(f"报告逾期/缺失 {late} 次 × {float(rule.report_deduction):g}")
    if parts:
        text += "；扣分 " + " + ".join(parts)
        if rule is not None and item["deduction"] >= float(rule.max_points):
            text += f"（本项扣完为止，最多 {float(rule.max_points):g} 分）"
    return text


# --- flags ------------------------------------------------------------------------------------


def flag_text(flag: dict[str, Any], report: dict[str, Any], rules: Rules) -> str:
    template = FLAG_TEXT.get(flag["type"])
    values = dict(flag)
    for key in ("deadline", "start", "end", "created_at"):
        if key in values and isinstance(values[key], str):
            values[key] = instant(values[key], rules)
    if flag["type"] == "excluded" and values.get("end") is None:
        values["end"] = "未结束"
    if "item" in values:
        item = report["items"].get(values["item"])
        values["item"] = item["name"] if item else values["item"]
    if "system" in values:
        values["system"] = rules.systems.get(values["system"], values["system"])
    for key in ("no_data_share", "threshold"):
        if isinstance(values.get(key), float):
            values[key] = percent_down(values[key])
    try:
        return template.format(**values) if template else str(flag)
    except (KeyError, ValueError, IndexError):
        return str(flag)


def low_coverage(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Systems under the coverage threshold, lowest first."""
    low = [
        (system, row)
        for system, row in report.get("coverage", {}).items()
        if row.get("low") and row.get("coverage") is not None
    ]
    low.sort(key=lambda pair: pair[1]["coverage"])
    return low


def interpretations(rules: Rules) -> list[str]:
    limits = "，".join(
        f"{name} {limit_text(v.response_us)}/{limit_text(v.restoration_us)}"
        for name, v in rules.severities.items()
    )
    return [note.format(limits=limits) for note in INTERPRETATIONS]


def measure_of(key: str, rules: Rules) -> str | None:
    rule = item_rule(rules, key)
    return rule.measure if rule else None
