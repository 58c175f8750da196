"""`hotline score --monthly FILE.csv|FILE.xlsx`: the month's figures from a spreadsheet, merged
into the facts; every bad row named with its row and column, exit 3, nothing merged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from scoring import FactsError, load_rules
from scoring.monthly_import import merge_monthly, read_monthly_file
from tests.scoring.helpers import comps, facts

FULL = load_rules("changsha-12345-full")

CSV = """item,kind,value,note
call_answer_rate,,93%,话务系统月报
average_handling_time,,301,
public_opinion,municipal_media,1,晚报
public_opinion,leadership_instruction,2,视情节轻重
public_opinion,leadership_instruction,1.5,
org_filing,,2,
org_filing,,1,再次

staffing,staff_short,3,
"""


def hotline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args], capture_output=True, text=True, check=False
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def xlsx(tmp_path: Path, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / "monthly.xlsx"
    book.save(path)
    return path


def import_errors(path: Path) -> list[str]:
    with pytest.raises(FactsError) as caught:
        read_monthly_file(path, FULL)
    return caught.value.errors


def test_csv_rows_become_the_monthly_entries(tmp_path):
    monthly = read_monthly_file(write(tmp_path, "m.csv", CSV), FULL)
    assert monthly == {
        "call_answer_rate": {"value": "93%", "note": "话务系统月报"},
        "average_handling_time": {"value": "301"},
        "public_opinion": {
            "events": {"municipal_media": 1, "leadership_instruction": ["2", "1.5"]},
            "note": "晚报；视情节轻重",
        },
        "org_filing": {"events": {"late_filing": 3}, "note": "再次"},  # counts of a kind add up
        "staffing": {"events": {"staff_short": 3}},
    }


def test_chinese_headers_item_names_and_excels_bom_are_read(tmp_path):
    text = "\ufeff指标,类别,数值,备注\n月均呼叫接通率,,0.93,\n舆情监测及服务事故,市级媒体舆情,1,\n"
    path = tmp_path / "m.csv"
    path.write_bytes(text.encode("utf-8"))
    assert read_monthly_file(path, FULL) == {
        "call_answer_rate": {"value": "0.93"},
        "public_opinion": {"events": {"municipal_media": 1}},
    }


def test_a_real_xlsx_gives_the_same_scores_as_the_csv(tmp_path):
    """The same figures typed into Excel: a percentage cell holds the ratio 0.93, counts are
    numbers; both files score alike through the CLI."""
    book = xlsx(
        tmp_path,
        [
            ["item", "kind", "value", "note"],
            ["call_answer_rate", None, 0.93, "话务系统月报"],
            ["average_handling_time", None, 301, None],
            ["public_opinion", "municipal_media", 1, "晚报"],
            ["public_opinion", "leadership_instruction", 2, "视情节轻重"],
            ["public_opinion", "leadership_instruction", 1.5, None],
            ["org_filing", None, 2, None],
            ["org_filing", None, 1, "再次"],
            [None, None, None, None],
            ["staffing", "staff_short", 3.0, None],
        ],
    )
    facts_path = write(tmp_path, "facts.json", json.dumps(facts(comps("acd-1:acd"), monthly={})))
    reports = []
    for monthly in (book, write(tmp_path, "m.csv", CSV)):
        done = hotline(
            "score", "--facts", str(facts_path), "--rules", "changsha-12345-full",
            "--monthly", str(monthly),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        reports.append(json.loads(done.stdout))
    from_xlsx, from_csv = reports
    assert from_xlsx["items"] == from_csv["items"]
    items = from_csv["items"]
    # 93 %: 2 steps × 0.5; 301 s: 1 started 5 s step × 0.2; 舆情 1 + 2 + 1.5 = 4.5 of 5;
    # 组织机构 3 × 0.2; 人员配备 3 × 0.5.
    assert items["call_answer_rate"]["deduction"] == 1.0
    assert items["average_handling_time"]["deduction"] == 0.2
    assert items["public_opinion"]["deduction"] == 4.5
    assert items["org_filing"]["deduction"] == 0.6
    assert items["staffing"]["deduction"] == 1.5
    assert items["hangup_satisfaction"]["value"] is None  # not in the file: not measured


def test_bad_rows_are_all_named_with_row_and_column_and_exit_3(tmp_path):
    text = (
        "item,kind,value,note\n"
        "call_answer_rate,,96,\n"  # row 2: a ratio written as a bare 96
        "no_such_item,,1,\n"  # row 3
        "public_opinion,,1,\n"  # row 4: which kind?
        "public_opinion,tv,1,\n"  # row 5
        "org_filing,,1.5,\n"  # row 6: not a whole count
        "data_management,record_error,3,\n"  # row 7: graded 1 to 2
        "attendance,,0.9,\n"  # row 8
        "attendance,,0.91,\n"  # row 9: given twice
        ",,1,\n"  # row 10
        "average_handling_time,,soon,\n"  # row 11
    )
    path = write(tmp_path, "m.csv", text)
    expected = [
        f"{path}: row 2: value: must be a ratio from 0 to 1 (0.962 or 96.2%), not '96'",
        f"{path}: row 3: item: not a monthly item of the rules 'changsha-12345-full' "
        "('no_such_item')",
        f"{path}: row 4: kind: required for public_opinion (kinds: national_media, "
        "provincial_media, municipal_media, leadership_instruction, leadership_criticism, "
        "written_complaint)",
        f"{path}: row 5: kind: 'tv' is not a kind of public_opinion given monthly (kinds: "
        "national_media, provincial_media, municipal_media, leadership_instruction, "
        "leadership_criticism, written_complaint)",
        f"{path}: row 6: value: must be a whole number of occurrences from 0, not '1.5'",
        f"{path}: row 7: value: this occurrence's deduction, from 1 to 2, not '3'",
        f"{path}: row 9: item: attendance already given in row 8",
        f"{path}: row 10: item: required",
        f"{path}: row 11: value: not a number ('soon')",
    ]
    assert import_errors(path) == expected
    facts_path = write(tmp_path, "facts.json", json.dumps(facts(comps("acd-1:acd"))))
    done = hotline(
        "score", "--facts", str(facts_path), "--rules", "changsha-12345-full",
        "--monthly", str(path),
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"hotline score: {line}" for line in expected]


def test_xlsx_rows_are_named_by_their_sheet_row(tmp_path):
    book = xlsx(
        tmp_path,
        [
            ["指标", "数值"],
            ["月均呼叫接通率", "九成"],
            ["平均处理时长", None],
        ],
    )
    assert import_errors(book) == [
        f"{book}: row 2: value: not a number ('九成')",
        f"{book}: row 3: value: required, the item's value for the month",
    ]


def test_bad_files_and_headers_are_clear_errors(tmp_path):
    no_value = write(tmp_path, "a.csv", "item,amount\ncall_answer_rate,0.9\n")
    assert import_errors(no_value) == [
        f"{no_value}: row 1: column 2: unknown column 'amount' (columns: item, kind, value, "
        "note, name; or 指标, 类别, 数值, 备注, 名称)",
        f"{no_value}: row 1: no 'value' column",
    ]
    gbk = tmp_path / "b.csv"
    gbk.write_bytes("指标,数值\n".encode("gbk"))
    [error] = import_errors(gbk)
    assert error.startswith(f"{gbk}: not UTF-8 text (byte ")
    assert error.endswith("); save it as CSV UTF-8")
    fake = tmp_path / "c.xlsx"
    fake.write_bytes(b"item,value\n")
    [error] = import_errors(fake)
    assert error.startswith(f"{fake}: not an XLSX workbook")
    other = write(tmp_path, "d.txt", "item,value\n")
    assert import_errors(other) == [f"--monthly {other}: expected a .csv or .xlsx file"]
    empty = write(tmp_path, "e.csv", "\n,,\n")
    assert import_errors(empty) == [f"{empty}: no header row (item, value, …)"]


def test_an_item_in_both_the_facts_and_the_file_is_an_error_not_an_overwrite():
    data = facts(comps("acd-1:acd"), monthly={"call_answer_rate": 0.97})
    with pytest.raises(FactsError) as caught:
        merge_monthly(data, {"call_answer_rate": {"value": "93%"}}, "m.csv")
    assert caught.value.errors == [
        "m.csv: call_answer_rate: also in the facts' monthly; give it in one place"
    ]
    merged = merge_monthly(data, {"attendance": {"value": "0.99"}}, "m.csv")
    assert merged["monthly"] == {"call_answer_rate": 0.97, "attendance": {"value": "0.99"}}


def test_a_closed_month_keeps_the_imported_figures_in_its_facts(tmp_path):
    facts_path = write(tmp_path, "facts.json", json.dumps(facts(comps("acd-1:acd"))))
    closed = tmp_path / "closed"
    done = hotline(
        "score", "--facts", str(facts_path), "--rules", "changsha-12345-full",
        "--monthly", str(write(tmp_path, "m.csv", CSV)), "--close", str(closed),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frozen = json.loads((closed / "facts.json").read_text("utf-8"))
    assert frozen["monthly"]["call_answer_rate"] == {"value": "93%", "note": "话务系统月报"}
    again = hotline(
        "score", "--facts", str(closed / "facts.json"), "--rules", str(closed / "rules.yaml")
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == (closed / "report.json").read_text("utf-8")
