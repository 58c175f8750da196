"""The month's report as one self-contained HTML file, in Chinese, for the hotline center.

Inline CSS and inline SVG charts only: nothing is loaded from another host or file, so the file
can be mailed, archived with a closed month and printed on A4 years later. The summary comes
first (the total beside 总分 and 合计, each item's description, target, value, coverage, the
formula with its actual numbers, deduction and score), then the flags in words, the charts, each
item's evidence and the appendix (outages split into fault and maintenance, windows with the
intervals they counted, incidents with their timeline). Numbers are the JSON report's; the
appendix and charts come from `scoring.breakdown`. Every instant is written one way
(`scoring.present.instant`).
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from scoring import charts
from scoring.breakdown import Breakdown
from scoring.present import (
    BACKUP_HEADER,
    EVENT_HEADER,
    FLAG_TITLE,
    REPORT_STATUS,
    STATUS,
    backup_rows,
    coverage_text,
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
from scoring.values import instant_us

MAX_ROWS = 1000  # per appendix table; the XLSX report holds every row
FONTS = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", '
    '"Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif'
)

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: @FONTS@; color: #222; margin: 0 auto; max-width: 1100px;
       padding: 24px 28px 48px; font-size: 14px; line-height: 1.55; background: #fff; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; border-bottom: 2px solid #2b5d8a; padding-bottom: 3px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #555; margin: 0 0 12px; }
.meta span { margin-right: 18px; white-space: nowrap; }
.total { font-size: 18px; margin: 8px 0 12px; }
.total strong { font-size: 26px; color: #2b5d8a; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border: 1px solid #c9d3dc; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #eef3f7; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.time { font-variant-numeric: tabular-nums; }  /* an instant breaks only at its <wbr> */
table.summary tbody th { min-width: 6.5em; }
table.summary td.desc { color: #444; font-size: 12px; min-width: 16em; }
table.summary td.formula { font-size: 12px; }
table.summary tr.deducted td.score { color: #b3261e; font-weight: 700; }
table.summary tfoot th, table.summary tfoot td { background: #e3ecf4; font-size: 14px; }
.warning { border: 2px solid #b3261e; background: #fdeceb; padding: 10px 14px; margin: 12px 0; }
.warning strong { color: #b3261e; }
ul.flags li { margin: 3px 0; }
.flag-type { display: inline-block; min-width: 7.5em; font-weight: 600; }
.fault { color: #b3261e; }
.maint { color: #2a5fa8; }
.muted { color: #777; }
figure { margin: 10px 0 18px; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font-family: @FONTS@; }
.note { font-size: 12px; color: #555; }
@media screen and (max-width: 900px) {  /* the ten-column appendix tables on a narrow window */
  body { padding: 16px 12px 32px; }
  table { font-size: 11.5px; }
  th, td { padding: 3px 4px; }
}
@page { size: A4; margin: 14mm 11mm 16mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section.appendix, section.charts { break-before: page; page-break-before: always; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  .warning { break-inside: avoid; }
}
""".replace("@FONTS@", FONTS)


def render_html(report: dict[str, Any], rules: Rules, details: Breakdown) -> str:
    month = report["month"]
    title = f"{rules.name} — {_month_words(month)}（{month}）月度考核报告"
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f'<h1 id="title">{escape(title)}</h1>',
    ]
    period = report.get("period") or {}
    out.append(
        '<p class="meta">'
        f"<span>考核月份：{escape(month)}</span>"
        f"<span>统计区间：{_t(period.get('start'), rules)} 至 {_t(period.get('end'), rules)}</span>"
        f"<span>数据截至：{_t(report['as_of'], rules)}</span>"
        f"<span>考核规则：{escape(report['rules'])}</span></p>"
    )
    out.extend(_warning(report, rules))
    out.extend(_summary(report, rules))
    out.extend(_flags(report, rules))
    out.extend(_coverage(report, rules))
    out.extend(_charts(report, rules, details))
    out.extend(_item_evidence(report, rules))
    out.extend(_appendix(report, rules, details))
    out.append('<section id="notes"><h2>六、待与热线中心确认的口径</h2><ul>')
    out.extend(f"<li>{escape(note)}</li>" for note in interpretations(rules))
    out.append("</ul></section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


_DATE_THEN_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)T")


