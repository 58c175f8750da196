"""The 书面报告 skeleton from an incident and its timeline."""

from __future__ import annotations

from collector.client.report_draft import draft_markdown

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
