"""A backup check (file_age with `backup: daily|monthly`) decides no component state: failing
for hours it makes no outage, no incident, no no-data, and leaves the month's availability
facts as they are; a missed backup is its own event — one 【备份缺失】 message per (component,
kind, due) at a loopback sink, also across a collector restart — and a backup done in time
alerts no one. The facts' `backups` keep their shape."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.api.app import create_app
from collector.domain.ingest import parse_batch
from collector.domain.inspection import backup_events, missed_backups
from collector.domain.model import Sample
from collector.notify.config import parse_alerts
from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import OPERATOR_TOKEN, Clock, make_config
from tests.collector.test_alerts_e2e import arrived, texts
from tests.peers.sinks import HttpSink

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 3, tzinfo=CST)  # the backup due by 24:00 of the 3rd
HOUR = timedelta(hours=1)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def backup(at: datetime, written: datetime | None, component: str = "acd-1") -> dict[str, Any]:
    """The daily backup check's result at `at`, having seen a file written at `written`."""
    age = None if written is None else round((at - written).total_seconds() / 3600, 4)
    ok = age is not None and age <= 26
    return {
        "component": component,
        "system": "acd" if component == "acd-1" else "other",
        "probe": "backup-incr",
        "ts": at.isoformat(),
        "ok": ok,
        "reason": "ok" if ok else "check_failed",
        "detail": "daily backup: " + ("fresh" if ok else "too old"),
        "value": {
            "backup": "daily",
            "age_hours": age,
            "mtime": None if written is None else written.timestamp(),
        },
        "interval": 3600,
    }


def sip(at: datetime, component: str = "acd-1") -> dict[str, Any]:
    return {
        "component": component,
        "system": "acd",
        "probe": "sip",
        "ts": at.isoformat(),
        "ok": True,
        "reason": "ok",
        "interval": 3600,
    }


async def send(c: Collector, results: list[dict[str, Any]], now: datetime) -> None:
    assert isinstance(c.clock, Clock)
    c.clock.now = ms(now)
    batch = parse_batch({"agent": "a1", "results": results}, c.systems, c.clock())
    assert batch.rejected == []
    await c.ingest(batch)
    await c.tick()


async def started(tmp_path: Path, clock: Clock, sink: HttpSink | None = None) -> Collector:
    config = make_config(tmp_path)
    if sink is not None:
        alerts = parse_alerts(
            {
                "routes": [
                    {"name": "platform", "urls": [sink.json_url("platform")], "systems": ["acd"]},
                    {"name": "seats", "urls": [sink.json_url("seats")], "systems": ["seat"]},
                ]
            },
            base_dir=tmp_path,
        )
        config = dataclasses.replace(config, alerts=alerts, state_dir=str(tmp_path))
    c = Collector(config, SqliteStore(tmp_path / "store.db"), clock=clock)
    await c.start(background=False)
    return c


async def served_metrics(c: Collector) -> str:
    app = create_app(c, lifecycle=False)
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://collector.test", headers=headers
    ) as client:
        r = await client.get("/metrics")
        assert r.status_code == 200
        return r.text


async def drained(c: Collector) -> None:
    assert c.notifier is not None and c.notifier.alerter is not None
    await c.notifier.alerter.drain()


@pytest.fixture
def sink() -> AsyncIterator[HttpSink]:
    s = HttpSink()
    yield s
    s.close()


def _without_backups(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k != "backups"}


async def test_a_failing_backup_check_makes_no_outage_no_incident_and_keeps_the_facts(
    tmp_path: Path,
) -> None:
    with_backup = await started(tmp_path / "with", Clock(ms(DAY)))
    without = await started(tmp_path / "without", Clock(ms(DAY)))
    stale = DAY - timedelta(days=3)  # the newest backup file is three days old: every run fails
    for hour in range(30):
        at = DAY + hour * HOUR
        await send(with_backup, [sip(at), backup(at, stale)], at)
        await send(without, [sip(at)], at)

    assert await with_backup.store.read_outages(kind=None) == []
    assert await with_backup.store.incidents() == []
    assert with_backup.component_states()["acd-1"] == ("acd", 1)
    [acd] = [c for c in (await with_backup.status())["components"] if c["id"] == "acd-1"]
    assert acd["state"] == "up"
    facts = await with_backup.facts("2026-11")
    assert _without_backups(facts) == _without_backups(await without.facts("2026-11"))
    assert [b["done_at"] for b in facts["backups"]] == [None]  # the 3rd: missed, as a backup
    await with_backup.stop()
    await without.stop()


