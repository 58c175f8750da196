"""`hotline inspect` as a process against a real collector process: HTML read back by a real
headless Chromium (laid out without overflow, Chinese text, charts drawn), DOCX read back with
python-docx, and the exit codes of the other client commands."""

from __future__ import annotations

import calendar
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.collector.process import AGENT_TOKEN, REPO, CollectorProcess
from tests.peers.chromium import Chromium, chromium  # noqa: F401

CST = timezone(timedelta(hours=8))


def _last_month() -> tuple[str, int]:
    today = datetime.now(CST).date()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}", calendar.monthrange(year, month)[1]


MONTH, DAYS = _last_month()
MISSED_DAY = 3  # the daily backup of this day was never made


def at(day: int, hour: int) -> datetime:
    year, month = (int(p) for p in MONTH.split("-"))
    return datetime(year, month, day, hour, tzinfo=CST)


def _result(component: str, system: str, probe: str, moment: datetime, ok: bool, value: Any):
    return {
        "component": component,
        "system": system,
        "probe": probe,
        "ts": moment.isoformat(),
        "ok": ok,
        "reason": "ok" if ok else "check_failed",
        "detail": "" if ok else "daily backup: newest file too old",
        "interval": 3600,
        "value": value,
    }


def _month_of_results() -> list[dict[str, Any]]:
    out = []
    for day in range(1, DAYS + 1):
        for hour in (3, 9, 15, 21):
            cpu = 20.0 + day + hour  # rises through the month and the day
            value = {"cpu_pct": cpu, "memory_pct": 45.0 + day / 2, "disk_pct": 60.0 + day / 4}
            out.append(_result("acd-1", "acd", "resources", at(day, hour), True, value))
        made = at(day, 2) if day != MISSED_DAY else at(day - 1, 2)
        age = (at(day, 12) - made).total_seconds() / 3600
        backup = {"backup": "daily", "age_hours": age, "mtime": made.timestamp()}
        out.append(_result("backup-acd", "other", "backup", at(day, 12), day != MISSED_DAY, backup))
        cert = {"cert_days_left": 50.0 - day}
        out.append(_result("cti-1", "other", "web", at(day, 12), True, cert))
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("inspect")
    collector = CollectorProcess(tmp)
    collector.start()
    try:
        body = {"agent": "a1", "batch": "month", "results": _month_of_results()}
        r = httpx.post(
            f"{collector.url}/api/v1/results",
            json=body,
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            timeout=30,
        )
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        base = [sys.executable, "-m", "hotline", "inspect", "--collector", collector.url]
        token = ["--token-file", str(tmp / "ops.token")]

        def inspect(*args: str, with_token: bool = True) -> subprocess.CompletedProcess[str]:
            argv = [*base, *(token if with_token else []), *args]
            env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp)}
            return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env)

        html, docx = tmp / "out" / "inspection.html", tmp / "inspection.docx"
        done = {
            "html": inspect("--month", MONTH, "-o", str(html)),
            "docx": inspect("--month", MONTH, "--format", "docx", "-o", str(docx)),
            "bad_month": inspect("--month", "2026-13"),
            "no_token": inspect("--month", MONTH, with_token=False),
        }
        (tmp / "wrong.token").write_text("not-a-token\n")
        done["wrong_token"] = inspect("--month", MONTH, "--token-file", str(tmp / "wrong.token"))
    finally:
        collector.stop()
    done["unreachable"] = inspect("--month", MONTH)  # the collector is gone
    return {"done": done, "html": html, "docx": docx, "tmp": tmp}


def test_inspect_writes_html_and_docx_and_prints_the_path(written: dict[str, Any]) -> None:
    done = written["done"]
    assert done["html"].returncode == 0, done["html"].stderr
    assert done["html"].stdout.strip() == str(written["html"])
    assert done["docx"].returncode == 0, done["docx"].stderr
    assert written["html"].stat().st_size > 0 and written["docx"].stat().st_size > 0


