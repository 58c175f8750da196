"""The 书面报告 skeleton from an incident and its timeline."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from collector.api import views
from collector.client.report_draft import draft_docx, draft_markdown, report_due_text
from collector.domain.model import Incident
from collector.domain.timefmt import from_datetime
from scoring.workdays import nth_workday_after
from tests.collector.conftest import OPERATOR_TOKEN, T0, Served
from tests.collector.test_api import S, post, result

INCIDENT = {
    "id": "INC-20261103-100020",
    "components": ["acd-1", "callsys"],
    "severity": "P1",
    "title": "acd-1 down (timeout)",
    "opened_by": "collector",
    "detected_at": "2026-11-03T10:00:20+08:00",
    "first_failed_at": "2026-11-03T10:00:00+08:00",
    "responded_at": "2026-11-03T10:05:20+08:00",
    "responded_by": "ops-wang",
    "restored_at": "2026-11-03T10:40:20+08:00",
    "outages": ["acd-1@1793671200000"],
    "timeline": [
        {"ts": "2026-11-03T10:00:20+08:00", "event": "detected", "actor": "collector",
         "detail": {"component": "acd-1", "reason": "timeout"}},
        {"ts": "2026-11-03T10:05:20+08:00", "event": "acked", "actor": "ops-wang", "detail": {}},
        {"ts": "2026-11-03T10:40:20+08:00", "event": "restored", "actor": "collector",
         "detail": {}},
    ],
}  # fmt: skip


def test_draft_fills_what_the_collector_knows_and_marks_the_rest() -> None:
    text = draft_markdown(INCIDENT)
    assert text.startswith("# 故障书面报告：INC-20261103-100020")
    assert "| 故障等级 | 一级（P1） |" in text
    assert "| 首次失败采样时间 | 2026-11-03 10:00:00 |" in text
    assert "| 响应时间 | 2026-11-03 10:05:20（ops-wang） |" in text
    assert "| 响应用时 | 5.0 分钟 |" in text and "| 恢复用时 | 40.0 分钟 |" in text
    assert "| 2026-11-03 10:05:20 | 运维人员响应 | ops-wang |  |" in text
    assert "| 2026-11-03 10:00:20 | 监测系统确认故障 | 监测系统 | acd-1 timeout |" in text
    assert text.count("（待填写）") >= 3  # cause, measures, prevention are for people


def test_draft_of_an_open_incident_opened_by_hand() -> None:
    incident = {**INCIDENT, "opened_by": "ops-li", "responded_at": None, "restored_at": None,
                "outages": [], "timeline": []}  # fmt: skip
    text = draft_markdown(incident)
    assert "| 登记方式 | 人工登记：ops-li |" in text
    assert "| 恢复时间 | — |" in text and "无（人工登记）" in text


# --- the report's due date, Markdown and Word ------------------------------------------------


REPO = Path(__file__).resolve().parents[2]
DUE = {**INCIDENT, "report_due": "2026-11-06T00:00:00+08:00", "report_due_unknown_year": None}


def ms(text: str) -> int:
    return from_datetime(datetime.fromisoformat(text))


def restored(at: str, voided: str | None = None) -> Incident:
    return Incident("INC-X", ("acd-1",), "P1", ms(at) - 600_000, restored_at=ms(at), voided=voided)


def test_markdown_draft_shows_the_due_date_of_a_restored_incident() -> None:
    text = draft_markdown(DUE)
    assert "| 报告截止时间 | 2026-11-05 24:00 前（恢复后第 2 个工作日） |" in text


def test_markdown_draft_says_the_due_date_is_pending_while_unrestored() -> None:
    text = draft_markdown({**INCIDENT, "restored_at": None, "report_due": None})
    assert "| 报告截止时间 | 待定（尚未恢复；恢复后第 2 个工作日 24:00 前） |" in text


def test_due_date_text_for_an_unknown_calendar_year_and_an_older_collector() -> None:
    unknown = {**INCIDENT, "report_due": None, "report_due_unknown_year": 2099}
    assert report_due_text(unknown).startswith("无法确定：2099 年工作日安排尚未公布")
    assert report_due_text(INCIDENT).startswith("—（采集器未提供")  # no report_due field


@pytest.mark.parametrize(
    ("restored_at", "day", "due_day"),
    [
        # Wed 2026-09-30, the last working day before National Day (10-01..10-07 off):
        # 1st working day after is Thu 10-08, 2nd Fri 10-09 → due by 2026-10-09 24:00.
        ("2026-09-30T16:00:00+08:00", date(2026, 9, 30), date(2026, 10, 9)),
        # Fri 2026-02-13 before the Spring Festival (02-15..02-23 off); Sat 02-14 is a 调休
        # make-up working day: 1st is Sat 02-14, 2nd Tue 02-24 → due by 2026-02-24 24:00.
        ("2026-02-13T18:00:00+08:00", date(2026, 2, 13), date(2026, 2, 24)),
        # 00:30 local on Sat 02-14 is still Fri 02-13 in UTC: the local date counts, so
        # 1st is Tue 02-24, 2nd Wed 02-25 → due by 2026-02-25 24:00.
        ("2026-02-14T00:30:00+08:00", date(2026, 2, 14), date(2026, 2, 25)),
    ],
)
def test_report_due_across_real_2026_holidays(restored_at: str, day: date, due_day: date) -> None:
    assert nth_workday_after(day, 2, {}) == due_day  # the scorer's rule (scoring.workdays)
    out = views.incident(restored(restored_at))
    next_midnight = date.fromordinal(due_day.toordinal() + 1)
    assert out["report_due"] == f"{next_midnight.isoformat()}T00:00:00+08:00"
    assert out["report_due_unknown_year"] is None
    assert report_due_text(out) == f"{due_day.isoformat()} 24:00 前（恢复后第 2 个工作日）"


def test_report_due_is_null_while_unrestored_voided_or_for_an_unknown_year() -> None:
    open_ = Incident("INC-O", ("acd-1",), "P1", ms("2026-11-03T10:00:00+08:00"))
    assert views.incident(open_)["report_due"] is None
    assert views.incident(open_)["report_due_unknown_year"] is None
    voided = views.incident(restored("2026-11-03T10:00:00+08:00", voided="maintenance"))
    assert voided["report_due"] is None and voided["report_due_unknown_year"] is None
    unknown = views.incident(restored("2099-06-01T10:00:00+08:00"))
    assert unknown["report_due"] is None and unknown["report_due_unknown_year"] == 2099


def test_docx_opens_with_the_id_due_date_headings_and_chinese_fonts(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(draft_docx(DUE, {"acd-1": "acd", "callsys": "callsys"}))
    document = docx.Document(str(path))
    paragraphs = [p.text for p in document.paragraphs]
    headings = [
        p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0] == "事件报告（书面报告）"
    for title in ("原因分析", "处理过程", "整改措施"):
        assert any(title in h for h in headings)
        after = paragraphs[paragraphs.index(next(h for h in headings if title in h)) + 1]
        assert after == "（待填写）"
    facts_table, timeline = document.tables
    rows = dict((r.cells[0].text, r.cells[1].text) for r in facts_table.rows)
    assert rows["编号"] == "INC-20261103-100020" and rows["级别"] == "一级（P1）"
    assert rows["组件"] == "acd-1、callsys" and rows["系统"] == "排队机、话务系统"
    assert rows["发现时间"] == "2026-11-03 10:00:20" and rows["持续时长"] == "40.0 分钟"
    assert rows["报告截止时间"] == "2026-11-05 24:00 前（恢复后第 2 个工作日）"
    assert [c.text for c in timeline.rows[2].cells] == [
        "2026-11-03 10:05:20", "运维人员响应", "ops-wang", ""
    ]  # fmt: skip
    normal = document.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "宋体"
    run = document.paragraphs[0].runs[0].element.rPr.rFonts
    assert run.get(qn("w:eastAsia")) == "宋体" and run.get(qn("w:eastAsiaTheme")) is None


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
    )  # fmt: skip


def test_docx_without_an_output_file_exits_3(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("x\n")
    proc = hotline("incident", "draft", "INC-1", "--format", "docx", "--collector",
                   "http://127.0.0.1:9", "--token-file", str(token))  # fmt: skip
    assert proc.returncode == 3 and "-o" in proc.stderr


async def test_draft_through_the_api_as_markdown_and_docx(
    served_over_http: Served, tmp_path: Path
) -> None:
    served = served_over_http
    await post(served, [result(T0 - 10 * S, True, component="acd-1", system="acd")])
    r = await served.operator.post(
        "/api/v1/incidents", json={"components": ["acd-1"], "title": "坐席无法接入"}
    )
    iid = r.json()["id"]
    assert r.json()["report_due"] is None  # not restored yet
    served.clock.now = T0 + 3600 * S
    r = await served.operator.post(f"/api/v1/incidents/{iid}/restore", json={})
    # restored Sun 2026-11-01: working days Mon 11-02, Tue 11-03 → due 2026-11-03 24:00
    assert r.json()["report_due"] == "2026-11-04T00:00:00+08:00"
    token = tmp_path / "token"
    token.write_text(OPERATOR_TOKEN + "\n")
    common = ("--collector", served.url, "--token-file", str(token))
    md = tmp_path / "r.md"
    out = tmp_path / "r.docx"
    proc = await asyncio.to_thread(hotline, "incident", "draft", iid, "-o", str(md), *common)
    assert proc.returncode == 0, proc.stderr
    assert "| 报告截止时间 | 2026-11-03 24:00 前（恢复后第 2 个工作日） |" in md.read_text()
    proc = await asyncio.to_thread(
        hotline, "incident", "draft", iid, "--format", "docx", "-o", str(out), *common
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r.cells[0].text: r.cells[1].text for r in docx.Document(str(out)).tables[0].rows}
    assert rows["编号"] == iid and rows["系统"] == "排队机"
    assert rows["报告截止时间"] == "2026-11-03 24:00 前（恢复后第 2 个工作日）"
