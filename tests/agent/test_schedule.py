"""The schedule's memory across runs and reloads: previous values, kept or dropped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.config import Check
from agent.health import Health, clock_step
from agent.schedule import Scheduler, job_id
from probes import ProbeResult, Reason


def _check(kind: str, name: str, target: str = "10.0.0.1") -> Check:
    return Check("acd-1", "acd", name, kind, target, {"oid": "sysUpTime.0"}, 30.0, 5.0, 0.0)


class _Recorder:
    """Stands in for run_probe: records the options each run got, returns a growing value."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, kind: str, target: str, options: Any, timeout: float) -> ProbeResult:
        self.calls.append((kind, dict(options)))
        return ProbeResult(Reason.OK, "fine", 1.0, value=len(self.calls))


async def _nowhere(records: list[dict[str, Any]]) -> None:
    return None


async def test_a_stateful_check_gets_its_previous_value_and_keeps_it_over_a_reload() -> None:
    probe = _Recorder()
    scheduler = Scheduler(_nowhere, Health(), {"snmp": 4}, 1.0, probe)
    uptime = _check("snmp", "uptime")
    scheduler.apply([uptime])
    first = await scheduler.run_check(uptime)
    assert "previous" not in probe.calls[-1][1] and first["value"] == 1
    await scheduler.run_check(uptime)
    assert probe.calls[-1][1]["previous"] == 1

    scheduler.apply([uptime, _check("snmp", "other")])  # unchanged check: value kept
    await scheduler.run_check(uptime)
    assert probe.calls[-1][1]["previous"] == 2

    moved = replace(uptime, target="10.0.0.2")  # another question: the old answer is void
    scheduler.apply([moved])
    await scheduler.run_check(moved)
    assert "previous" not in probe.calls[-1][1]


async def test_checks_that_do_not_compare_never_get_previous() -> None:
    probe = _Recorder()
    scheduler = Scheduler(_nowhere, Health(), {}, 1.0, probe)
    backup = replace(_check("file_age", "backup", "/backup"), options={"max_age_hours": 26})
    scheduler.apply([backup])
    for _ in range(2):
        record = await scheduler.run_check(backup)
    assert all("previous" not in options for _, options in probe.calls)
    assert record["value"] == 2  # the value is still reported


async def test_a_record_has_the_wire_fields_with_an_offset_timestamp() -> None:
    scheduler = Scheduler(_nowhere, Health(), {}, 1.0, _Recorder())
    record = await scheduler.run_check(_check("snmp", "uptime"))
    assert list(record) == [
        "component",
        "system",
        "probe",
        "ts",
        "ok",
        "latency_ms",
        "reason",
        "detail",
        "interval",
        "value",
    ]
    assert record["ts"][-6] in "+-" and record["interval"] == 30


def test_a_clock_step_is_seen_beyond_the_tolerance_either_way() -> None:
    assert clock_step(1000.0 + 0.004, 1000.0, 5.0) is None  # NTP slewing
    assert clock_step(1000.0 - 3600.0, 1000.0, 5.0) == -3600.0
    assert clock_step(1000.0 + 30.0, 1000.0, 5.0) == 30.0


async def test_after_the_clock_went_back_the_schedule_is_laid_out_from_now_again() -> None:
    probe = _Recorder()
    scheduler = Scheduler(_nowhere, Health(), {}, 1.0, probe)
    checks = [replace(_check("snmp", f"c{n}"), interval=10.0) for n in range(5)]
    scheduler.apply(checks)
    scheduler.start()
    try:
        await scheduler.run_check(checks[0])  # a previous value to keep
        later = datetime.now(UTC) + timedelta(hours=1)
        for key in scheduler.checks:  # what a clock stepped back an hour looks like
            scheduler._aps.modify_job(job_id(key), next_run_time=later)
        scheduler.restart_schedule()
        now = datetime.now(UTC)
        runs = scheduler.next_runs()
        assert set(runs) == {c.key for c in checks}
        assert all(
            now - timedelta(seconds=1) <= t <= now + timedelta(seconds=10) for t in runs.values()
        )
        await scheduler.run_check(checks[0])
        assert "previous" in probe.calls[-1][1]  # the last value survived the re-layout
    finally:
        await scheduler.shutdown(timeout=1.0)
