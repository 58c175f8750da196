"""`hotline score` as a user runs it: a real subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

from tests.scoring.helpers import at, comps, facts, outage

EXAMPLE = Path("configs/examples/2026-11.json")


def hotline(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_on_stdout_is_the_report_alone():
    done = hotline("score", "--facts", str(EXAMPLE), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["month"] == "2026-11"
    assert report["rules"] == "changsha-12345"
    assert report["as_of"] == "2026-12-06T09:00:00+08:00"
    assert set(report["items"]) == {
        "acd_availability",
        "seat_availability",
        "ivr_fault_free",
        "callsys_fault_free",
        "maintenance_hours",
        "fault_response",
        "service_restoration",
    }
    exact = sum(Fraction(str(i["score"])) for i in report["items"].values())
    assert report["total"] == float(exact)


def test_deductions_are_not_errors(tmp_path):
    data = facts(comps("acd-1:acd"), [outage("acd-1", at(3), at(20))])
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data), "utf-8")
    done = hotline("score", "--facts", str(path))
    assert done.returncode == 0
    assert json.loads(done.stdout)["items"]["acd_availability"]["score"] == 0.0


def test_bad_facts_exit_3_with_every_error_on_stderr(tmp_path):
    data = facts(comps("acd-1:acd"), [outage("acd-2", at(3), at(2))])
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data), "utf-8")
    done = hotline("score", "--facts", str(path))
    assert done.returncode == 3
    assert done.stdout == ""
    assert "outages[0].component: unknown component 'acd-2'" in done.stderr
    assert "outages[0].end: before start" in done.stderr


def test_unreadable_or_broken_json_exits_3(tmp_path):
    assert hotline("score", "--facts", str(tmp_path / "missing.json")).returncode == 3
    broken = tmp_path / "broken.json"
    broken.write_text('{"month": ', "utf-8")
    done = hotline("score", "--facts", str(broken))
    assert done.returncode == 3
    assert "line 1" in done.stderr


def test_bad_rules_exit_3(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("id: x\n", "utf-8")
    done = hotline("score", "--facts", str(EXAMPLE), "--rules", str(rules))
    assert done.returncode == 3
    assert "systems: required" in done.stderr


def test_usage_errors_exit_3():
    assert hotline("score").returncode == 3
    assert hotline("score", "--facts", str(EXAMPLE), "--format", "pdf").returncode == 3


def test_output_file_and_markdown_in_chinese(tmp_path):
    out = tmp_path / "report.md"
    done = hotline("score", "--facts", str(EXAMPLE), "--format", "md", "-o", str(out))
    assert done.returncode == 0
    assert done.stdout == ""
    text = out.read_text("utf-8")
    assert "## 得分汇总" in text
    assert "| 排队机可用率 |" in text
    assert "书面报告缺失：事件 INC-2026-11-003" in text
    assert "待与热线中心确认的口径" in text


def test_facts_from_stdin_and_as_of_override():
    data = facts(comps("acd-1:acd"), [outage("acd-1", at(10), None)], as_of=None)
    done = hotline("score", "--facts", "-", "--as-of", at(16), stdin=json.dumps(data))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["as_of"] == at(16)
    assert report["items"]["acd_availability"]["evidence"]["fault_seconds"] == 6 * 86_400


def test_an_unreachable_collector_is_reported_not_a_traceback():
    done = hotline("score", "--collector", "http://127.0.0.1:9", "--month", "2026-11")
    assert done.returncode == 1
    assert "cannot reach the collector" in done.stderr
    assert "Traceback" not in done.stderr