async def test_a_component_with_only_backup_checks_is_never_down_nor_silent(
    tmp_path: Path,
) -> None:
    clock = Clock(ms(DAY))
    c = await started(tmp_path, clock)
    for hour in range(30):  # the backup check fails from the start, and is silent after 6 h
        at = DAY + hour * HOUR
        await send(c, [sip(at), *([backup(at, None, "backup-acd")] if hour < 6 else [])], at)
    assert await c.store.read_outages(kind=None) == []
    assert await c.store.incidents() == []
    await c.store.close()  # as if killed: the rebuild from the store keeps it so

    again = await started(tmp_path, clock)
    await send(again, [sip(DAY + 30 * HOUR)], DAY + 30 * HOUR)
    assert await again.store.read_outages(kind=None) == []
    assert "backup-acd" not in again.component_states()
    await again.stop()


async def test_a_backup_only_component_is_no_member_of_its_system_in_the_facts(
    tmp_path: Path,
) -> None:
    """Declared `acd`, a component watched only by a backup check would add a month of
    working time without fault time to 排队机可用率; it is left out of the facts' components
    (its backups stay in `backups`), also after a restart."""
    clock = Clock(ms(DAY))
    with_backup = await started(tmp_path / "with", clock)
    without = await started(tmp_path / "without", Clock(ms(DAY)))
    for hour in range(30):
        at = DAY + hour * HOUR
        down = [{**sip(at), "ok": False, "reason": "timeout"}] if 3 <= hour < 6 else [sip(at)]
        acd_backup = {**backup(at, at - HOUR, "acd-bk"), "system": "acd"}
        await send(with_backup, [*down, acd_backup], at)
        await send(without, down, at)
    facts = await with_backup.facts("2026-11")
    assert "acd-bk" not in [c["id"] for c in facts["components"]]
    assert [b["component"] for b in facts["backups"]] == ["acd-bk"]
    assert _without_backups(facts) == _without_backups(await without.facts("2026-11"))
    await with_backup.store.close()  # as if killed

    again = await started(tmp_path / "with", clock)
    facts = await again.facts("2026-11")
    assert "acd-bk" not in [c["id"] for c in facts["components"]]
    await again.stop()
    await without.stop()


async def test_backup_outages_before_the_change_are_retracted_by_the_rebuild(
    tmp_path: Path,
) -> None:
    """A store written while backup checks still fed the engine: its backup outage is taken
    back at the next start (and the composite's with it), its incident voided, as wrongly
    counted."""
    clock = Clock(ms(DAY))
    c = await started(tmp_path, clock)
    real = c._state_samples
    c._state_samples = lambda samples, *_: samples  # type: ignore[method-assign]  # the old path
    for hour in range(4):
        at = DAY + hour * HOUR
        await send(c, [sip(at), backup(at, None)], at)
    before = {o.component: o.probes for o in await c.store.read_outages()}
    assert before == {"acd-1": ("backup-incr",), "callsys": ("acd-1",)}
    [incident] = await c.store.incidents()
    c._state_samples = real  # type: ignore[method-assign]
    await c.store.close()

    again = await started(tmp_path, clock)
    assert await again.store.read_outages() == []
    [after] = await again.store.incidents()
    assert after.id == incident.id and after.voided is not None
    await again.stop()


async def test_a_missed_daily_backup_alerts_once_also_after_a_restart(
    tmp_path: Path, sink: HttpSink
) -> None:
    clock = Clock(ms(DAY))
    c = await started(tmp_path, clock, sink)
    made = DAY - timedelta(hours=22)  # 2026-11-02 02:00: the 2nd's backup; the 3rd's never comes
    for hour in range(24):
        at = DAY + hour * HOUR
        await send(c, [sip(at), backup(at, made)], at)
    await drained(c)
    assert texts(sink) == []  # not due yet
    at = DAY + 24 * HOUR  # the 4th, 00:00: the check looks and sees the 2nd's file
    await send(c, [sip(at), backup(at, made)], at)
    [told] = await arrived(lambda: texts(sink))
    head, *body = told.splitlines()
    assert head == "【备份缺失】acd-1 每日增量备份 未在 2026-11-04 00:00:00+08:00 前完成"
    assert "上次成功备份：2026-11-02 02:00:00+08:00" in body
    assert [m["_path"] for m in sink.received] == ["/platform"]  # acd's route, not the seats'
    metrics = (await served_metrics(c)).splitlines()
    assert "hotline_backups_missed 1.0" in metrics
    for hour in range(1, 3):  # more runs and ticks: nothing more
        at = DAY + (24 + hour) * HOUR
        await send(c, [sip(at), backup(at, made)], at)
    await drained(c)
    assert len(texts(sink)) == 1
    assert await c.store.incidents() == [] and await c.store.read_outages(kind=None) == []
    await c.stop()

    again = await started(tmp_path, clock, sink)
    await again.tick()
    at = DAY + 27 * HOUR
    await send(again, [sip(at), backup(at, made)], at)
    await drained(again)
    assert len(texts(sink)) == 1  # the outbox remembers it was told
    facts = await again.facts("2026-11")
    assert facts["backups"] == [
        {
            "component": "acd-1",
            "kind": "daily",
            "due": "2026-11-04T00:00:00+08:00",
            "done_at": None,
        }
    ]
    await again.stop()


