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
    "not_measured_facts": "{item}：缺少{missing}，未测量，按满分计",
    "partly_measured": "{item}：缺少{missing}，只按已有数据扣分",
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
    "partly_measured": "部分未测量",
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


def unit_of(item: dict[str, Any]) -> str:
    """`ratio`, `hours`, `seconds`, `number` or `events`: how the item's value reads."""
    if is_hours(item):
        return "hours"
    return item["evidence"].get("unit", "ratio")


def amount(value: float, unit: str) -> str:
    """A value in its unit: a share truncated, seconds, a number, a count of events."""
    if unit == "ratio":
        return percent_down(value)
    if unit == "hours":
        return f"{hours_down(value)} 小时"
    text = points(value)
    return {"seconds": f"{text} 秒", "events": f"{text} 次"}.get(unit, text)


def value_text(item: dict[str, Any]) -> str:
    if item["value"] is None:
        return "未测量"
    return amount(item["value"], unit_of(item))


def target_text(item: dict[str, Any]) -> str:
    unit = unit_of(item)
    if unit == "hours":
        return f"≤ {item['target']:g} 小时"
    if unit == "events":
        return "无"
    sign = "≤" if item["evidence"].get("direction") == "at_most" else "≥"
    if unit == "ratio":
        return f"{sign} {item['target'] * 100:g}%"
    return f"{sign} {amount(item['target'], unit)}"


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
    if rule.standard is not None:
        return rule.standard
    if rule.measure == "events":
        return "；".join(f"{k.name}：{_each(k.deduction, k.points_range)}" for k in rule.events)
    if rule.measure == "threshold":
        sign = "≤" if rule.direction == "at_most" else "≥"
        target = amount(float(rule.target), rule.unit)
        step = amount(float(rule.step), rule.unit)
        return f"目标 {sign} {target}，每超出 {step} 扣{float(rule.deduction_per_step):g}分"
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


_ROUNDING = {"ceil": "不足一档按一档计", "floor": "满一档才扣", "linear": "按比例"}


def _each(deduction: Any, points_range: Any = None) -> str:
    if points_range is not None:
        return f"每次扣{float(points_range[0]):g}至{float(points_range[1]):g}分（视情节）"
    return "不得分（本项扣完）" if deduction is None else f"每次扣{float(deduction):g}分"


FACTS_WORDS = {"monthly": "月度数据", "backups": "备份记录", "inspection_reports": "巡检报告记录"}


def missing_text(missing: list[str]) -> str:
    return "、".join(FACTS_WORDS.get(m, m) for m in missing)


def formula(item: dict[str, Any], key: str, rules: Rules) -> str:
    """The item's computation with the actual numbers, then its deduction."""
    evidence = item["evidence"]
    if item["value"] is None:
        if evidence.get("missing"):
            return f"未测量：缺少{missing_text(evidence['missing'])}"
        return f"未测量：{evidence.get('reason', '')}"
    rule = item_rule(rules, key)
    if rule is not None and rule.measure in ("threshold", "events"):
        return _table_formula(item, rule)
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


def _table_formula(item: dict[str, Any], rule: ItemRule) -> str:
    evidence = item["evidence"]
    capped = (
        f"（本项扣完为止，最多 {float(rule.max_points):g} 分）"
        if item["deduction"] >= float(rule.max_points) and item["deduction"] > 0
        else ""
    )
    if rule.measure == "threshold":
        text = f"实际 {value_text(item)}，目标 {target_text(item)}"
        steps = evidence.get("steps", 0)
        if evidence.get("forfeited"):
            return f"{text}；为零，本项不得分"
        if steps:
            past, step = evidence["shortfall"], float(rule.step)
            if rule.unit == "ratio":  # distances between shares read in percentage points
                past_text = f"{round(past * 100, 6):g} 个百分点"
                step_text = f"{round(step * 100, 6):g} 个百分点"
            else:
                past_text, step_text = amount(past, rule.unit), amount(step, rule.unit)
            word = "低于" if rule.direction == "at_least" else "超出"
            rounding = _ROUNDING[rule.step_rounding]
            text += (
                f"；{word}目标 {past_text}，每 {step_text} 一档（{rounding}），"
                f"{steps:g} 档 × {float(rule.deduction_per_step):g}"
            )
        return text + capped
    parts = []
    for row in evidence["events"]:
        if not row["count"]:
            continue
        if row.get("points") is not None:
            parts.append(f"{row['name']} {'+'.join(f'{p:g}' for p in row['points'])}")
        elif row["each"] == "all":
            parts.append(f"{row['name']} {row['count']} 次，不得分")
        else:
            parts.append(f"{row['name']} {row['count']} 次 × {row['each']:g}")
    text = "扣分 " + " + ".join(parts) if parts else "无扣分事项"
    if evidence.get("missing"):
        text += f"（缺少{missing_text(evidence['missing'])}，相应事项未计）"
    return text + capped


