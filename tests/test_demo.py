"""`hotline demo` end to end, as a newcomer runs it: a real process, exit 0, the report's path
on the last line of stdout, and no process of its own left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil


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


def test_demo_runs_end_to_end_and_leaves_nothing(tmp_path: Path) -> None:
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
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}"

    last = out.strip().splitlines()[-1]
    report = Path(last.split()[-1])
    assert report.is_absolute() and report.is_file(), last
    assert report.suffix == ".html"
    assert str(report).startswith(str(tmp_path / "state")), "state belongs under XDG_STATE_HOME"
    html = report.read_text("utf-8")
    month = re.search(r"(\d{4}-\d{2})\.html$", report.name)
    assert month is not None and month.group(1) in html
    assert "总分" in html or "合计" in html
    # the phases said what they did, and the live fault's alert was printed
    assert "ALERT" in out and "phase 6/6" in out

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
    assert not children and not left, (children, left)
