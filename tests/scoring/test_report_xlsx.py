"""The XLSX report: the summary sheet first, numbers as numbers equal to the JSON's."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import openpyxl
import pytest

from scoring import parse_facts, score
from scoring.breakdown import breakdown
from scoring.report_xlsx import render_xlsx
from tests.scoring.helpers import RULES
from tests.scoring.months import MONTHS, november


def _book(data):
    parsed = parse_facts(data, RULES)
    report = score(parsed, RULES)
    raw = render_xlsx(report, RULES, breakdown(parsed, RULES))
    return report, openpyxl.load_workbook(io.BytesIO(raw))


def _table(sheet):
    rows = list(sheet.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


@pytest.mark.parametrize("name", sorted(MONTHS))
def test_the_first_sheet_has_a_row_per_item_with_its_score_under_得分(name):
    report, book = _book(MONTHS[name]())
    sheet = book.worksheets[0]
    assert sheet.title == "汇总"
    header, rows = _table(sheet)
    score_col, value_col = header.index("得分"), header.index("实际值")
    deduction_col = header.index("扣分")
    by_name = {row[0]: row for row in rows if row and row[0]}
    for key, item in report["items"].items():
        row = by_name[item["name"]]
        assert row[1] == key
        assert isinstance(row[score_col], int | float)
        assert row[score_col] == item["score"]  # exactly: no digit lost
        assert row[deduction_col] == item["deduction"]
        assert row[value_col] == item["value"]
        assert row[header.index("监测覆盖率")] == item["coverage"]
    assert by_name["合计"][score_col] == report["total"]


def test_every_section_has_its_sheet():
    report, book = _book(november())
    assert book.sheetnames == [
        "汇总",
        "标记",
        "监测覆盖率",
        "停机明细",
        "维护窗口",
        "故障事件",
        "每日可用率",
    ]
    header, rows = _table(book["标记"])
    assert len(rows) == len(report["flags"])
    named = {row[3] for row in rows} | {row[4] for row in rows}
    assert {"INC-11-2", "INC-11-3", "mw-late"} <= named
    header, rows = _table(book["停机明细"])
    ivr = next(r for r in rows if r[0] == "ivr-1")
    assert ivr[header.index("故障(秒)")] == 2400.25
    assert ivr[header.index("维护(秒)")] == 3000
    header, rows = _table(book["监测覆盖率"])
    assert {r[1]: r[2] for r in rows} == {
        system: row["coverage"] for system, row in report["coverage"].items()
    }


def test_daily_fault_seconds_add_up_to_the_items_fault_seconds():
    report, book = _book(november())
    header, rows = _table(book["每日可用率"])
    for item in report["items"].values():
        column = f"{item['name']} 故障(秒)"
        if column in header:
            total = sum(
                r[header.index(column)]
                for r in rows
                if r and isinstance(r[0], str) and r[0][:2] == "20"
            )
            assert total == pytest.approx(item["evidence"]["fault_seconds"], abs=1e-6)


def test_hotline_score_writes_the_workbook(tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(november()), "utf-8")
    out = tmp_path / "report.xlsx"
    run = [sys.executable, "-m", "hotline", "score", "--facts", str(path)]
    done = subprocess.run([*run, "--format", "xlsx", "-o", str(out)], capture_output=True)
    assert done.returncode == 0, done.stderr
    as_json = json.loads(subprocess.run(run, capture_output=True, check=True).stdout)
    header, rows = _table(openpyxl.load_workbook(out).worksheets[0])
    scores = {r[1]: r[header.index("得分")] for r in rows if r and r[1]}
    assert scores["total"] == as_json["total"]
    for key, item in as_json["items"].items():
        assert scores[key] == item["score"]
