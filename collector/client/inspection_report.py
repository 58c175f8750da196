"""The monthly inspection report (巡检报告) for people: HTML and Word, from the collector's
`GET /api/v1/inspection?month=` document.

HTML is one self-contained file (inline CSS and SVG, nothing from the network). The resource
charts are drawn here as SVG text, in the way `scoring/charts.py` draws the monthly report's
charts (same width, fonts, colours, no `url(#…)` references) — but not with its helpers: this
room (`collector/client`) may import only the standard library, httpx, rich and python-docx,
so an operator's laptop needs nothing of the server or the scorer. Word cannot show SVG: the
DOCX carries the same numbers as tables (daily average per host instead of the chart).

Nothing is left out silently: every section says 无 when it is empty, and the last section
lists what was missed (components without results, days without data, silent agents, missed
backups).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from collector.client.report_draft import EAST_ASIAN_FONT, docx_fonts

SYSTEM_NAMES = {
    "acd": "排队机",
    "ivr": "IVR",
    "seat": "座席终端",
    "callsys": "话务系统",
    "other": "其他",
}
STATE_NAMES = {"ok": "正常", "degraded": "有异常", "failed": "失败"}
BACKUP_NAMES = {"daily": "每日增量备份", "monthly": "每月全量备份"}
METRICS = (("cpu", "CPU", "#d64541"), ("memory", "内存", "#3a78c9"), ("disk", "磁盘", "#3d9a5b"))
FONTS = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", '
    '"Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif'
)
INK = "#333"
WIDTH = 960
LABEL = 56
RIGHT = 16
MAX_ROWS = 2000  # per HTML table; beyond it the table says how many were left out

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
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 12.5px;
        table-layout: auto; }
th, td { border: 1px solid #c9d3dc; padding: 4px 6px; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; }
th { background: #eef3f7; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdeceb; }
.bad-text { color: #b3261e; font-weight: 600; }
.muted { color: #777; }
ul.missed li { margin: 3px 0; }
figure { margin: 10px 0 18px; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font-family: @FONTS@; }
.note { font-size: 12px; color: #555; }
@page { size: A4; margin: 14mm 11mm 16mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
}
""".replace("@FONTS@", FONTS)


# --- words shared by both formats ----------------------------------------------------------


def month_words(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}年{int(mon)}月"


def when(instant: str | None) -> str:
    """`2026-10-08T00:00:00+08:00` → `2026-10-08 00:00`; None → `—`."""
    if not instant:
        return "—"
    return instant[:16].replace("T", " ")


def hours(seconds: float) -> str:
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m = rest // 60
    if h:
        return f"{h}小时{m}分" if m else f"{h}小时"
    return f"{m}分" if m else f"{s}秒"


def system_name(system: str) -> str:
    return SYSTEM_NAMES.get(system, system)


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.2f}%"


def _stat(stats: Mapping[str, float] | None, key: str) -> str:
    return "—" if not stats else f"{stats[key]:.1f}"


def overview(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    checks = doc["checks"]
    missed = doc["missed"]
    certs = doc["certificates"]
    least = min((c["days_left"] for c in certs), default=None)
    return [
        ("统计周期", f"{when(doc['period']['start'])} 至 {when(doc['period']['end'])}"),
        ("数据截至", when(doc["as_of"])),
        ("巡检项（组件×检查）", str(len(checks))),
        ("全月正常的巡检项", str(sum(1 for c in checks if c["state"] == "ok"))),
        ("有异常的巡检项", str(sum(1 for c in checks if c["state"] != "ok"))),
        ("停机次数（组件）", str(sum(len(c["outages"]) for c in doc["components"]))),
        ("故障事件", str(len(doc["incidents"]))),
        ("维护窗口", str(len(doc["maintenance_windows"]))),
        ("备份检查", str(len(doc["backups"]))),
        ("缺失备份（次）", str(len(missed["backups_missed"]))),
        ("证书最短剩余天数", "—" if least is None else f"{least:.1f} 天"),
        ("无结果的组件", str(len(missed["components_without_results"]))),
        ("全无数据的日期", str(len(missed["days_without_any_data"]))),
        ("失联的采集代理", str(len(missed["agents_silent"]))),
    ]


def check_rows(doc: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            c["component"],
            system_name(c["system"]),
            c["probe"],
            str(c["ok"]),
            str(c["failed"]),
            _pct(c["ok_ratio"]),
            str(c["outages"]),
            hours(c["down_seconds"]),
            str(len(c["days_without_data"])),
            STATE_NAMES.get(c["state"], c["state"]),
        )
        for c in doc["checks"]
    ]


CHECK_HEADER = (
    "组件",
    "系统",
    "检查",
    "成功",
    "失败",
    "成功率",
    "停机次数",
    "停机时长",
    "缺数据天数",
    "状态",
)


