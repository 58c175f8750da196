"""A missed backup is an event: its file_age check (`backup: daily`) failing sends one alert
that says 备份 and the kind, at a real loopback sink — and opens no incident and no outage (a
missed backup is not downtime) — and the missed day is in the facts' `backups`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collector.notify.config import parse_alerts
from collector.service import Collector
from collector.store import SqliteStore
from probes.file_age import probe as file_age
from tests.collector.conftest import Clock, Served, make_config, serve_in_process
from tests.collector.test_alerts_e2e import arrived, texts
from tests.peers.sinks import HttpSink

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 3, tzinfo=CST)  # the backup due by 24:00 of the 3rd is never made


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def sink() -> AsyncIterator[HttpSink]:
    s = HttpSink()
    yield s
    s.close()


@pytest.fixture
async def alerting(tmp_path: Path, sink: HttpSink) -> AsyncIterator[Served]:
    alerts = parse_alerts(
        {"routes": [{"name": "ops", "urls": [sink.json_url("ops")]}]}, base_dir=tmp_path
    )
    config = dataclasses.replace(make_config(tmp_path), alerts=alerts, state_dir=str(tmp_path))
    collector = Collector(config, SqliteStore(tmp_path / "store.db"), clock=Clock(ms(DAY)))
    async with serve_in_process(collector) as served:
        yield served


async def test_a_missed_daily_backup_alerts_once_and_is_in_the_facts(
    alerting: Served, sink: HttpSink, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    latest = backups / "incr-20261102.tar.gz"
    latest.write_bytes(b"x" * 100)
    made = DAY - timedelta(hours=22)  # 2026-11-02 02:00
    os.utime(latest, (made.timestamp(), made.timestamp()))
    options = {"max_age_hours": "26", "backup": "daily", "min_size": "1"}

    async def check(at: datetime) -> None:
        """Run the real probe (its age is measured against now) and send what it saw as
        of `at`, as the agent would have at that moment."""
        result = await file_age(str(backups), options, 5.0)
        value = dict(result.value)
        value["age_hours"] = round((at.timestamp() - value["mtime"]) / 3600, 4)
        ok = value["age_hours"] <= 26
        record = {
            "component": "backup-acd",
            "system": "other",
            "probe": "backup",
            "ts": at.isoformat(),
            "ok": ok,
            "reason": "ok" if ok else "check_failed",
            "detail": result.detail if ok else f"daily backup: {latest} is too old",
            "value": value,
            "interval": 3600,
        }
        alerting.clock.now = ms(at)
        r = await alerting.agent.post("/api/v1/results", json={"agent": "a1", "results": [record]})
        assert r.status_code == 202 and r.json()["rejected"] == []

    assert result_detail_names_the_kind(await file_age(str(backups), options, 5.0))
    for hour in range(0, 24):  # the 3rd, hourly: 02:00's backup of the 3rd never comes
        await check(DAY + timedelta(hours=hour))
    for hour in range(0, 6):  # the 4th: still nothing
        await check(DAY + timedelta(days=1, hours=hour))

    await alerting.collector.tick()  # the collector's tick finds the 3rd's backup missed
    [told] = await arrived(lambda: texts(sink))
    assert "备份缺失" in told and "每日增量备份" in told and "backup-acd" in told
    assert (await alerting.operator.get("/api/v1/incidents")).json()["incidents"] == []
    assert (await alerting.operator.get("/api/v1/outages")).json()["outages"] == []
    await check(DAY + timedelta(days=1, hours=6))  # another failure: no second message
    await alerting.collector.tick()
    assert len([t for t in texts(sink) if "备份缺失" in t]) == 1

    facts = (await alerting.operator.get("/api/v1/facts", params={"month": "2026-11"})).json()
    by_due = {b["due"]: b for b in facts["backups"]}
    assert by_due["2026-11-04T00:00:00+08:00"] == {
        "component": "backup-acd",
        "kind": "daily",
        "due": "2026-11-04T00:00:00+08:00",
        "done_at": None,  # missed
    }
    # the 2nd's file was written on the 2nd, but the check started on the 3rd: not listed
    assert "2026-11-03T00:00:00+08:00" not in by_due
    assert "2026-11-05T00:00:00+08:00" not in by_due  # not due yet


def result_detail_names_the_kind(result: object) -> bool:
    return getattr(result, "detail", "").startswith("daily backup: ")
