"""`hotline score` as a user runs it: a real subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

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
    assert hotline("score", "--facts", str(EXAMPLE), "--format", "docx").returncode == 3
    for binary in ("xlsx", "pdf"):  # a workbook or a PDF is written to a file, not a terminal
        done = hotline("score", "--facts", str(EXAMPLE), "--format", binary)
        assert done.returncode == 3
        assert "needs -o FILE" in done.stderr


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


EXAMPLE_TEXT = EXAMPLE.read_text("utf-8")
HOSTILE_FACTS = {
    "severity-list": (
        EXAMPLE_TEXT.replace('"severity": "P1"', '"severity": ["P1"]', 1),
        "incidents[0].severity: must be one of P1, P2, P3 or null, not a list",
    ),
    "system-list": (
        EXAMPLE_TEXT.replace('"system": "acd"', '"system": ["acd"]', 1),
        "components[0].system: must be one of acd, ivr, seat, callsys, other, not a list",
    ),
    "nested-100000": ("[" * 100_000 + "]" * 100_000, "nested too deep"),
    "5000-digits": (
        EXAMPLE_TEXT.replace('"month": "2026-11"', '"month": 1' + "0" * 5000, 1),
        "a number with more than 4300 digits",
    ),
    "as-of-9999": (
        EXAMPLE_TEXT.replace("2026-12-06T09:00:00+08:00", "9999-12-31T23:00:00-12:00", 1),
        "as_of: outside the accepted range 1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z",
    ),
    "month-0001": (
        EXAMPLE_TEXT.replace('"month": "2026-11"', '"month": "0001-01"', 1),
        "month: outside the accepted range 1970-01 to 2199-12",
    ),
    "duplicate-key": (
        EXAMPLE_TEXT.replace('"severity": "P1"', '"severity": "P1", "severity": "P3"', 1),
        "incidents[0].severity: duplicate key",
    ),
    "not-json": ("month: 2026-11\n", "line 1, column 1: Expecting value"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FACTS))
def test_hostile_facts_exit_3_naming_the_field_without_a_traceback(tmp_path, case):
    text, error = HOSTILE_FACTS[case]
    path = tmp_path / "facts.json"
    path.write_text(text, "utf-8")
    done = hotline("score", "--facts", str(path))
    assert done.returncode == 3, done.stderr[-2000:]
    assert error in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_facts_that_are_not_utf8_exit_3(tmp_path):
    path = tmp_path / "facts.json"
    path.write_bytes(b'{"month": "2026-11\xff"}')
    done = hotline("score", "--facts", str(path))
    assert done.returncode == 3
    assert "not UTF-8 text" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "score", "--facts", "-"],
        input=b'{"month": "\xff"}',
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert b"(stdin): not UTF-8 text" in done.stderr


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
                for i in range(8)
            ),
            "its aliases expand to more than 100,000 values",
        ),
        (
            Path("configs/rules/changsha-12345.yaml")
            .read_text("utf-8")
            .replace("  default: P2\n", "  default: P2\n  default: P3\n"),
            "duplicate key 'default'",
        ),
    ],
    ids=["billion-laughs", "duplicate-key"],
)
def test_hostile_rules_exit_3_without_a_traceback(tmp_path, text, error):
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, "utf-8")
    done = hotline("score", "--facts", str(EXAMPLE), "--rules", str(rules))
    assert done.returncode == 3
    assert error in done.stderr
    assert "Traceback" not in done.stderr


def test_a_month_without_data_opens_the_markdown_report_with_the_coverage_warning(tmp_path):
    data = json.loads(EXAMPLE_TEXT)
    data["no_data"] = [
        {"component": c["id"], "start": at(1), "end": "2026-12-01T00:00:00+08:00"}
        for c in data["components"]
    ]
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data), "utf-8")
    done = hotline("score", "--facts", str(path), "--format", "md")
    assert done.returncode == 0, done.stderr
    head = done.stdout[: done.stdout.index("## 得分汇总")]
    assert "监测覆盖不足" in head
    assert "> - 排队机（`acd`）：监测覆盖率 **0.0000%**" in head
    done = hotline("score", "--facts", str(path), "--format", "json")
    items = json.loads(done.stdout)["items"]
    assert {key: item["coverage"] for key, item in items.items()} == dict.fromkeys(items, 0.0)
