"""The demo's month carries the inspection report's data: hourly host resources and a daily
backup missed on one day with a single failed check (under down_after: no outage, the score
unchanged), which the backups rule counts as missed."""

from __future__ import annotations

from datetime import datetime

from collector.domain.inspection import backup_events
from collector.domain.model import Sample
from collector.domain.timefmt import parse_instant
from hotline.demo.history import MISSED_BACKUP_DAY, TZ, inspection_results, make_plan


def test_demo_month_has_resources_and_one_missed_backup() -> None:
    plan = make_plan(datetime(2026, 11, 15, 12, tzinfo=TZ))
    results = inspection_results(plan, plan.start, plan.end)
    days = (plan.end - plan.start).days
    resources = [r for r in results if r["probe"] == "resources"]
    assert len(resources) == 2 * 24 * days  # two hosts, hourly
    backups = [r for r in results if r["probe"] == "backup"]
    assert len(backups) == 2 * days
    failed = [r for r in backups if not r["ok"]]
    assert len(failed) == 1 and failed[0]["ts"].startswith(f"{plan.month}-{MISSED_BACKUP_DAY:02d}")
    assert failed[0]["detail"].startswith("daily backup: ")

    samples = [
        Sample("a1", r["component"], r["system"], r["probe"], parse_instant(r["ts"]), r["ok"],
               r["reason"], r["detail"], value=r["value"])
        for r in backups
    ]  # fmt: skip
    events = backup_events(plan.month, parse_instant(plan.end.isoformat()), samples)
    assert len(events) == days
    missed = [e for e in events if e["done_at"] is None]
    assert [e["due"][:10] for e in missed] == [f"{plan.month}-{MISSED_BACKUP_DAY + 1:02d}"]