def _at(value: str | int | None, rules: Rules, missing: str = "—") -> str:
    """An instant for a table cell, escaped, that may break before its `T` (only there): the
    appendix tables hold up to five instants a row, too wide for one line each on a narrow page."""
    return _DATE_THEN_TIME.sub(r"\1<wbr>T", escape(instant(value, rules, missing)))


def _month_words(month: str) -> str:
    year, number = month.split("-")
    return f"{year}年{int(number)}月"


def _t(value: str | int | None, rules: Rules, missing: str = "—") -> str:
    return f'<span class="time">{escape(instant(value, rules, missing))}</span>'


def _warning(report: dict[str, Any], rules: Rules) -> list[str]:
    low = low_coverage(report)
    no_components, no_facts = unmeasured(report)
    if not low and not no_components and not no_facts:
        return []
    required = percent_down(1 - float(rules.max_no_data_share))
    out = [
        '<div class="warning" id="coverage-warning" role="alert">',
        "<p><strong>⚠ 监测覆盖不足：以下得分缺少监测数据支撑，使用本报告前请先核实。</strong></p>",
        "<ul>",
    ]
    for system, row in low:
        label = rules.systems.get(system, system)
        text = (
            f"{escape(label)}（{escape(system)}）：监测覆盖率 "
            f"<strong>{percent_down(row['coverage'])}</strong>"
            f"（无数据 {seconds_text(row['no_data_seconds'])} 秒 / 工作时长 "
            f"{seconds_text(row['working_seconds'])} 秒），低于要求 {required}"
        )
        if row["coverage"] == 0:
            text += "；<strong>整个统计区间无任何监测数据，该系统的得分没有依据</strong>"
        out.append(f"<li>{text}。</li>")
    if no_components:
        out.append(f"<li>未测量（无对应组件），按满分计：{escape('、'.join(no_components))}。</li>")
    if no_facts:
        out.append(f"<li>缺少数据，未测量的按满分计：{escape('、'.join(no_facts))}。</li>")
    out.append("</ul></div>")
    return out


def _summary(report: dict[str, Any], rules: Rules) -> list[str]:
    out = [
        '<section id="summary"><h2>一、得分汇总</h2>',
        f'<p class="total">总分 <strong id="total" data-value="{report["total"]!r}">'
        f"{points(report['total'])}</strong>（满分 {points(report['max_total'])}）</p>",
        '<table class="summary"><thead><tr><th>指标</th><th>指标描述</th><th>目标值</th>'
        '<th class="num">实际值</th><th class="num">监测覆盖率</th><th>计算（实际数值）</th>'
        '<th class="num">扣分</th><th class="num">得分</th></tr></thead><tbody>',
    ]
    for section, key, item in summary_rows(report):
        if section is not None:
            out.append(
                f'<tr class="section" data-section="{escape(section["name"])}" '
                f'data-score="{section["score"]!r}"><th colspan="6" scope="rowgroup">'
                f"{escape(section['name'])}（满分 {points(section['max_points'])}）</th>"
                f'<td class="num deduction">{points(section["deduction"])}</td>'
                f'<td class="num score">{points(section["score"])}</td></tr>'
            )
        value = "null" if item["value"] is None else repr(item["value"])
        deducted = " deducted" if item["deduction"] > 0 else ""
        out.append(
            f'<tr class="item{deducted}" data-key="{escape(key)}" data-value="{value}" '
            f'data-deduction="{item["deduction"]!r}" data-score="{item["score"]!r}">'
            f'<th scope="row">{escape(item["name"])}</th>'
            f'<td class="desc">{escape(description(key, rules))}</td>'
            f"<td>{escape(target_text(item))}</td>"
            f'<td class="num value">{escape(value_text(item))}</td>'
            f'<td class="num coverage">{escape(coverage_text(item))}</td>'
            f'<td class="formula">{escape(formula(item, key, rules))}</td>'
            f'<td class="num deduction">{points(item["deduction"])}</td>'
            f'<td class="num score">{points(item["score"])}</td></tr>'
        )
    out.append(
        '</tbody><tfoot><tr class="total"><th colspan="7" scope="row">合计</th>'
        f'<td class="num score">{points(report["total"])}</td></tr></tfoot></table>'
    )
    out.append(
        '<p class="note">监测覆盖率：该项所涉组件在工作时间内有监测数据的比例（1 − 无数据时长 / '
        "工作时长），故障响应、话务恢复两项按全部组件计（故障由探测发现）。百分比截断到四位小数，"
        "不向上取整。</p></section>"
    )
    return out


