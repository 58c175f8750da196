"""The HTML report: self-contained, Chinese, the JSON's numbers, every flag's ids, charts."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from scoring.present import points
from tests.scoring.months import MONTHS, december_running, november, silent_month
from tests.scoring.reportdoc import ONE_FORMAT, instants_in, render, summary_rows, text_of

ALL = sorted(MONTHS)


@pytest.mark.parametrize("name", ALL)
def test_each_item_row_holds_the_json_value_deduction_and_score(name):
    report, html, _ = render(MONTHS[name]())
    rows = summary_rows(html)
    assert list(rows) == list(report["items"])
    for key, item in report["items"].items():
        attrs, cells = rows[key]
        assert cells[0] == item["name"]
        assert attrs["data-value"] == ("null" if item["value"] is None else repr(item["value"]))
        assert float(attrs["data-deduction"]) == item["deduction"]
        assert float(attrs["data-score"]) == item["score"]
        assert float(cells[-1]) == item["score"]
        assert float(cells[-2]) == item["deduction"]
        if item["value"] is not None and "maintenance_seconds" not in item["evidence"]:
            shown = Fraction(cells[3].rstrip("%")) / 100
            # Truncated to 4 places of a percent: never above the exact value, and close.
            assert shown <= Fraction(repr(item["value"])) < shown + Fraction(1, 10**6)
        if item["coverage"] is not None:
            shown = Fraction(cells[4].rstrip("%")) / 100
            assert shown <= Fraction(repr(item["coverage"])) < shown + Fraction(1, 10**6)


@pytest.mark.parametrize("name", ALL)
def test_the_total_stands_next_to_its_label(name):
    report, html, _ = render(MONTHS[name]())
    text = text_of(html)
    total = re.search(r"总分\s*([0-9.]+)", text)
    assert total and float(total.group(1)) == report["total"]
    footer = [cells for attrs, cells in _rows(html) if cells and cells[0] == "合计"]
    assert footer and float(footer[0][-1]) == report["total"]
    exact = sum(Fraction(repr(i["score"])) for i in report["items"].values())
    assert float(exact) == report["total"]


def _rows(html):
    from tests.scoring.reportdoc import parse

    return parse(html).rows


@pytest.mark.parametrize("name", ALL)
def test_the_file_is_self_contained_utf8_and_names_the_month(name):
    report, html, _ = render(MONTHS[name]())
    head = html[: html.index("</head>")]
    assert '<meta charset="utf-8">' in head
    assert '<html lang="zh-CN">' in html
    assert report["month"] in text_of(html)
    lowered = html.lower()
    for needle in ("<script", "<link", "<img", "<iframe", "@import", "src=", "href=", "http:"):
        assert needle not in lowered, needle
    for match in re.finditer(r"url\(\s*['\"]?([^)'\"]*)", lowered):
        assert match.group(1).startswith("data:"), match.group(0)
    assert html.count("<svg") >= 2


@pytest.mark.parametrize("name", ALL)
def test_every_id_a_flag_names_appears_in_the_flag_list(name):
    report, html, _ = render(MONTHS[name]())
    flags = html[html.index('id="flags"') : html.index('id="charts"')]
    for flag in report["flags"]:
        for key in ("incident", "window", "component"):
            if key in flag:
                assert flag[key] in flags, flag
        if "deadline" in flag:
            assert flag["deadline"] in flags  # whole seconds: the JSON's text is the report's


@pytest.mark.parametrize("name", ALL)
def test_one_instant_format_throughout(name):
    _, html, md = render(MONTHS[name]())
    for text in (text_of(html), md):
        found = instants_in(text)
        assert found
        for stamp in found:
            assert ONE_FORMAT.fullmatch(stamp), stamp
            assert not re.search(r"\.\d*000\+", stamp) or re.search(r"\.\d{6}\+", stamp), stamp


def test_milliseconds_are_written_only_where_they_exist():
    _, html, md = render(november())
    for text in (text_of(html), md):
        assert "2026-11-03T03:52:20.301+08:00" in text
        assert "2026-11-12T03:40:00.250+08:00" in text
        assert ".301000" not in text and ".250000" not in text
        assert "2026-11-12T02:10:00+08:00" in text


def test_the_ivr_overrun_is_split_into_maintenance_and_fault():
    _, html, md = render(november())
    row = next(
        cells
        for attrs, cells in _rows(html)
        if cells and cells[0] == "ivr-1" and "2026-11-12T02:10:00+08:00" in " ".join(cells)
    )
    # maintenance 02:10–03:00 (3000 s), fault 03:00–03:40:00.250 (2400.25 s)
    assert row[5] == "2400.25"
    assert row[7] == "3000"
    assert "2026-11-12T03:00:00+08:00 至 2026-11-12T03:40:00.250+08:00" in row[4]
    assert "2026-11-12T02:10:00+08:00 至 2026-11-12T03:00:00+08:00" in row[6]
    assert "mw-ivr" in row[9]
    assert "| ivr-1 | 2026-11-12T02:10:00+08:00 | 2026-11-12T03:40:00.250+08:00 |" in md


def test_windows_list_the_intervals_they_counted():
    _, html, md = render(november())
    text = text_of(html)
    assert "rec-1：2026-11-22T01:05:00+08:00 至 2026-11-22T01:50:00+08:00" in text
    assert "rec-1：2026-11-22T01:05:00+08:00 至 2026-11-22T01:50:00+08:00" in md
    assert "（开始后补登）" in text


def test_an_excluded_outage_shows_its_reason_and_approver_and_counts_nothing():
    _, html, _ = render(november())
    row = next(c for _, c in _rows(html) if len(c) == 10 and c[0] == "seat-003")
    assert row[5] == "0" and row[7] == "0"
    assert "座席计划停用，话务员培训" in row[9] and "热线中心 王工" in row[9]


def test_incidents_show_their_timeline_and_report_deadline():
    report, html, _ = render(november())
    text = text_of(html)
    for row in report["items"]["fault_response"]["evidence"]["reports"]:
        assert row["deadline"] in text
    assert "INC-11-3" in text and "未提交" in text and "未定级，按默认" in text


def test_low_coverage_warning_comes_before_the_summary():
    _, html, _ = render(silent_month())
    assert html.index("监测覆盖不足") < html.index('id="summary"')
    assert "整个统计区间无任何监测数据" in html
    assert "未测量（无对应组件），按满分计：座席终端可用率" in html


def test_a_running_month_marks_where_the_data_ends_and_lists_pending_items():
    _, html, _ = render(december_running())
    assert "统计截至此处" in html
    text = text_of(html)
    assert "INC-12-2" in text and "书面报告未到期" in text


def test_points_read_as_the_json_holds_them():
    assert points(4.4) == "4.4"
    assert points(7.0) == "7"
    assert points(0.6) == "0.6"
    assert points(0.123456789) == "0.123456789"


def test_hotline_score_writes_the_html_report(tmp_path):
    import json
    import subprocess
    import sys

    path = tmp_path / "facts.json"
    path.write_text(json.dumps(november()), "utf-8")
    out = tmp_path / "report.html"
    run = [sys.executable, "-m", "hotline", "score", "--facts", str(path)]
    done = subprocess.run([*run, "--format", "html", "-o", str(out)], capture_output=True)
    assert done.returncode == 0, done.stderr
    as_json = json.loads(subprocess.run(run, capture_output=True, check=True).stdout)
    rows = summary_rows(out.read_text("utf-8"))
    for key, item in as_json["items"].items():
        assert float(rows[key][0]["data-score"]) == item["score"]