def resource_rows(host: Mapping[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for day in host["days"]:
        row = [day["day"]]
        for key, _, _ in METRICS:
            stats = day.get(key)
            row += [_stat(stats, "min"), _stat(stats, "avg"), _stat(stats, "max")]
        rows.append(tuple(row))
    return rows


RESOURCE_HEADER = (
    "日期",
    "CPU最小",
    "CPU平均",
    "CPU最大",
    "内存最小",
    "内存平均",
    "内存最大",
    "磁盘最小",
    "磁盘平均",
    "磁盘最大",
)


def cert_rows(doc: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            c["component"],
            c["probe"],
            f"{c['days_left']:.1f}",
            f"{c['min_days_left']:.1f}",
            when(c["expires_at"]),
            when(c["seen_at"]),
        )
        for c in doc["certificates"]
    ]


CERT_HEADER = ("组件", "检查", "剩余天数", "本月最少", "到期时间", "最近检查")


def backup_rows(doc: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            b["component"],
            system_name(b["system"]),
            BACKUP_NAMES.get(b["kind"], b["kind"]),
            when(b["last_good"]),
            str(b["due"]),
            str(len(b["missed"])),
            "、".join(when(d) for d in b["missed"]) or "无",
        )
        for b in doc["backups"]
    ]


BACKUP_HEADER = (
    "组件",
    "系统",
    "类型",
    "最近一次成功备份",
    "应备份次数",
    "缺失次数",
    "缺失（截止时间）",
)


def incident_rows(doc: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            i["id"],
            i["severity"],
            "、".join(i["components"]),
            when(i["detected_at"]),
            when(i["responded_at"]),
            when(i["restored_at"]),
            when(i["report_submitted_at"]),
            "作废（维护）" if i.get("voided") else "",
        )
        for i in doc["incidents"]
    ]


INCIDENT_HEADER = ("事件", "级别", "组件", "发现", "响应", "恢复", "书面报告", "备注")


def window_rows(doc: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            w["id"],
            "、".join("全部" if c == "*" else c for c in w["components"]),
            when(w["start"]),
            when(w["end"]),
            w.get("reason") or "",
            w.get("approval_ref") or "",
            "是" if w.get("created_late") else "否",
        )
        for w in doc["maintenance_windows"]
    ]


WINDOW_HEADER = ("窗口", "组件", "开始", "结束", "原因", "审批", "事后登记")