def _flags(report: dict[str, Any], rules: Rules) -> list[str]:
    out = ['<section id="flags"><h2>二、标记</h2>']
    if not report["flags"]:
        out.append("<p>无。</p></section>")
        return out
    out.append('<ul class="flags">')
    for flag in report["flags"]:
        title = FLAG_TITLE.get(flag["type"], flag["type"])
        ref = flag.get("incident") or flag.get("window") or flag.get("item") or ""
        out.append(
            f'<li class="flag {escape(flag["type"])}" data-ref="{escape(str(ref))}">'
            f'<span class="flag-type">{escape(title)}</span>'
            f"{escape(flag_text(flag, report, rules))}</li>"
        )
    out.append("</ul></section>")
    return out


def _coverage(report: dict[str, Any], rules: Rules) -> list[str]:
    rows = report.get("coverage") or {}
    if not rows:
        return []
    out = [
        '<section id="coverage"><h3>各系统监测覆盖率</h3><table><thead><tr><th>系统</th>'
        '<th class="num">监测覆盖率</th><th class="num">工作时长(秒)</th>'
        '<th class="num">无数据(秒)</th><th>结论</th></tr></thead><tbody>'
    ]
    for system, row in rows.items():
        cov = "—" if row["coverage"] is None else percent_down(row["coverage"])
        verdict = "无组件" if row["coverage"] is None else ("不足" if row["low"] else "达标")
        out.append(
            f"<tr><td>{escape(rules.systems.get(system, system))}（{escape(system)}）</td>"
            f'<td class="num">{cov}</td><td class="num">{seconds_text(row["working_seconds"])}</td>'
            f'<td class="num">{seconds_text(row["no_data_seconds"])}</td><td>{verdict}</td></tr>'
        )
    out.append("</tbody></table></section>")
    return out


def _charts(report: dict[str, Any], rules: Rules, details: Breakdown) -> list[str]:
    month_start = instant_us(report["period"]["start"])
    month_end = _month_end(report, rules)
    out = ['<section class="charts" id="charts"><h2>三、图表</h2>']
    out.append(
        '<figure id="chart-timeline"><figcaption>本月停机时间轴（按系统、组件）</figcaption>'
    )
    out.append(charts.timeline(details, month_start, month_end, rules))
    if details.component_lanes and len(details.component_lanes) < details.components_total:
        out.append(
            f'<p class="note">组件较多（{details.components_total} 个），'
            f"只画出有停机或无数据的 {len(details.component_lanes)} 个。</p>"
        )
    out.append("</figure>")
    out.append('<figure id="chart-daily"><figcaption>每日可用率与目标</figcaption>')
    out.append(charts.daily(report, details, rules))
    out.append("</figure>")
    chart = charts.incidents(report, rules)
    out.append(
        '<figure id="chart-incidents"><figcaption>故障事件响应、恢复用时对照时限</figcaption>'
    )
    out.append(chart if chart else '<p class="muted">本月无计入的故障事件。</p>')
    out.append("</figure></section>")
    return out


def _month_end(report: dict[str, Any], rules: Rules) -> int:
    from scoring.facts import month_bounds

    return month_bounds(report["month"], rules)[1]