def event_rows(item: dict[str, Any]) -> list[list[str]]:
    """An events item's kinds as rows: 事项, 来源, 扣分标准, 次数, 扣分."""
    rows = []
    for row in item["evidence"].get("events", []):
        each = row["each"]
        if isinstance(each, dict):
            standard = _each(None, (each["min"], each["max"]))
        else:
            standard = _each(None if each == "all" else each)
        count = "缺少数据" if row["count"] is None else str(row["count"])
        if row.get("points"):
            count += f"（{'、'.join(f'{p:g}' for p in row['points'])}）"
        deduction = "—" if row["deduction"] is None else f"{row['deduction']:g}"
        rows.append(
            [
                row["name"],
                SOURCE_WORDS.get(row["source"], row["source"]),
                standard,
                count,
                deduction,
            ]
        )
    return rows


EVENT_HEADER = ["事项", "来源", "扣分标准", "次数", "扣分"]
SOURCE_WORDS = {
    "monthly": "月度数据",
    "inspection_report_late": "巡检报告记录",
    "inspection_report_incomplete": "巡检报告记录",
    "backup_missed": "备份记录",
}
BACKUP_STATUS = {
    "on_time": "按时",
    "late": "逾期完成",
    "missed": "未完成（已过期）",
    "pending": "未到期",
}
BACKUP_HEADER = ["组件", "类型", "应完成", "完成时间", "结论"]


def backup_rows(item: dict[str, Any], rules: Rules) -> list[list[str]]:
    backups = item["evidence"].get("backups") or {}
    return [
        [
            row["component"],
            "每日增量" if row["kind"] == "daily" else "每月全量",
            instant(row["due"], rules),
            instant(row["done_at"], rules, "未完成"),
            BACKUP_STATUS.get(row["status"], row["status"]),
        ]
        for row in backups.get("rows", [])
    ]


def inspection_text(item: dict[str, Any], rules: Rules) -> str | None:
    report = item["evidence"].get("inspection_report")
    if report is None:
        return None
    status = REPORT_STATUS.get(report["status"], report["status"])
    text = (
        f"{report['month']} 巡检报告：截止 {instant(report['deadline'], rules)}，"
        f"提交 {instant(report['submitted_at'], rules, '未提交')}，{status}"
    )
    if not report["listed"]:
        text += "（采集数据中没有该月报告）"
    elif report["complete"] is False:
        text += "，记录不完整"
    return text


def summary_rows(report: dict[str, Any]) -> list[tuple[dict[str, Any] | None, str, dict[str, Any]]]:
    """The summary's rows in order: (section or None, item key, item); a section's dict (name,
    max_points, score) comes with its first item. Rules without sections: (None, key, item)."""
    sections = {key: s for s in report.get("sections", []) for key in s["items"][:1]}
    return [(sections.get(key), key, item) for key, item in report["items"].items()]


def unmeasured(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Names of the items not measured: for want of components, and for want of facts (with
    the partly measured ones)."""
    components, facts = [], []
    for item in report["items"].values():
        missing = item["evidence"].get("missing")
        if item["value"] is None and not missing:
            components.append(item["name"])
        elif missing:
            part = "" if item["value"] is None else "，部分"
            facts.append(f"{item['name']}（缺少{missing_text(missing)}{part}）")
    return components, facts


# --- flags ------------------------------------------------------------------------------------


def flag_text(flag: dict[str, Any], report: dict[str, Any], rules: Rules) -> str:
    kind = "not_measured_facts" if flag["type"] == "not_measured" and "missing" in flag else None
    template = FLAG_TEXT.get(kind or flag["type"])
    values = dict(flag)
    if isinstance(values.get("missing"), list):
        values["missing"] = missing_text(values["missing"])
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


# Shown only for rules with the table's other rows (changsha-12345-full).
TABLE_INTERPRETATIONS = (
    "百分比类指标的“每下降1%”按百分点计（话务质检率 5% 降到 4% 为一档），不按相对比例。",
    "巡检报告：每月第一周按自然日计，截止为次月{due_day}日24:00（当地时间），节假日不顺延；"
    "月度得分计入当月应交的上月报告；逾期与记录不完整分别扣分，同一份报告可两项都扣。",
    "备份：每次应完成的每日增量、每月全量备份，晚于应完成时间或未完成各算一次未按规定备份；"
    "当月没有应完成的备份记录时该事项视为缺少数据。",
    "缺少月度数据的项目按未测量计满分并标记，不视为无扣分事项；"
    "视情节轻重的扣分（数据管理、整改批示）由热线中心逐次给出分值。",
)


def interpretations(rules: Rules) -> list[str]:
    limits = "，".join(
        f"{name} {limit_text(v.response_us)}/{limit_text(v.restoration_us)}"
        for name, v in rules.severities.items()
    )
    notes = [note.format(limits=limits) for note in INTERPRETATIONS]
    if rules.sources():
        notes += [n.format(due_day=rules.inspection_due_day) for n in TABLE_INTERPRETATIONS]
    return notes


def measure_of(key: str, rules: Rules) -> str | None:
    rule = item_rule(rules, key)
    return rule.measure if rule else None
