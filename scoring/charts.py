"""The report's pictures as inline SVG text: no library, no font files, no external references.

Three charts: the month's timeline per system (fault and maintenance in different colours, no
data hatched), each availability item's daily availability against its target, and each
incident's response and restoration time against its limit. Hatching is drawn as lines, not a
pattern, so the SVG refers to nothing (no `url(#…)`), and text uses the page's CJK font.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction
from html import escape
from typing import Any

from scoring.breakdown import Breakdown, Day, Lane
from scoring.intervals import IntervalSet
from scoring.present import duration, instant, measure_of, percent_down
from scoring.rules import Rules
from scoring.values import EPOCH, US_PER_SECOND, instant_us

FAULT = "#d64541"
MAINTENANCE = "#3a78c9"
NO_DATA = "#8c8c8c"
WORKING = "#e9eef2"
GOOD = "#3d9a5b"
PENDING = "#b8b8b8"
INK = "#333"

WIDTH = 960
LABEL = 120
RIGHT = 16
MAX_TITLED = 300  # hover titles per chart; more would only weigh the file


def _x(us: int, lo: int, hi: int) -> float:
    return LABEL + (WIDTH - LABEL - RIGHT) * (us - lo) / (hi - lo)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _hatch(x0: float, x1: float, y0: float, y1: float, color: str, gap: float = 4.0) -> str:
    """Diagonal hatching inside a rectangle, as explicit line segments."""
    h = y1 - y0
    segs = []
    x = x0 - h
    while x < x1:
        t0 = max(0.0, (x0 - x) / h)
        t1 = min(1.0, (x1 - x) / h)
        if t1 > t0:
            segs.append(
                f"M{_num(x + t0 * h)} {_num(y1 - t0 * h)}L{_num(x + t1 * h)} {_num(y1 - t1 * h)}"
            )
        x += gap
    if not segs:
        return ""
    return f'<path d="{"".join(segs)}" stroke="{color}" stroke-width="1" fill="none"/>'


def _svg(height: float, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {_num(height)}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start", **kw: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in kw.items())
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{INK}"{extra}>{escape(text)}</text>'
    )


def _legend(y: float, entries: Sequence[tuple[str, str, bool]]) -> list[str]:
    out = []
    x = float(LABEL)
    for color, text, hatched in entries:
        if hatched:
            out.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="14" height="10" fill="#f2f2f2"/>')
            out.append(_hatch(x, x + 14, y, y + 10, color, 3))
        else:
            out.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="14" height="10" fill="{color}"/>')
        out.append(_text(x + 18, y + 9, text))
        x += 30 + 12 * len(text)
    return out


# --- the month's timeline ---------------------------------------------------------------------


def timeline(details: Breakdown, month_start: int, month_end: int, rules: Rules) -> str:
    """A lane per system, then a lane per component: fault red, maintenance blue, no data hatched
    grey, working time shaded; after `as_of` (month still running) nothing is drawn."""
    lanes: list[tuple[Lane, bool]] = [(lane, True) for lane in details.system_lanes]
    lanes += [(lane, False) for lane in details.component_lanes]
    lane_h, gap, top = 14.0, 5.0, 34.0
    height = top + len(lanes) * (lane_h + gap) + 28 + (14 if details.component_lanes else 0)
    body = _legend(
        6,
        [
            (FAULT, "故障", False),
            (MAINTENANCE, "维护", False),
            (NO_DATA, "无数据", True),
            (WORKING, "工作时间（无停机）", False),
        ],
    )
    lo, hi = month_start, month_end
    y = top
    titled = 0
    for n, (lane, is_system) in enumerate(lanes):
        if n == len(details.system_lanes) and details.component_lanes:
            y += 14
            body.append(_text(4, y - 4, "各组件：", 10))
        label = lane.label if is_system else lane.label[:18]
        body.append(_text(LABEL - 6, y + lane_h - 3, label, 11 if is_system else 10, "end"))
        for s, e in lane.working:
            body.append(_rect(s, e, lo, hi, y, lane_h, WORKING))
        for s, e in lane.no_data:
            x0, x1 = _span(s, e, lo, hi)
            body.append(
                f'<rect x="{_num(x0)}" y="{_num(y)}" width="{_num(x1 - x0)}" '
                f'height="{_num(lane_h)}" fill="#f2f2f2"/>'
            )
            body.append(_hatch(x0, x1, y, y + lane_h, NO_DATA))
        for spans, color, word in (
            (lane.maintenance, MAINTENANCE, "维护"),
            (lane.fault, FAULT, "故障"),
        ):
            for s, e in spans:
                title = None
                if titled < MAX_TITLED:
                    titled += 1
                    title = (
                        f"{lane.label} {word} {instant(s, rules)} 至 {instant(e, rules)}"
                        f"（{duration(e - s)}）"
                    )
                body.append(_rect(s, e, lo, hi, y, lane_h, color, title))
        y += lane_h + gap
    # Axis: a tick per day, a label every few days.
    p_end = details.period[1]
    if p_end < hi:
        x0, x1 = _span(p_end, hi, lo, hi)
        body.append(_text(x0 + 4, top - 6, "（统计截至此处）", 10))
        body.append(
            f'<line x1="{_num(x0)}" y1="{_num(top - 4)}" x2="{_num(x0)}" y2="{_num(y)}" '
            f'stroke="{INK}" stroke-dasharray="3 2"/>'
        )
    body.extend(_day_axis(lo, hi, y + 2, rules))
    return _svg(height, body, "本月各系统停机时间轴")


def _span(s: int, e: int, lo: int, hi: int) -> tuple[float, float]:
    x0, x1 = _x(max(s, lo), lo, hi), _x(min(e, hi), lo, hi)
    if x1 - x0 < 1.5:  # a short outage stays visible
        x1 = x0 + 1.5
    return x0, x1


def _rect(
    s: int, e: int, lo: int, hi: int, y: float, h: float, color: str, title: str | None = None
) -> str:
    x0, x1 = _span(s, e, lo, hi)
    rect = (
        f'<rect x="{_num(x0)}" y="{_num(y)}" width="{_num(x1 - x0)}" height="{_num(h)}" '
        f'fill="{color}"'
    )
    return rect + (f"><title>{escape(title)}</title></rect>" if title else "/>")


def _day_axis(lo: int, hi: int, y: float, rules: Rules) -> list[str]:
    out = [
        f'<line x1="{LABEL}" y1="{_num(y)}" x2="{WIDTH - RIGHT}" y2="{_num(y)}" stroke="{INK}"/>'
    ]
    start = (EPOCH + timedelta(microseconds=lo)).astimezone(rules.tz)
    day = 0
    us = lo
    while us <= hi:
        x = _x(us, lo, hi)
        number = (start + timedelta(days=day)).day
        major = number == 1 or number % 5 == 0
        out.append(
            f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x)}" '
            f'y2="{_num(y + (6 if major else 3))}" stroke="{INK}"/>'
        )
        if major and us < hi:
            out.append(_text(x, y + 17, f"{number}日", 10, "middle"))
        day += 1
        us = lo + day * 86_400 * US_PER_SECOND
    return out


# --- daily availability -------------------------------------------------------------------------


def daily(report: dict[str, Any], details: Breakdown, rules: Rules) -> str:
    """A panel per availability item: a bar per day, red below the item's target."""
    panels = [(key, days) for key, days in details.daily.items() if days]
    panel_h, top = 110.0, 26.0
    height = top + len(panels) * (panel_h + 26) + 4
    body = _legend(6, [(GOOD, "达到目标", False), (FAULT, "低于目标", False)])
    body.append(_text(WIDTH - RIGHT, 15, "虚线：目标值", 10, "end"))
    y = top
    for key, days in panels:
        item = report["items"][key]
        target = Fraction(str(item["target"]))
        values = [d.availability for d in days if d.availability is not None]
        floor_ = min([target - Fraction(1, 100), *values])
        lo = max(Fraction(0), Fraction(int(floor_ * 100) - (1 if floor_ * 100 % 1 else 0), 100))
        if lo >= 1:
            lo = Fraction(99, 100)
        body.append(_text(4, y + 12, item["name"], 12, font_weight="bold"))
        body.append(_text(LABEL - 6, y + 24, "100%", 9, "end"))
        body.append(_text(LABEL - 6, y + panel_h, f"{float(lo) * 100:g}%", 9, "end"))
        plot_top, plot_bottom = y + 20, y + panel_h
        body.append(
            f'<rect x="{LABEL}" y="{_num(plot_top)}" width="{WIDTH - LABEL - RIGHT}" '
            f'height="{_num(plot_bottom - plot_top)}" fill="none" stroke="#ccc"/>'
        )

        def to_y(
            v: Fraction, lo: Fraction = lo, top: float = plot_top, bottom: float = plot_bottom
        ) -> float:
            return bottom - float((v - lo) / (1 - lo)) * (bottom - top)

        slot = (WIDTH - LABEL - RIGHT) / max(len(days), 28)
        for n, day in enumerate(days):
            x = LABEL + n * slot + 1
            v = day.availability
            if v is None:
                continue
            color = GOOD if v >= target else FAULT
            yv = to_y(max(v, lo))
            title = (
                f"{_day_label(day, rules)} 可用率 {percent_down(float(v))}"
                f"（故障 {duration(day.fault_us)} / 工作 {duration(day.working_us)}）"
            )
            body.append(
                f'<rect x="{_num(x)}" y="{_num(yv)}" width="{_num(max(slot - 2, 1))}" '
                f'height="{_num(max(plot_bottom - yv, 0.8))}" fill="{color}">'
                f"<title>{escape(title)}</title></rect>"
            )
            if n % 5 == 4 or n == 0:
                body.append(
                    _text(
                        x + slot / 2 - 1,
                        plot_bottom + 12,
                        _day_label(day, rules)[8:10],
                        9,
                        "middle",
                    )
                )
        ty = to_y(target)
        body.append(
            f'<line x1="{LABEL}" y1="{_num(ty)}" x2="{WIDTH - RIGHT}" y2="{_num(ty)}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/>'
        )
        body.append(_text(WIDTH - RIGHT - 2, ty - 3, f"目标 {float(target) * 100:g}%", 9, "end"))
        y += panel_h + 26
    return _svg(height, body, "各系统每日可用率与目标")


