"""`GET /api/v1/inspection?month=` over both stores, and backups in the facts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from collector.service import Collector
from collector.store import Store
from tests.collector.conftest import Clock, Served, make_config, serve_in_process

CST = timezone(timedelta(hours=8))
DAYS = 31  # October 2026


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, 1, tzinfo=CST) + timedelta(days=day - 1, hours=hour, minutes=minute)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def res(component: str, system: str, probe: str, moment: datetime, ok: bool = True, **kw: Any):
    out = {
        "component": component,
        "system": system,
        "probe": probe,
        "ts": iso(moment),
        "ok": ok,
        "reason": "ok" if ok else "check_failed",
        "detail": "" if ok else "failed",
        "interval": 3600,
    }
    out.update(kw)
    return out


def day_results(day: int) -> list[dict[str, Any]]:
    """One day of the scenario: an IVR probed hourly (down 10:00-13:00 on the 10th), an ACD's
    resources twice a day, a CTI's certificate, and a daily backup missed on the 7th."""
    out = []
    for hour in range(24):
        ok = not (day == 10 and 10 <= hour < 13)
        out.append(res("ivr-1", "ivr", "sip", at(day, hour), ok))
    if day <= 2:
        for hour, cpu in ((9, 10.0 * day), (21, 30.0 * day)):
            value = {"cpu_pct": cpu, "memory_pct": 50.0 + day, "disk_pct": 70.0}
            out.append(res("acd-1", "acd", "resources", at(day, hour), value=value))
    out.append(res("cti-1", "other", "web", at(day, 12), value={"cert_days_left": 40.0 - day}))
    if day == 7:  # the newest file is still yesterday's
        made = at(6, 2)
        value = {"backup": "daily", "age_hours": 34.0, "mtime": made.timestamp()}
        out.append(res("backup-acd", "other", "backup", at(7, 12), False, value=value))
    else:
        made = at(day, 2)
        value = {"backup": "daily", "age_hours": 10.0, "mtime": made.timestamp()}
        out.append(res("backup-acd", "other", "backup", at(day, 12), value=value))
    return out


async def _load(s: Served) -> None:
    # a seat heard of in September only: registered, silent all October
    early = [res("seat-001", "seat", "sip", datetime(2026, 9, 30, 12, tzinfo=CST))]
    s.clock.now = ms(datetime(2026, 9, 30, 13, tzinfo=CST))
    r = await s.agent.post("/api/v1/results", json={"agent": "a1", "results": early})
    assert r.status_code == 202
    for day in range(1, DAYS + 1):
        if day == 20:
            continue  # the agent was away: no result at all that day
        s.clock.now = ms(at(day, 23, 59))
        body = {"agent": "a1", "batch": f"d{day}", "results": day_results(day)}
        r = await s.agent.post("/api/v1/results", json=body)
        assert r.status_code == 202 and r.json()["rejected"] == []
    s.clock.now = ms(datetime(2026, 11, 3, 9, tzinfo=CST))
    await s.collector.tick()
    beat = {
        "agent": "a1",
        "sent_at": iso(datetime(2026, 11, 3, 9, tzinfo=CST)),
        "interval": 30,
        "host": {"cpu_percent": 12.0, "mem_percent": 40.0, "disk_percent": 55.0, "load1": 0.5},
    }
    assert (await s.agent.post("/api/v1/heartbeat", json=beat)).status_code in (200, 202, 204)