async def test_a_backup_done_within_its_day_alerts_no_one(tmp_path: Path, sink: HttpSink) -> None:
    clock = Clock(ms(DAY))
    c = await started(tmp_path, clock, sink)
    made = DAY - timedelta(hours=22)
    for hour in range(24):  # up to 23:00 of the 3rd: the 3rd's backup not seen yet
        at = DAY + hour * HOUR
        await send(c, [sip(at), backup(at, made)], at)
    clock.now = ms(DAY + 24.5 * HOUR)  # past the due, the check's next run not in yet
    await c.tick()
    await drained(c)
    # not settled: the next run may show it written in time (the sip check's silence is told)
    assert [t for t in texts(sink) if "备份" in t] == []
    written = DAY + 23.5 * HOUR  # 23:30 of the 3rd
    await send(c, [sip(DAY + 24 * HOUR), backup(DAY + 24 * HOUR, written)], DAY + 25 * HOUR)
    clock.now = ms(DAY + 30 * HOUR)
    await c.tick()
    await drained(c)
    assert [t for t in texts(sink) if "备份" in t] == []
    facts = await c.facts("2026-11")
    assert [b["done_at"] for b in facts["backups"]] == ["2026-11-03T23:30:00+08:00"]
    await c.stop()


def _sample(at: datetime, written: datetime | None, interval: float = 3600) -> Sample:
    r = backup(at, written)
    return Sample(
        "a1", "acd-1", "acd", "backup-incr", ms(at), r["ok"], r["reason"], r["detail"],
        value=r["value"], interval=interval,
    )  # fmt: skip


def test_a_missed_backup_is_settled_by_a_later_look_or_by_silence() -> None:
    made = DAY - timedelta(hours=22)
    looked = [_sample(DAY + h * HOUR, made) for h in range(25)]  # up to 00:00 of the 4th
    [m] = missed_backups("2026-11", ms(DAY + 24 * HOUR), looked)
    assert (m.component, m.kind, m.due, m.last_good) == ("acd-1", "daily", ms(DAY + 24 * HOUR),
                                                         ms(made))  # fmt: skip
    quiet = looked[:24]  # nothing after 23:00 of the 3rd
    assert missed_backups("2026-11", ms(DAY + 25 * HOUR), quiet) == []  # may still show up
    [m] = missed_backups("2026-11", ms(DAY + 26 * HOUR), quiet)  # two intervals past the due
    assert m.due == ms(DAY + 24 * HOUR)
    # the same samples give the facts' entry, not done
    assert backup_events("2026-11", ms(DAY + 26 * HOUR), quiet)[0]["done_at"] is None


def test_a_backup_seen_written_in_its_day_is_not_missed() -> None:
    made = DAY + 23.5 * HOUR
    seen = [_sample(DAY + h * HOUR, DAY - 22 * HOUR) for h in range(24)]
    seen.append(_sample(DAY + 24 * HOUR, made))
    assert missed_backups("2026-11", ms(DAY + 30 * HOUR), seen) == []


async def test_a_store_that_cannot_read_backups_is_one_warning_not_one_per_tick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hotline.collector")
    c = await started(tmp_path, Clock(ms(DAY)))
    store = c.store
    real = store.value_samples

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("store unavailable")

    store.value_samples = refuse  # type: ignore[method-assign]
    for minute in range(5):
        c.clock.now = ms(DAY) + minute * 60_000  # type: ignore[attr-defined]
        await c.tick()
    failing = [r for r in caplog.records if "missed backups failed" in r.getMessage()]
    assert len(failing) == 1 and failing[0].levelname == "WARNING"
    store.value_samples = real  # type: ignore[method-assign]
    await c.tick()
    assert "works again" in caplog.text
    await c.stop()