def test_inspect_exit_codes_are_those_of_the_other_client_commands(
    written: dict[str, Any],
) -> None:
    done = written["done"]
    assert done["bad_month"].returncode == 3 and "--month" in done["bad_month"].stderr
    assert done["no_token"].returncode == 3 and "token" in done["no_token"].stderr
    assert done["wrong_token"].returncode == 3 and "401" in done["wrong_token"].stderr
    assert "not-a-token" not in done["wrong_token"].stderr
    assert done["unreachable"].returncode == 1 and "unreachable" in done["unreachable"].stderr


def test_html_is_self_contained_and_lists_the_missed_backup(written: dict[str, Any]) -> None:
    html = written["html"].read_text("utf-8")
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "话务平台巡检报告" in html
    missed = html[html.index('id="missed"') :]
    due = at(MISSED_DAY, 0) + timedelta(days=1)
    assert f"backup-acd 的每日增量备份未按时完成（截止 {due:%Y-%m-%d %H:%M}）" in missed
    backups = html[html.index('id="backups"') : html.index('id="incidents"')]
    assert "每日增量备份" in backups and f'<td class="num">{DAYS}</td>' in backups
    assert html.count("<svg") == 1  # one host, one chart
    assert "acd-1" in html[html.index('id="resources"') : html.index('id="certificates"')]


_MEASURE = """<script>
(function () {
  var doc = document.documentElement;
  var charts = Array.prototype.map.call(document.querySelectorAll("svg.chart"), function (s) {
    var r = s.getBoundingClientRect();
    return {w: r.width, h: r.height, lines: s.querySelectorAll("polyline").length};
  });
  var wide = Array.prototype.filter.call(document.querySelectorAll("table"), function (t) {
    return t.getBoundingClientRect().right > doc.clientWidth + 1;
  }).length;
  var out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify({scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
    wideTables: wide, charts: charts,
    font: getComputedStyle(document.querySelector("h1")).fontFamily});
  document.body.appendChild(out);
})();
</script>"""


@pytest.mark.parametrize("width", [1200, 800])
def test_html_in_chromium_has_no_overflow_and_draws_the_charts(
    written: dict[str, Any],
    chromium: Chromium,  # noqa: F811
    width: int,
) -> None:
    page = written["tmp"] / f"measured-{width}.html"
    page.write_text(
        written["html"].read_text("utf-8").replace("</body>", _MEASURE + "</body>"), "utf-8"
    )
    done = chromium._run(f"--window-size={width},1600", "--dump-dom", page.as_uri())
    dom = done.stdout.decode("utf-8")
    measured = json.loads(dom.split('<pre id="measured">')[1].split("</pre>")[0])
    assert measured["scrollWidth"] <= measured["clientWidth"], measured
    assert measured["wideTables"] == 0, measured
    [chart] = measured["charts"]
    assert chart["w"] > 0.8 * (width - 60) and chart["h"] > 100
    assert chart["lines"] == 3  # CPU, memory and disk
    assert "Noto Sans CJK SC" in measured["font"]
    assert "巡检概况" in dom and "遗漏与缺失" in dom

    png = written["tmp"] / f"shot-{width}.png"
    chromium.screenshot(written["html"], png, width, 1600)
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 22) or []
    # the CPU line's red is on screen (the chart is drawn, not only in the DOM)
    assert any(r > 180 and g < 110 and b < 110 for _, (r, g, b) in colours)


def test_docx_reads_back_with_the_same_sections(written: dict[str, Any]) -> None:
    from docx import Document

    document = Document(str(written["docx"]))
    text = "\n".join(p.text for p in document.paragraphs)
    for heading in ("一、巡检概况", "三、主机资源趋势", "五、备份情况", "九、遗漏与缺失"):
        assert heading in text
    assert "backup-acd 的每日增量备份未按时完成" in text
    cells = [[c.text for c in row.cells] for t in document.tables for row in t.rows]
    [row] = [r for r in cells if r[0] == "backup-acd" and r[2] == "每日增量备份"]
    assert row[4] == str(DAYS) and row[5] == "1"
    resource_rows = [r for r in cells if r[0] == at(1, 0).strftime("%Y-%m-%d")]
    # day 1: CPU samples 24, 30, 36, 42 → min 24, avg 33, max 42
    assert ["24.0", "33.0", "42.0"] in [r[1:4] for r in resource_rows]
