"""Runbooks on a missed backup (`when: {event: backup_missed}`): a real collector whose backup
check stops seeing new backups runs a real local script once, with the backup's component,
kind, due, check and last good backup in its environment — and a runbook for outages does not
run (a missed backup is no downtime). The webhook body carries the same fields; a `reasons`
filter with backup_missed is a config error."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collector.domain.engine import Event, EventType
from collector.notify.runbooks import (
    RunbookConfigError,
    RunbookRunner,
    Status,
    parse_runbooks,
)
from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import Clock, Served, make_config, serve_in_process
from tests.peers.runbook_sink import runbook_sink  # noqa: F401

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 3, tzinfo=CST)  # the backup due by 24:00 of the 3rd is never made
LAST_GOOD = DAY - timedelta(hours=22)  # 2026-11-02 02:00, the last file the check saw

# Appends one line per run, and writes the HOTLINE_* variables it was given (one per line).
SCRIPT = """#!/bin/sh
printf '%s %s %s\\n' "$HOTLINE_EVENT" "$HOTLINE_COMPONENT" "$HOTLINE_BACKUP_DUE" >> "$1/runs"
env | grep '^HOTLINE_' | sort > "$1/env"
"""


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _script(tmp_path: Path) -> str:
    path = tmp_path / "on-backup-missed"
    path.write_text(SCRIPT)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
async def collecting(tmp_path: Path) -> AsyncIterator[Served]:
    out = tmp_path / "out"
    out.mkdir()
    prog = _script(tmp_path)
    books = parse_runbooks(
        [
            {"name": "rerun-backup", "when": {"event": "backup_missed"}, "run": [prog, str(out)]},
            {
                "name": "elsewhere",  # another component's backups: not this one
                "when": {"event": "backup_missed", "components": ["backup-ivr"]},
                "run": [prog, str(tmp_path / "elsewhere")],
            },
            {  # a missed backup is no outage: this never runs
                "name": "on-outage",
                "when": {"event": "outage_started"},
                "run": [prog, str(tmp_path / "outage")],
            },
        ],
        base_dir=tmp_path,
    )
    config = dataclasses.replace(
        make_config(tmp_path), runbooks=tuple(books), state_dir=str(tmp_path)
    )
    collector = Collector(config, SqliteStore(tmp_path / "store.db"), clock=Clock(ms(DAY)))
    async with serve_in_process(collector) as served:
        yield served


async def _check(served: Served, at: datetime) -> None:
    """The daily backup check's result at `at`, as the agent sends it: the newest file is the
    one written at LAST_GOOD (no later backup is ever made)."""
    age = round((at - LAST_GOOD).total_seconds() / 3600, 4)
    ok = age <= 26
    record = {
        "component": "backup-acd",
        "system": "other",
        "probe": "backup",
        "ts": at.isoformat(),
        "ok": ok,
        "reason": "ok" if ok else "check_failed",
        "detail": f"daily backup: newest is {age} h old",
        "value": {"backup": "daily", "age_hours": age, "mtime": LAST_GOOD.timestamp()},
        "interval": 3600,
    }
    served.clock.now = ms(at)
    r = await served.agent.post("/api/v1/results", json={"agent": "a1", "results": [record]})
    assert r.status_code == 202 and r.json()["rejected"] == [], r.text


async def _ran(out: Path, runs: int) -> list[str]:
    """The script's run lines once there are `runs` of them and its env file is written (the
    runner starts runbooks in the background); a generous guard, not a speed check."""
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        if (out / "runs").exists():
            lines = (out / "runs").read_text().splitlines()
            if len(lines) >= runs and (out / "env").exists():
                return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"the runbook ran {len(lines)} times, not {runs}")


async def test_a_missed_backup_runs_its_runbook_once_with_the_backup_in_its_environment(
    collecting: Served, tmp_path: Path
) -> None:
    for hour in range(24):  # the 3rd, hourly: 02:00's backup of the 3rd never comes
        await _check(collecting, DAY + timedelta(hours=hour))
    for hour in range(6):  # the 4th: still nothing
        await _check(collecting, DAY + timedelta(days=1, hours=hour))
    await collecting.collector.tick()  # the tick finds the 3rd's backup missed

    out = tmp_path / "out"
    assert await _ran(out, 1) == ["backup_missed backup-acd 2026-11-04T00:00:00+08:00"]
    env = dict(line.split("=", 1) for line in (out / "env").read_text().splitlines())
    assert env == {
        "HOTLINE_EVENT": "backup_missed",
        "HOTLINE_COMPONENT": "backup-acd",
        "HOTLINE_SYSTEM": "other",
        "HOTLINE_INCIDENT": "",  # a missed backup is no incident
        "HOTLINE_REASON": "",
        "HOTLINE_TS": "2026-11-04T00:00:00+08:00",
        "HOTLINE_OUTAGE": "",
        "HOTLINE_BACKUP_KIND": "daily",
        "HOTLINE_BACKUP_DUE": "2026-11-04T00:00:00+08:00",
        "HOTLINE_BACKUP_PROBE": "backup",
        "HOTLINE_BACKUP_LAST_GOOD": "2026-11-02T02:00:00+08:00",
        "HOTLINE_RUNBOOK": "rerun-backup",
    }

    await _check(collecting, DAY + timedelta(days=1, hours=6))  # another failure, another tick
    await collecting.collector.tick()
    notifier = collecting.collector.notifier
    assert notifier is not None and notifier.runner is not None
    await notifier.runner.aclose()  # waits for runs in flight to end
    assert (out / "runs").read_text().splitlines() == [
        "backup_missed backup-acd 2026-11-04T00:00:00+08:00"
    ]  # once per (component, kind, due)
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "outage").exists()
    assert (await collecting.operator.get("/api/v1/outages")).json()["outages"] == []


def _missed(component: str = "backup-acd") -> Event:
    detail: dict[str, object] = {
        "kind": "monthly",
        "probe": "monthly-full",
        "last_good": "2026-10-01T03:00:00+08:00",
    }
    return Event(EventType.BACKUP_MISSED, ms(datetime(2026, 12, 1, tzinfo=CST)), component,
                 detail=detail)  # fmt: skip


async def test_the_webhook_body_carries_the_missed_backup(runbook_sink) -> None:  # noqa: F811
    [book] = parse_runbooks(
        [{"name": "ticket", "when": {"event": "backup_missed", "systems": ["acd"]},
          "webhook": {"url": runbook_sink.url + "/hook"}}]
    )  # fmt: skip
    runner = RunbookRunner([book], system_of={"acd-1": "acd"}.get)
    assert runner.matches(_missed("ivr-1")) == []  # its system is not acd
    [task] = runner.submit(_missed("acd-1"))
    outcome = await task
    assert outcome.status is Status.OK, outcome
    [got] = runbook_sink.received
    body = got.body
    assert (body["event"], body["component"], body["system"]) == ("backup_missed", "acd-1", "acd")
    assert body["backup_kind"] == "monthly" and body["backup_probe"] == "monthly-full"
    assert body["backup_due"] == body["ts"] == "2026-12-01T00:00:00+08:00"
    assert body["backup_last_good"] == "2026-10-01T03:00:00+08:00"
    assert body["incident"] == "" and body["outage"] is None
    assert body["detail"]["kind"] == "monthly"
    await runner.aclose()


async def test_other_events_get_the_backup_variables_empty(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    [book] = parse_runbooks(
        [
            {
                "name": "rb",
                "when": {"event": "incident_restored"},
                "run": [_script(tmp_path), str(out)],
            }
        ]
    )
    event = Event(EventType.INCIDENT_RESTORED, ms(DAY), incident_id="INC-20261103-1")
    outcome = await RunbookRunner([book]).run(book, event)
    assert outcome.status is Status.OK, outcome
    env = dict(line.split("=", 1) for line in (out / "env").read_text().splitlines())
    assert env["HOTLINE_EVENT"] == "incident_restored"
    assert env["HOTLINE_INCIDENT"] == "INC-20261103-1"
    for name in ("KIND", "DUE", "PROBE", "LAST_GOOD"):
        assert env[f"HOTLINE_BACKUP_{name}"] == ""


def test_backup_missed_is_a_known_event_and_a_reasons_filter_on_it_is_an_error() -> None:
    [book] = parse_runbooks([{"name": "b", "when": {"event": "backup_missed"}, "run": ["true"]}])
    assert book.when.event == "backup_missed"
    with pytest.raises(RunbookConfigError) as caught:
        parse_runbooks([{"name": "b", "when": {"event": "backup_mised"}, "run": ["true"]}])
    assert "backup_missed" in str(caught.value)  # the list of events names it
    with pytest.raises(RunbookConfigError) as caught:
        parse_runbooks(
            [{"name": "b", "when": {"event": "backup_missed", "reasons": ["timeout"]},
              "run": ["true"]}]
        )  # fmt: skip
    assert caught.value.field == "runbooks[0].when.reasons"
    assert "no probe reason" in str(caught.value)


def test_runbook_try_offers_backup_missed_with_its_kind(tmp_path: Path) -> None:
    import json

    from tests.collector.test_cli import hotline

    out = tmp_path / "env"
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"state_dir: {tmp_path}\n"
        "agents: [{name: a1, token: t}]\n"
        "runbooks:\n"
        "  - name: backup-again\n"
        "    when: {event: backup_missed, components: [acd-1]}\n"
        f"    run: ['/bin/sh', '-c', 'echo $HOTLINE_BACKUP_KIND > {out}']\n"
    )
    args = ["runbook", "try", "--config", str(config), "--event", "backup_missed"]
    dry = hotline(*args, "--component", "acd-1", "--kind", "monthly")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["plan"]["env"]["HOTLINE_BACKUP_KIND"] == "monthly"
    assert hotline(*args, "--component", "acd-2").returncode == 2  # not its component
    real = hotline(*args, "--component", "acd-1", "--run")
    assert real.returncode == 0, real.stderr
    assert out.read_text().strip() == "daily"  # the default kind


async def test_a_restart_does_not_run_a_missed_backups_runbook_again(
    collecting: Served, tmp_path: Path
) -> None:
    """What was told is kept beside the alert outbox (`backups-told.json` in the state
    directory): the alert would not be sent twice anyway, but the runbook would run again."""
    for hour in range(30):  # the 3rd's backup never comes; the 4th's check keeps looking
        await _check(collecting, DAY + timedelta(hours=hour))
    await collecting.collector.tick()
    out = tmp_path / "out"
    assert len(await _ran(out, 1)) == 1
    await collecting.collector.stop()

    clock = Clock(ms(DAY + timedelta(hours=31)))
    again = Collector(collecting.collector.config, SqliteStore(tmp_path / "store.db"), clock=clock)
    async with serve_in_process(again) as served:
        await _check(served, DAY + timedelta(hours=31))
        await served.collector.tick()
        notifier = served.collector.notifier
        assert notifier is not None and notifier.runner is not None
        await notifier.runner.aclose()  # waits for runs in flight to end
    assert (out / "runs").read_text().splitlines() == [
        "backup_missed backup-acd 2026-11-04T00:00:00+08:00"
    ]