def agent_rows(doc: Mapping[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for a in doc["agents"]:
        host = a.get("host") or {}
        latest = "，".join(
            f"{label} {host[k]:.1f}%"
            for k, label in (
                ("cpu_percent", "CPU"),
                ("mem_percent", "内存"),
                ("disk_percent", "磁盘"),
            )
            if isinstance(host.get(k), int | float)
        )
        rows.append((a["agent"], when(a["last_seen"]), "失联" if a["silent"] else "在线", latest))
    return rows


AGENT_HEADER = ("采集代理", "最近心跳", "状态", "最近一次主机指标")


def missed_lines(doc: Mapping[str, Any]) -> list[str]:
    """What was missed, one line each; `本月无遗漏项` only when nothing was."""
    m = doc["missed"]
    out = []
    for c in m["components_without_results"]:
        out.append(f"组件 {c['component']}（{system_name(c['system'])}）本月没有任何巡检结果")
    for d in m["days_without_any_data"]:
        out.append(f"{d} 全天没有任何巡检数据")
    for g in m["check_days_without_data"]:
        days = "、".join(g["days"])
        out.append(f"{g['component']} 的检查 {g['probe']} 缺数据 {len(g['days'])} 天：{days}")
    for a in m["agents_silent"]:
        seen = when(a["last_seen"]) if a["last_seen"] else "从未上报"
        out.append(f"采集代理 {a['agent']} 失联（最近心跳：{seen}）")
    for b in m["backups_missed"]:
        kind = BACKUP_NAMES.get(b["kind"], b["kind"])
        out.append(f"{b['component']} 的{kind}未按时完成（截止 {when(b['due'])}）")
    return out or ["本月无遗漏项"]


def title(doc: Mapping[str, Any]) -> str:
    return f"话务平台巡检报告（{month_words(doc['month'])}）"


# --- SVG -------------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start") -> str:
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{INK}">{escape(text)}</text>'
    )


def resource_chart(host: Mapping[str, Any], month_days: Sequence[str]) -> str:
    """Daily CPU, memory and disk of one host: the average as a line with its points, the
    day's min..max as a light band; the x axis is every day of the month (a day without data
    leaves a gap), the y axis 0..100 %."""
    top, plot_h, bottom = 26.0, 180.0, 34.0
    height = top + plot_h + bottom
    n = max(1, len(month_days))
    step = (WIDTH - LABEL - RIGHT) / n

    def x(i: int) -> float:
        return LABEL + step * (i + 0.5)

    def y(pct: float) -> float:
        return top + plot_h * (1 - max(0.0, min(100.0, pct)) / 100)

    body = [f'<rect x="{LABEL}" y="{top}" width="{WIDTH - LABEL - RIGHT}" '
            f'height="{plot_h}" fill="#f7f9fb" stroke="#c9d3dc"/>']  # fmt: skip
    for pct in (0, 25, 50, 75, 100):
        yy = y(pct)
        body.append(f'<line x1="{LABEL}" y1="{_num(yy)}" x2="{WIDTH - RIGHT}" y2="{_num(yy)}" '
                    'stroke="#dde4ea" stroke-width="1"/>')  # fmt: skip
        body.append(_text(LABEL - 6, yy + 4, f"{pct}%", 10, "end"))
    for i, day in enumerate(month_days):
        if i % 5 == 0 or i == n - 1:
            body.append(_text(x(i), top + plot_h + 14, day[5:], 10, "middle"))
    index = {d["day"]: d for d in host["days"]}
    for key, _, color in METRICS:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, day in enumerate(month_days):
            stats = index.get(day, {}).get(key)
            if not stats:
                if runs[-1]:
                    runs.append([])
                continue
            lo_y, hi_y = y(stats["min"]), y(stats["max"])
            body.append(
                f'<rect x="{_num(x(i) - step * 0.3)}" y="{_num(hi_y)}" width="{_num(step * 0.6)}" '
                f'height="{_num(max(1.0, lo_y - hi_y))}" fill="{color}" fill-opacity="0.18">'
                f"<title>{escape(day)} {key} {stats['min']}–{stats['max']}%</title></rect>"
            )
            runs[-1].append((x(i), y(stats["avg"])))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{_num(a)},{_num(b)}" for a, b in run)
                body.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                            'stroke-width="2"/>')  # fmt: skip
            for a, b in run:
                body.append(f'<circle cx="{_num(a)}" cy="{_num(b)}" r="2.5" fill="{color}"/>')
    lx = float(LABEL)
    for _, label, color in METRICS:
        body.append(f'<rect x="{_num(lx)}" y="8" width="14" height="10" fill="{color}"/>')
        body.append(_text(lx + 18, 17, f"{label}（日均，浅色为当日最小–最大）"))
        lx += 230
    label = f"{host['host']} 的 CPU、内存、磁盘使用率（每日）"
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {_num(height)}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet">' + "".join(body) + "</svg>"
    )


def month_days(doc: Mapping[str, Any]) -> list[str]:
    """Every local date of the month (`YYYY-MM-DD`)."""
    import calendar

    year, mon = (int(p) for p in doc["month"].split("-"))
    last = calendar.monthrange(year, mon)[1]
    return [f"{year:04d}-{mon:02d}-{d:02d}" for d in range(1, last + 1)]


# --- HTML ------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int] = frozenset(),
           bad: Sequence[bool] | None = None, css: str = "") -> list[str]:  # fmt: skip
    if not rows:
        return ['<p class="muted">无</p>']
    out = [f'<table class="{css}"><thead><tr>']
    out += [f'<th class="{"num" if i in numeric else ""}">{escape(h)}</th>'
            for i, h in enumerate(header)]  # fmt: skip
    out.append("</tr></thead><tbody>")
    for n, row in enumerate(rows[:MAX_ROWS]):
        cls = ' class="bad"' if bad is not None and bad[n] else ""
        out.append(f"<tr{cls}>")
        out += [f'<td class="{"num" if i in numeric else ""}">{escape(c)}</td>'
                for i, c in enumerate(row)]  # fmt: skip
        out.append("</tr>")
    out.append("</tbody></table>")
    if len(rows) > MAX_ROWS:
        out.append(
            f'<p class="note">另有 {len(rows) - MAX_ROWS} 行未列出（见 DOCX 或接口数据）。</p>'
        )
    return out