def _day_label(day: Day, rules: Rules) -> str:
    return (EPOCH + timedelta(microseconds=day.start)).astimezone(rules.tz).strftime("%Y-%m-%d")


# --- incidents --------------------------------------------------------------------------------


def incidents(report: dict[str, Any], rules: Rules) -> str | None:
    """Per counted incident, response and restoration time as a share of the limit (1 = 时限)."""
    rows = _incident_rows(report, rules)
    if not rows:
        return None
    as_of = instant_us(report["as_of"])
    worst = 1.0
    bars: list[tuple[str, str, float, str, str]] = []
    for iid, measure, row in rows:
        limit = float(row["limit_seconds"])
        elapsed = row["elapsed_seconds"]
        open_ = elapsed is None
        if open_:
            elapsed = (as_of - instant_us(row["detected_at"])) / US_PER_SECOND
        ratio = elapsed / limit if limit else 0.0
        worst = max(worst, ratio)
        word = "响应" if measure == "response" else "恢复"
        status = row["status"]
        text = (
            f"{word} {duration(int(elapsed * US_PER_SECOND))}{'（未完成）' if open_ else ''}"
            f" / 时限 {duration(int(limit * US_PER_SECOND))}"
        )
        bars.append((iid, word, ratio, status, text))
    scale = min(max(2.0, worst * 1.05), 4.0)
    bar_h, top = 11.0, 30.0
    plot_w = WIDTH - LABEL - RIGHT - 250
    height = top + len(bars) * (bar_h + 4) + len({b[0] for b in bars}) * 6 + 24
    body = _legend(
        6,
        [
            (GOOD, "及时", False),
            (FAULT, "超时", False),
            (FAULT, "未完成且超时", True),
            (PENDING, "未到时限", False),
        ],
    )
    y = top
    previous = None
    for iid, word, ratio, status, text in bars:
        if iid != previous:
            y += 6
            body.append(_text(LABEL - 6, y + bar_h - 1, iid[:20], 10, "end"))
            previous = iid
        body.append(_text(LABEL + 2, y + bar_h - 1, word, 9))
        x0 = LABEL + 28
        width = plot_w * min(ratio, scale) / scale
        color = {"timely": GOOD, "pending": PENDING}.get(status, FAULT)
        if status == "missing":
            body.append(
                f'<rect x="{_num(x0)}" y="{_num(y)}" width="{_num(max(width, 1))}" '
                f'height="{_num(bar_h)}" fill="#f6dcdc"/>'
            )
            body.append(_hatch(x0, x0 + max(width, 1), y, y + bar_h, FAULT, 3))
        else:
            body.append(
                f'<rect x="{_num(x0)}" y="{_num(y)}" width="{_num(max(width, 1))}" '
                f'height="{_num(bar_h)}" fill="{color}"/>'
            )
        if ratio > scale:
            body.append(_text(x0 + width + 3, y + bar_h - 1, "»", 11))
        body.append(_text(LABEL + 28 + plot_w + 14, y + bar_h - 1, text, 9))
        y += bar_h + 4
    limit_x = LABEL + 28 + plot_w / scale
    body.append(
        f'<line x1="{_num(limit_x)}" y1="{_num(top)}" x2="{_num(limit_x)}" y2="{_num(y + 2)}" '
        f'stroke="{INK}" stroke-dasharray="4 3"/>'
    )
    body.append(_text(limit_x, y + 16, "时限", 10, "middle"))
    body.append(_text(LABEL + 28 + plot_w, y + 16, f"{scale:g}×时限", 10, "end"))
    return _svg(height, body, "故障事件响应与恢复用时对照时限")


def _incident_rows(report: dict[str, Any], rules: Rules) -> list[tuple[str, str, dict[str, Any]]]:
    """(incident id, measure, evidence row) for the response and restoration items."""
    by_id: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for key, item in report["items"].items():
        measure = measure_of(key, rules)
        if measure not in ("response", "restoration") or item["value"] is None:
            continue
        for row in item["evidence"]["incidents"]:
            by_id.setdefault(row["id"], []).append((row["id"], measure, row))
    out = []
    for rows in by_id.values():
        out.extend(sorted(rows, key=lambda r: r[1] != "response"))
    return out


def spans_text(spans: IntervalSet, rules: Rules) -> str:
    return "；".join(f"{instant(s, rules)} 至 {instant(e, rules)}" for s, e in spans)
