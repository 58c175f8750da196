"""`hotline demo` end to end, as a newcomer runs it: a real process, exit 0, the report's path
on the last line of stdout, and no process of its own left behind; the inspection report it
writes beside the monthly report laid out in headless Chromium. The demo runs once (module
fixture), its checks read what it left."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from hotline.demo.history import BACKUP_COMPONENT, MISSED_BACKUP_DAY
from tests.peers.chromium import Chromium, chromium  # noqa: F401


def _descendants_of(pids: set[int]) -> set[int]:
    """Every live process whose ancestry reaches one of `pids`, or in their process groups."""
    found = set()
    for proc in psutil.process_iter(["pid", "ppid"]):
        try:
            chain = [p.pid for p in proc.parents()]
            if set(chain) & pids:
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of `hotline demo`: its exit status, output, and the processes left after it."""
    tmp_path = tmp_path_factory.mktemp("demo")
    before = {p.pid for p in psutil.process_iter()}
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    children: set[int] = set()
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            children = _descendants_of({proc.pid})
            proc.kill()
            proc.wait()

    # nothing it started is left: every process the demo starts works in a directory under
    # tmp_path (TMPDIR points there), so any new process found there is a leftover
    left = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if p.pid in before:
            continue
        try:
            if p.cwd().startswith(str(tmp_path)):
                left.append((p.pid, p.info["cmdline"]))
        except psutil.Error:
            continue
    return {"tmp": tmp_path, "returncode": proc.returncode, "out": out, "err": err,
            "children": children, "left": left}  # fmt: skip


def _report(demo: dict[str, Any]) -> Path:
    out, err = demo["out"], demo["err"]
    assert demo["returncode"] == 0, f"exit {demo['returncode']}\n{out[-3000:]}\n{err[-3000:]}"
    return Path(out.strip().splitlines()[-1].split()[-1])


def test_demo_runs_end_to_end_and_leaves_nothing(demo: dict[str, Any]) -> None:
    tmp_path, out = demo["tmp"], demo["out"]
    last = out.strip().splitlines()[-1]
    report = _report(demo)
    assert report.is_absolute() and report.is_file(), last
    assert report.suffix == ".html"
    assert str(report).startswith(str(tmp_path / "state")), "state belongs under XDG_STATE_HOME"
    html = report.read_text("utf-8")
    month = re.search(r"(\d{4}-\d{2})\.html$", report.name)
    assert month is not None and month.group(1) in html
    assert "总分" in html or "合计" in html
    # the phases said what they did, and the live fault's alert was printed
    assert "ALERT" in out and "phase 6/6" in out
    assert not demo["children"] and not demo["left"], (demo["children"], demo["left"])


# Appended to a copy of the inspection report (it has no script of its own): what was laid out.
_MEASURE = """<script>
(function () {
  var doc = document.documentElement;
  function box(e) { var r = e.getBoundingClientRect(); return {w: r.width, h: r.height}; }
  var charts = Array.prototype.map.call(document.querySelectorAll("svg.chart"), function (s) {
    var lines = Array.prototype.filter.call(s.querySelectorAll("polyline"), function (p) {
      var b = box(p);
      return b.w > 0 && p.points.numberOfItems > 1;
    });
    return {box: box(s), lines: lines.length};
  });
  var missed = Array.prototype.map.call(document.querySelectorAll("#missed li"), function (li) {
    return {text: li.innerText, box: box(li)};
  });
  var out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify({scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
    title: document.querySelector("h1").innerText, charts: charts, missed: missed,
    font: getComputedStyle(document.querySelector("h1")).fontFamily});
  document.body.appendChild(out);
})();
</script>"""


def test_the_demo_months_inspection_report_renders_in_chromium(
    demo: dict[str, Any],
    chromium: Chromium,  # noqa: F811
) -> None:
    report = _report(demo)
    month = report.name.removesuffix(".html")[-7:]
    [line] = [x for x in demo["out"].splitlines() if "巡检报告" in x]
    inspection = Path(line.split()[-1])
    assert inspection == report.parent / f"hotline-inspection-{month}.html", line
    assert inspection.is_file()

    page = demo["tmp"] / "inspection-measured.html"
    html = inspection.read_text("utf-8")
    page.write_text(html.replace("</body>", _MEASURE + "</body>"), "utf-8")
    done = chromium._run("--window-size=1200,1600", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    dom = done.stdout.decode("utf-8")
    measured = json.loads(dom.split('<pre id="measured">')[1].split("</pre>")[0])

    year, number = month.split("-")
    assert measured["title"] == f"话务平台巡检报告（{year}年{int(number)}月）"
    assert "Noto Sans CJK SC" in measured["font"]
    assert measured["scrollWidth"] <= measured["clientWidth"], measured
    drawn = [c for c in measured["charts"] if c["lines"] and c["box"]["w"] > 500]
    assert drawn, measured["charts"]  # a host's CPU/memory/disk lines, laid out
    assert all(c["box"]["h"] > 100 for c in drawn)
    due = f"{month}-{MISSED_BACKUP_DAY + 1:02d} 00:00"
    listed = [m for m in measured["missed"] if m["box"]["h"] > 0]
    assert f"{BACKUP_COMPONENT[0]} 的每日增量备份未按时完成（截止 {due}）" in [
        m["text"] for m in listed
    ], measured["missed"]