async def test_inspection_reports_the_month_on_both_stores(store: Store, tmp_path: Path) -> None:
    collector = Collector(make_config(tmp_path), store, clock=Clock(ms(at(1, 0))))
    async with serve_in_process(collector) as s:
        await _load(s)
        r = await s.operator.get("/api/v1/inspection", params={"month": "2026-10"})
        assert r.status_code == 200, r.text
        doc = r.json()
        refused = await s.agent.get("/api/v1/inspection", params={"month": "2026-10"})
        facts = (await s.operator.get("/api/v1/facts", params={"month": "2026-10"})).json()
        bad = await s.operator.get("/api/v1/inspection", params={"month": "2026-13"})

    assert refused.status_code == 403  # operators only
    assert bad.status_code == 400 and "month" in bad.json()["error"]
    assert doc["month"] == "2026-10"

    checks = {(c["component"], c["probe"]): c for c in doc["checks"]}
    assert set(checks) == {
        ("ivr-1", "sip"),
        ("acd-1", "resources"),
        ("cti-1", "web"),
        ("backup-acd", "backup"),
    }
    ivr = checks[("ivr-1", "sip")]
    assert (ivr["ok"], ivr["failed"]) == (30 * 24 - 3, 3)
    assert ivr["days_without_data"] == ["2026-10-20"]
    assert ivr["days_with_data"] == 30
    assert ivr["outages"] == 1 and ivr["down_seconds"] == 3 * 3600
    assert ivr["state"] == "degraded"

    [acd] = doc["resources"]
    assert acd["host"] == "acd-1"
    day1, day2 = acd["days"]
    assert day1["day"] == "2026-10-01"
    assert day1["cpu"] == {"min": 10.0, "avg": 20.0, "max": 30.0}
    assert day2["cpu"] == {"min": 20.0, "avg": 40.0, "max": 60.0}
    assert day2["memory"] == {"min": 52.0, "avg": 52.0, "max": 52.0}

    [cert] = doc["certificates"]
    assert cert["component"] == "cti-1" and cert["days_left"] == 40.0 - 31
    assert cert["min_days_left"] == 9.0
    assert cert["expires_at"] == iso(at(31, 12) + timedelta(days=9))

    [backup] = doc["backups"]
    assert backup["kind"] == "daily"
    assert backup["last_good"] == iso(at(31, 2))
    # the 7th's backup was never made; the 20th's was, though nobody looked that day? No:
    # nothing was seen that day, and the next day's check sees only the 21st's file
    assert backup["missed"] == [iso(at(8, 0)), iso(at(21, 0))]
    assert backup["due"] == DAYS
    assert backup["failed_results"] == 1

    missed = doc["missed"]
    assert {"component": "seat-001", "system": "seat"} in missed["components_without_results"]
    assert missed["days_without_any_data"] == ["2026-10-20"]
    assert [b["due"] for b in missed["backups_missed"]] == backup["missed"]
    silent = {a["agent"] for a in missed["agents_silent"]}
    assert silent == {"a2"}  # configured, never heard from
    [a1] = [a for a in doc["agents"] if a["agent"] == "a1"]
    assert a1["host"]["mem_percent"] == 40.0 and not a1["silent"]

    # the facts carry the backups in the scorer's shape; every other key as before
    assert len(facts["backups"]) == DAYS
    assert facts["backups"][6] == {
        "component": "backup-acd",
        "kind": "daily",
        "due": iso(at(8, 0)),
        "done_at": None,
    }
    assert facts["backups"][0] == {
        "component": "backup-acd",
        "kind": "daily",
        "due": iso(at(2, 0)),
        "done_at": iso(at(1, 2)),
    }
    assert {"month", "as_of", "components", "outages", "maintenance_windows", "incidents"} <= set(
        facts
    )


async def test_facts_without_backup_checks_have_no_backups_key(served: Served) -> None:
    r = await served.operator.get("/api/v1/facts", params={"month": "2026-11"})
    assert r.status_code == 200 and "backups" not in r.json()


async def test_openapi_documents_the_inspection(served: Served) -> None:
    doc = (await served.operator.get("/api/v1/openapi.json")).json()
    get = doc["paths"]["/api/v1/inspection"]["get"]
    assert get["parameters"][0]["name"] == "month" and get["parameters"][0]["required"]
    assert (
        "backups" in get["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    )
