"""The collector counts written-report deadlines with the same calendar override files the
scorer takes (`calendar_overrides` in its config): chinesecalendar 1.11 knows no 2027, so an
incident restored on 2026-12-31 had no deadline in the API (nor in reminders) while
`hotline score --calendar` had one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collector.config import CollectorConfigError, load_config
from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import AGENT_TOKEN, OPERATOR_TOKEN, Clock, serve_in_process

CST = timezone(timedelta(hours=8))
RESTORED = datetime(2026, 12, 31, 12, 0, tzinfo=CST)  # a Thursday
CALENDAR_2027 = "year: 2027\nsource: a test's assumption\nholidays: [2027-01-01]\n"


def _config(tmp_path: Path, overrides: str) -> Path:
    (tmp_path / "cal-2027.yaml").write_text(CALENDAR_2027)
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"state_dir: {tmp_path}\n"
        f"agents: [{{name: a1, token: {AGENT_TOKEN}}}]\n"
        f"operators: [{{name: ops-wang, token: {OPERATOR_TOKEN}}}]\n"
        f"{overrides}"
    )
    return config


async def _due(tmp_path: Path, overrides: str) -> dict:
    config = load_config(_config(tmp_path, overrides))
    clock = Clock(int((RESTORED + timedelta(hours=2)).timestamp() * 1000))
    collector = Collector(config, SqliteStore(tmp_path / "store.db"), clock=clock)
    async with serve_in_process(collector) as served:
        seen = (RESTORED - timedelta(hours=1)).isoformat()
        r = await served.agent.post(
            "/api/v1/results",
            json={"agent": "a1", "results": [
                {"component": "ivr-1", "system": "ivr", "probe": "sip", "ts": seen,
                 "ok": True, "reason": "ok", "interval": 60}]},
        )  # fmt: skip
        assert r.status_code == 202, r.text
        clock.now = int((RESTORED - timedelta(minutes=30)).timestamp() * 1000)
        r = await served.operator.post(
            "/api/v1/incidents", json={"components": ["ivr-1"], "title": "one-way audio"}
        )
        assert r.status_code == 201, r.text
        iid = r.json()["id"]
        clock.now = int((RESTORED + timedelta(hours=2)).timestamp() * 1000)
        r = await served.operator.post(
            f"/api/v1/incidents/{iid}/restore", json={"at": RESTORED.isoformat()}
        )
        assert r.status_code == 200, r.text
        return (await served.operator.get(f"/api/v1/incidents/{iid}")).json()


async def test_the_reports_deadline_uses_the_configured_calendar_override(
    tmp_path: Path,
) -> None:
    (tmp_path / "without").mkdir()
    unknown = await _due(tmp_path / "without", "")
    assert unknown["report_due"] is None and unknown["report_due_unknown_year"] == 2027

    (tmp_path / "with").mkdir()
    known = await _due(tmp_path / "with", "calendar_overrides: [cal-2027.yaml]\n")
    # 1 Jan 2027 off (the override), 2-3 Jan a weekend: Mon 4th and Tue 5th are the two
    # working days, so the report is due by 24:00 of the 5th
    assert known["report_due"] == "2027-01-06T00:00:00+08:00"
    assert known["report_due_unknown_year"] is None


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ("calendar_overrides: cal-2027.yaml\n", "must be a list of file paths"),
        ("calendar_overrides: [missing.yaml]\n", "cannot read calendar override"),
        ("calendar_overrides: [cal-2027.yaml, cal-2027.yaml]\n", "a second file for 2027"),
    ],
)
def test_a_bad_calendar_override_is_a_config_error_naming_the_key(
    tmp_path: Path, overrides: str, problem: str
) -> None:
    with pytest.raises(CollectorConfigError) as caught:
        load_config(_config(tmp_path, overrides))
    assert "calendar_overrides" in str(caught.value) and problem in str(caught.value)
