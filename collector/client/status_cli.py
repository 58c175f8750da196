"""`hotline status [--watch]`: the status page in the terminal (for ssh sessions) — each system's
state and availability today and this month against its target, the seats as a grid, open
incidents with their response and restoration clocks, current and upcoming maintenance windows.

Reads `GET /api/v1/status` and `GET /api/v1/summary` with any agent's or operator's token. With
rich installed the output is coloured tables; without it, plain text. Exit 3 when the request or
token is refused, 1 when the collector is unreachable or failing; `--watch` keeps refreshing
(showing the error) while the collector is unreachable, and stops on a refused token.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.client.common import add_client_arguments

EXIT_USAGE = 3
EXIT_FAILED = 1
ORDER = ("acd", "ivr", "seat", "callsys", "other")
NAMES = {"acd": "排队机", "ivr": "IVR", "seat": "座席终端", "callsys": "话务系统"}
STATE_LABELS = {"up": "正常", "down": "故障", "no_data": "无数据", "maintenance": "维护"}
COLOURS = {"up": "green", "down": "red", "no_data": "grey50", "maintenance": "blue"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=5.0,
        default=None,
        metavar="SECONDS",
        help="refresh every SECONDS (default 5) until Ctrl-C",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the API's JSON (status, summary)"
    )
    parser.add_argument(
        "--plain", action="store_true", help="plain text even when rich is installed"
    )
    add_client_arguments(parser)


# -- what is shown, computed once for both renderings ----------------------------------------
@dataclass
class SystemRow:
    id: str
    name: str
    state: str  # up | down | no_data | maintenance
    text: str
    target: float | None
    today: float | None
    month: float | None
    components: list[tuple[str, str]] = field(default_factory=list)  # (id, shown state)


@dataclass
class View:
    now: datetime
    systems: list[SystemRow]
    incidents: list[dict[str, Any]]  # each with response / restoration clock texts
    windows: list[tuple[str, dict[str, Any]]]  # (进行中 | 计划, window)


def shown_state(component: dict[str, Any]) -> str:
    return "maintenance" if component.get("maintenance") else str(component["state"])


def build_view(status: dict[str, Any], summary: dict[str, Any]) -> View:
    now = datetime.fromisoformat(status["now"])
    by_system: dict[str, list[dict[str, Any]]] = {}
    for c in status["components"]:
        by_system.setdefault(c["system"], []).append(c)
    info = {s["id"]: s for s in summary.get("systems", [])}
    ids = [*ORDER, *(s for s in [*by_system, *info] if s not in ORDER)]
    rows = []
    for sid in dict.fromkeys(ids):
        members = by_system.get(sid, [])
        if not members and sid not in info:
            continue
        s = info.get(sid, {})
        down = [c for c in members if c["state"] == "down" and not c.get("maintenance")]
        maint = [c for c in members if c.get("maintenance")]
        silent = [c for c in members if c["state"] == "no_data"]
        n = len(members)
        if not members:
            state, text = "no_data", "无组件"
        elif down:
            state, text = "down", f"故障 {len(down)}/{n}"
        elif maint:
            state, text = "maintenance", f"维护 {len(maint)}/{n}"
        elif len(silent) == n:
            state, text = "no_data", "无数据"
        else:
            state, text = "up", f"正常 {n - len(silent)}/{n}"
        rows.append(
            SystemRow(
                id=sid,
                name=s.get("name") or NAMES.get(sid, sid),
                state=state,
                text=text,
                target=s.get("target"),
                today=(s.get("today") or {}).get("value"),
                month=(s.get("month") or {}).get("value"),
                components=[(c["id"], shown_state(c)) for c in members],
            )
        )
    limits = summary.get("limits", {})
    incidents = []
    for inc in status.get("open_incidents", []):
        lim = limits.get(inc.get("severity"), {})
        incidents.append(
            {
                **inc,
                "response_clock": clock_text(now, inc, "responded_at", lim.get("response")),
                "restoration_clock": clock_text(now, inc, "restored_at", lim.get("restoration")),
            }
        )
    maintenance = summary.get("maintenance", {})
    windows = [("进行中", w) for w in maintenance.get("current", [])]
    windows += [("计划", w) for w in maintenance.get("upcoming", [])]
    return View(now, rows, incidents, windows)


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    return (f"{h}时" if h else "") + (f"{m}分" if h or m else "") + f"{sec}秒"


def clock_text(now: datetime, inc: dict[str, Any], stop_key: str, limit: float | None) -> str:
    """`用时 …` once stopped, else `计时 …` / `已超时 …`, against the limit."""
    if limit is None:
        return "—"
    start = datetime.fromisoformat(inc["detected_at"])
    stop = inc.get(stop_key)
    if stop:
        took = (datetime.fromisoformat(stop) - start).total_seconds()
        return f"用时 {duration(took)} / 限 {duration(limit)}" + (" 超时" if took > limit else "")
    gone = (now - start).total_seconds()
    head = "已超时" if gone > limit else "计时"
    return f"{head} {duration(gone)} / 限 {duration(limit)}"


def pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{math.floor(value * 10000) / 100:.2f}%"  # truncated: never shows a missed target met


def _short(ts: str) -> str:
    return datetime.fromisoformat(ts).strftime("%m-%d %H:%M")


# -- plain text ------------------------------------------------------------------------------
def render_plain(view: View) -> str:
    out = [f"热线平台运行状态  {view.now:%Y-%m-%d %H:%M:%S}", ""]
    for s in view.systems:
        avail = ""
        if s.target is not None:
            avail = f"  今日 {pct(s.today)}  本月 {pct(s.month)}  目标 {pct(s.target)}"
        out.append(f"{s.name:<10} {s.text}{avail}")
        if s.id != "seat":
            for cid, state in s.components:
                out.append(f"    {cid}  {STATE_LABELS.get(state, state)}")
    seats = next((s for s in view.systems if s.id == "seat"), None)
    if seats and seats.components:
        out += ["", "座席终端："]
        marks = {"up": "■", "down": "✗", "no_data": "·", "maintenance": "◆"}
        out.append(
            "  ".join(f"{cid}{marks.get(state, '?')}" for cid, state in seats.components)
            + "   (■正常 ✗故障 ·无数据 ◆维护)"
        )
    out += ["", "故障事件（未恢复）："]
    for inc in view.incidents:
        out.append(
            f"  {inc['id']}  {inc['severity']}  {','.join(inc['components'])}  "
            f"发现 {_short(inc['detected_at'])}  响应 {inc['response_clock']}  "
            f"恢复 {inc['restoration_clock']}"
        )
    if not view.incidents:
        out.append("  无")
    out += ["", "维护窗口："]
    for kind, w in view.windows:
        out.append(
            f"  {w['id']}  {kind}  {','.join(w['components'])}  "
            f"{_short(w['start'])} → {_short(w['end'])}  {w.get('reason', '')}"
        )
    if not view.windows:
        out.append("  无（未来7天）")
    return "\n".join(out)


# -- rich ------------------------------------------------------------------------------------
def render_rich(view: View) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    def state_text(state: str, label: str | None = None) -> Text:
        return Text(label or STATE_LABELS.get(state, state), style=f"bold {COLOURS[state]}")

    def avail(value: float | None, target: float | None) -> Text:
        style = "" if value is None or target is None else "green" if value >= target else "red"
        return Text(pct(value), style=style)

    systems = Table(title=f"热线平台运行状态  {view.now:%Y-%m-%d %H:%M:%S}", expand=True)
    for head in ("系统", "状态", "今日可用率", "本月可用率", "目标", "组件"):
        systems.add_column(head)
    for s in view.systems:
        parts = Text()
        if s.id != "seat":
            for cid, state in s.components:
                parts.append(f"{cid} ", style=COLOURS[state])
        systems.add_row(
            s.name,
            state_text(s.state, s.text),
            avail(s.today, s.target),
            avail(s.month, s.target),
            pct(s.target),
            parts,
        )
    parts: list[Any] = [systems]
    seats = next((s for s in view.systems if s.id == "seat"), None)
    if seats and seats.components:
        grid = Text("座席终端  ")
        for cid, state in seats.components:
            grid.append(f" {cid} ", style=f"white on {COLOURS[state]}")
            grid.append(" ")
        parts.append(grid)
    incidents = Table(title="故障事件（未恢复）", expand=True)
    for head in ("编号", "级别", "组件", "发现", "响应", "恢复"):
        incidents.add_column(head)
    for inc in view.incidents:
        incidents.add_row(
            inc["id"],
            inc["severity"],
            ",".join(inc["components"]),
            _short(inc["detected_at"]),
            Text(inc["response_clock"], style="red" if "超时" in inc["response_clock"] else ""),
            Text(
                inc["restoration_clock"], style="red" if "超时" in inc["restoration_clock"] else ""
            ),
        )
    if not view.incidents:
        incidents.add_row("无", "", "", "", "", "")
    windows = Table(title="维护窗口", expand=True)
    for head in ("编号", "状态", "组件", "开始", "结束", "原因"):
        windows.add_column(head)
    for kind, w in view.windows:
        windows.add_row(
            w["id"],
            Text(kind, style="blue" if kind == "进行中" else ""),
            ",".join(w["components"]),
            _short(w["start"]),
            _short(w["end"]),
            w.get("reason", ""),
        )
    if not view.windows:
        windows.add_row("无（未来7天）", "", "", "", "", "")
    return Group(*parts, incidents, windows)


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


# -- the command -----------------------------------------------------------------------------
def fetch(client: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return client.call("GET", "/api/v1/status"), client.call("GET", "/api/v1/summary")


def run(args: argparse.Namespace) -> int:
    from collector.client.http import ClientError, CollectorClient, read_token

    if args.watch is not None and args.watch <= 0:
        print("hotline status: --watch SECONDS must be positive", file=sys.stderr)
        return EXIT_USAGE
    use_rich = not args.plain and not args.json and _rich_available()
    try:
        with CollectorClient(args.collector, read_token(args.token_file)) as client:
            if args.watch is None:
                status, summary = fetch(client)
                _print(status, summary, args.json, use_rich)
                return 0
            return _watch(client, args, use_rich)
    except ClientError as exc:
        print(f"hotline status: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.usage else EXIT_FAILED


def _print(status: dict[str, Any], summary: dict[str, Any], as_json: bool, use_rich: bool) -> None:
    if as_json:
        print(json.dumps({"status": status, "summary": summary}, ensure_ascii=False, indent=2))
    elif use_rich:
        from rich.console import Console

        Console().print(render_rich(build_view(status, summary)))
    else:
        print(render_plain(build_view(status, summary)))


def _watch(client: Any, args: argparse.Namespace, use_rich: bool) -> int:
    """Refresh until Ctrl-C; an unreachable collector is shown and retried, a refused token
    ends the command (exit 3)."""
    from collector.client.http import ClientError

    def frame() -> Any:
        try:
            status, summary = fetch(client)
        except ClientError as exc:
            if exc.usage:
                raise
            message = f"{exc} — 每 {args.watch:g} 秒重试"
            if use_rich:
                from rich.text import Text

                return Text(message, style="bold red")
            return message
        if args.json:
            return json.dumps({"status": status, "summary": summary}, ensure_ascii=False)
        view = build_view(status, summary)
        return render_rich(view) if use_rich else render_plain(view)

    try:
        if use_rich:
            from rich.live import Live

            with Live(frame(), auto_refresh=False, screen=sys.stdout.isatty()) as live:
                while True:
                    time.sleep(args.watch)
                    live.update(frame(), refresh=True)
        while True:
            shown = frame()
            if sys.stdout.isatty() and not args.json:
                print("\033[2J\033[H", end="")
            print(shown, flush=True)
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0