def _item_evidence(report: dict[str, Any], rules: Rules) -> list[str]:
    out = ['<section id="evidence"><h2>四、各项依据</h2>']
    for key, item in report["items"].items():
        evidence = item["evidence"]
        out.append(f'<h3 id="item-{escape(key)}">{escape(item["name"])}（{escape(key)}）</h3>')
        if item["value"] is None:
            out.append(f"<p>未测量：{escape(str(evidence.get('reason', '')))}。</p>")
            continue
        out.append(f"<p>{escape(formula(item, key, rules))}。</p>")
        measure = measure_of(key, rules)
        if measure in ("threshold", "events"):
            out.extend(_table_evidence(item, rules))
        elif measure == "availability":
            systems = "、".join(rules.systems.get(s, s) for s in evidence["systems"])
            out.append(
                f"<p>系统：{escape(systems)}；汇总方式：{escape(evidence['aggregation'])}；"
                f"工作时长 {seconds_text(evidence['working_seconds'])} 秒，故障时长 "
                f"{seconds_text(evidence['fault_seconds'])} 秒，无数据 "
                f"{seconds_text(evidence['no_data_seconds'])} 秒；监测覆盖率 "
                f"{escape(coverage_text(item))}。</p>"
            )
            out.append(
                "<table><thead><tr><th>组件</th><th class=num>工作时长(秒)</th>"
                "<th class=num>故障(秒)</th><th class=num>维护(秒)</th>"
                "<th class=num>无数据(秒)</th>"
                "</tr></thead><tbody>"
            )
            rows = sorted(evidence["components"], key=lambda r: (-r["fault_seconds"], r["id"]))
            for row in rows[:MAX_ROWS]:
                out.append(
                    f"<tr><td>{escape(row['id'])}</td>"
                    + "".join(
                        f'<td class="num">{seconds_text(row[k])}</td>'
                        for k in (
                            "working_seconds",
                            "fault_seconds",
                            "maintenance_seconds",
                            "no_data_seconds",
                        )
                    )
                    + "</tr>"
                )
            out.append("</tbody></table>")
            out.extend(_more(len(rows)))
            if evidence.get("fault_intervals"):
                spans = "；".join(
                    f"{instant(s, rules)} 至 {instant(e, rules)}"
                    for s, e in evidence["fault_intervals"][:MAX_ROWS]
                )
                out.append(f"<p>计入的故障区间：{escape(spans)}</p>")
        elif measure == "maintenance":
            spans = "；".join(
                f"{instant(s, rules)} 至 {instant(e, rules)}" for s, e in evidence["intervals"]
            )
            out.append(
                f"<p>维护停机合计 {seconds_text(evidence['maintenance_seconds'])} 秒"
                f"（重叠只计一次），计入区间：{escape(spans) or '无'}。"
                "各窗口计入的区间见附录B。</p>"
            )
        else:
            limits = "，".join(
                f"{k} {duration(int(v * 1_000_000))}" for k, v in evidence["limits_seconds"].items()
            )
            out.append(f"<p>时限（占位值，以合同为准）：{escape(limits)}。各事件见附录C。</p>")
    out.append("</section>")
    return out


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    out.extend(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows[:MAX_ROWS]
    )
    out.append("</tbody></table>")
    out.extend(_more(len(rows)))
    return out


def _table_evidence(item: dict[str, Any], rules: Rules) -> list[str]:
    """A monthly item's evidence: its events, the inspection report, the backups, the note."""
    out = []
    if item["evidence"].get("events"):
        out.extend(_table(EVENT_HEADER, event_rows(item)))
    inspection = inspection_text(item, rules)
    if inspection:
        out.append(f"<p>{escape(inspection)}。</p>")
    backups = backup_rows(item, rules)
    if backups:
        out.extend(_table(BACKUP_HEADER, backups))
    if item["evidence"].get("note"):
        out.append(f"<p>备注：{escape(item['evidence']['note'])}</p>")
    return out