def render_html(doc: Mapping[str, Any]) -> str:
    heading = title(doc)
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(heading)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(heading)}</h1>",
        '<p class="meta">'
        f"<span>统计周期：{escape(when(doc['period']['start']))} 至 "
        f"{escape(when(doc['period']['end']))}</span>"
        f"<span>数据截至：{escape(when(doc['as_of']))}</span></p>",
        '<section id="overview"><h2>一、巡检概况</h2>',
    ]
    out += _table(("项目", "内容"), overview(doc), css="overview")
    out.append("</section>")
    out.append('<section id="checks"><h2>二、巡检项状态</h2>')
    out.append(
        '<p class="note">每个组件的每项检查在本月的结果：成功、失败次数，停机，缺数据的天数。</p>'
    )
    out += _table(CHECK_HEADER, check_rows(doc), {3, 4, 5, 6, 7, 8},
                  [c["state"] != "ok" for c in doc["checks"]], css="checks")  # fmt: skip
    out.append("</section>")
    out.append('<section id="resources"><h2>三、主机资源趋势</h2>')
    if not doc["resources"]:
        out.append('<p class="muted">无（本月没有主机资源数据：agent 配置 process 检查，'
                   "目标 system，并设 max_cpu / max_memory_pct / disk）</p>")  # fmt: skip
    days = month_days(doc)
    for host in doc["resources"]:
        out.append(f"<h3>{escape(host['host'])}（{escape(system_name(host['system']))}，"
                   f"采集代理 {escape(host['agent'])}）</h3>")  # fmt: skip
        out.append(f"<figure><figcaption>{escape(host['host'])} 资源使用率</figcaption>")
        out.append(resource_chart(host, days))
        out.append("</figure>")
        out += _table(RESOURCE_HEADER, resource_rows(host), set(range(1, 10)), css="resources")
    out.append("</section>")
    out.append('<section id="certificates"><h2>四、证书有效期</h2>')
    out += _table(CERT_HEADER, cert_rows(doc), {2, 3},
                  [c["days_left"] < 30 for c in doc["certificates"]], css="certs")  # fmt: skip
    out.append("</section>")
    out.append('<section id="backups"><h2>五、备份情况</h2>')
    out += _table(BACKUP_HEADER, backup_rows(doc), {4, 5},
                  [bool(b["missed"]) for b in doc["backups"]], css="backups")  # fmt: skip
    out.append("</section>")
    out.append('<section id="incidents"><h2>六、故障事件</h2>')
    out += _table(INCIDENT_HEADER, incident_rows(doc), css="incidents")
    out.append("</section>")
    out.append('<section id="maintenance"><h2>七、维护窗口</h2>')
    out += _table(WINDOW_HEADER, window_rows(doc), css="windows")
    out.append("</section>")
    out.append('<section id="agents"><h2>八、采集代理</h2>')
    out += _table(AGENT_HEADER, agent_rows(doc), css="agents",
                  bad=[a["silent"] for a in doc["agents"]])  # fmt: skip
    out.append("</section>")
    out.append('<section id="missed"><h2>九、遗漏与缺失</h2><ul class="missed">')
    out += [f"<li>{escape(line)}</li>" for line in missed_lines(doc)]
    out += ["</ul></section>", "</body>", "</html>", ""]
    return "\n".join(out)


# --- Word ------------------------------------------------------------------------------------


def render_docx(doc: Mapping[str, Any], east_asian_font: str = EAST_ASIAN_FONT) -> bytes:
    """The same report as a Word document (.docx bytes); the charts become daily tables."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        docx_fonts(document.styles[name], east_asian_font)
    document.styles["Normal"].font.size = Pt(9)

    def heading(text: str, level: int) -> None:
        docx_fonts(document.add_heading(level=level).add_run(text), east_asian_font)

    def paragraph(text: str) -> None:
        docx_fonts(document.add_paragraph().add_run(text), east_asian_font)

    def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if not rows:
            paragraph("无")
            return
        t = document.add_table(rows=1, cols=len(header))
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, header, strict=True):
            docx_fonts(cell.paragraphs[0].add_run(text), east_asian_font, bold=True)
        for row in rows:
            for cell, text in zip(t.add_row().cells, row, strict=True):
                docx_fonts(cell.paragraphs[0].add_run(text), east_asian_font)

    heading(title(doc), 0)
    paragraph(f"统计周期：{when(doc['period']['start'])} 至 {when(doc['period']['end'])}　　"
              f"数据截至：{when(doc['as_of'])}")  # fmt: skip
    heading("一、巡检概况", 1)
    table(("项目", "内容"), overview(doc))
    heading("二、巡检项状态", 1)
    table(CHECK_HEADER, check_rows(doc))
    heading("三、主机资源趋势", 1)
    if not doc["resources"]:
        paragraph("无（本月没有主机资源数据）")
    for host in doc["resources"]:
        heading(f"{host['host']}（{system_name(host['system'])}，采集代理 {host['agent']}）", 2)
        table(RESOURCE_HEADER, resource_rows(host))
    heading("四、证书有效期", 1)
    table(CERT_HEADER, cert_rows(doc))
    heading("五、备份情况", 1)
    table(BACKUP_HEADER, backup_rows(doc))
    heading("六、故障事件", 1)
    table(INCIDENT_HEADER, incident_rows(doc))
    heading("七、维护窗口", 1)
    table(WINDOW_HEADER, window_rows(doc))
    heading("八、采集代理", 1)
    table(AGENT_HEADER, agent_rows(doc))
    heading("九、遗漏与缺失", 1)
    for line in missed_lines(doc):
        paragraph("• " + line)
    paragraph("巡检人：________　　审核人：________　　日期：________")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