def _appendix(report: dict[str, Any], rules: Rules, details: Breakdown) -> list[str]:
    out = ['<section class="appendix" id="appendix"><h2>五、证据附录</h2>']
    out.append(
        '<p class="note">时间一律为当地时间（带时区偏移），仅在有毫秒时写出毫秒。'
        "停机按维护窗口拆分：窗口覆盖该组件的部分计为维护，其余（含超出窗口的部分）计为故障。</p>"
    )
    out.extend(_outage_table(details, rules))
    out.extend(_window_table(details, rules))
    out.extend(_incident_table(report, rules))
    out.append("</section>")
    return out


def _spans(spans: list[tuple[int, int]], rules: Rules, css: str) -> str:
    if not spans:
        return "—"
    return "<br>".join(
        f'<span class="{css}">{_at(s, rules)} 至 {_at(e, rules)}</span>' for s, e in spans
    )


def _outage_table(details: Breakdown, rules: Rules) -> list[str]:
    out = [
        f'<h3 id="appendix-outages">A. 停机明细（{len(details.outages)} 条，拆分为故障与维护）</h3>'
    ]
    if not details.outages:
        return [*out, "<p>本月无停机记录。</p>"]
    out.append(
        "<table><thead><tr><th>组件</th><th>系统</th><th>开始</th><th>结束</th>"
        "<th>故障部分</th><th class=num>故障(秒)</th><th>维护部分</th><th class=num>维护(秒)</th>"
        "<th class=num>不计(秒)</th><th>说明</th></tr></thead><tbody>"
    )
    for row in details.outages[:MAX_ROWS]:
        notes = []
        if row.excluded:
            notes.append(
                f"已剔除：{row.excluded.get('reason', '')}"
                f"（批准人：{row.excluded.get('approved_by', '')}）"
            )
        if row.windows:
            notes.append("维护窗口：" + "、".join(row.windows))
        if row.not_working:
            notes.append("部分在统计区间或工作时间之外")
        if row.end is None:
            notes.append("未结束，计至统计区间末")
        out.append(
            f"<tr><td>{escape(row.component)}</td>"
            f"<td>{escape(rules.systems.get(row.system, row.system))}</td>"
            f'<td class="time">{_at(row.start, rules)}</td>'
            f'<td class="time">{_at(row.end, rules, "未结束")}</td>'
            f'<td class="time">{_spans(row.fault, rules, "fault")}</td>'
            f'<td class="num">{seconds_text(us_seconds(row.fault_us))}</td>'
            f'<td class="time">{_spans(row.maintenance, rules, "maint")}</td>'
            f'<td class="num">{seconds_text(us_seconds(row.maintenance_us))}</td>'
            f'<td class="num">{seconds_text(us_seconds(row.not_working))}</td>'
            f"<td>{escape('；'.join(notes))}</td></tr>"
        )
    out.append("</tbody></table>")
    out.extend(_more(len(details.outages)))
    return out


def _window_table(details: Breakdown, rules: Rules) -> list[str]:
    out = [
        f'<h3 id="appendix-windows">B. 维护窗口（{len(details.windows)} 个）及其计入的停机区间</h3>'
    ]
    if not details.windows:
        return [*out, "<p>本月无维护窗口。</p>"]
    out.append(
        "<table><thead><tr><th>窗口</th><th>开始</th><th>结束</th><th>覆盖组件</th>"
        "<th>登记时间</th><th>计入的维护停机区间</th><th class=num>计入停机维护时长(秒)</th>"
        "</tr></thead><tbody>"
    )
    for w in details.windows[:MAX_ROWS]:
        created = _at(w.created_at, rules, "未记录")
        if w.late:
            created += "（开始后补登）"
        counted = (
            "<br>".join(
                f'<span class="maint">{escape(c)}：{_at(s, rules)} 至 '
                f"{_at(e, rules)}（{escape(duration(e - s))}）</span>"
                for c, s, e in w.counted[:MAX_ROWS]
            )
            or "无停机"
        )
        components = "全部" if "*" in w.components else "、".join(w.components)
        out.append(
            f'<tr id="window-{escape(w.id)}"><td>{escape(w.id)}</td>'
            f'<td class="time">{_at(w.start, rules)}</td>'
            f'<td class="time">{_at(w.end, rules)}</td>'
            f'<td>{escape(components)}</td><td class="time">{created}</td>'
            f'<td>{counted}</td><td class="num">{seconds_text(us_seconds(w.in_scope_us))}</td></tr>'
        )
    out.append("</tbody></table>")
    out.extend(_more(len(details.windows)))
    return out


def incident_timelines(report: dict[str, Any], rules: Rules) -> list[dict[str, Any]]:
    """Each counted incident with its response, restoration and written report, from the
    report's evidence (response and restoration items), in detection order."""
    rows: dict[str, dict[str, Any]] = {}
    for key, item in report["items"].items():
        measure = measure_of(key, rules)
        if measure not in ("response", "restoration") or item["value"] is None:
            continue
        evidence = item["evidence"]
        for row in evidence["incidents"]:
            entry = rows.setdefault(
                row["id"],
                {
                    "id": row["id"],
                    "severity": row["severity"],
                    "severity_defaulted": row.get("severity_defaulted", False),
                    "detected_at": row["detected_at"],
                },
            )
            entry[measure] = row
        for report_row in evidence.get("reports", []):
            if report_row["incident"] in rows:
                rows[report_row["incident"]]["report"] = report_row
    return sorted(rows.values(), key=lambda r: (instant_us(r["detected_at"]), r["id"]))


def _incident_table(report: dict[str, Any], rules: Rules) -> list[str]:
    timelines = incident_timelines(report, rules)
    out = [f'<h3 id="appendix-incidents">C. 故障事件（{len(timelines)} 起）</h3>']
    if not timelines:
        return [*out, "<p>本月无计入的故障事件。</p>"]
    out.append(
        "<table><thead><tr><th>事件</th><th>级别</th><th>发现时间</th><th>响应时间</th>"
        "<th>响应用时 / 时限</th><th>恢复时间</th><th>恢复用时 / 时限</th>"
        "<th>书面报告截止</th><th>报告提交</th><th>报告结论</th></tr></thead><tbody>"
    )
    for entry in timelines[:MAX_ROWS]:
        severity = entry["severity"] + ("（未定级，按默认）" if entry["severity_defaulted"] else "")
        cells = [
            f"<td>{escape(entry['id'])}</td><td>{escape(severity)}</td>",
            f'<td class="time">{_at(entry["detected_at"], rules)}</td>',
        ]
        for measure in ("response", "restoration"):
            row = entry.get(measure)
            if row is None:
                cells.append("<td>—</td><td>—</td>")
                continue
            elapsed = (
                "—"
                if row["elapsed_seconds"] is None
                else duration(round(row["elapsed_seconds"] * 1_000_000))
            )
            status = STATUS.get(row["status"], row["status"])
            css = "fault" if row["status"] in ("late", "missing") else ""
            cells.append(
                f'<td class="time">{_at(row["done_at"], rules, "未完成")}</td>'
                f'<td class="{css}">{escape(elapsed)} / '
                f"{escape(duration(int(row['limit_seconds'] * 1_000_000)))}：{escape(status)}</td>"
            )
        written = entry.get("report")
        if written is None:
            cells.append("<td>—</td><td>—</td><td>未恢复，暂不需提交</td>")
        else:
            status = REPORT_STATUS.get(written["status"], written["status"])
            css = "fault" if written["status"] in ("late", "missing") else ""
            cells.append(
                f'<td class="time">{_at(written["deadline"], rules)}</td>'
                f'<td class="time">{_at(written["submitted_at"], rules, "未提交")}</td>'
                f'<td class="{css}">{escape(status)}</td>'
            )
        out.append(f'<tr id="incident-{escape(entry["id"])}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    out.extend(_more(len(timelines)))
    return out


def _more(count: int) -> list[str]:
    if count > MAX_ROWS:
        return [f'<p class="note">另有 {count - MAX_ROWS} 条未列出，见 XLSX 报告。</p>']
    return []
