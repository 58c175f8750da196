"""One history through the collector on SQLite and on InfluxDB gives the same facts.

The collector (engine, incidents, windows, exclusions, a restart that rebuilds from the store)
runs twice on the same results and the same clock: once on SQLite, once on InfluxDB. The
month's facts — the scorer's only input — and the status must be equal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig
from collector.domain.ingest import parse_batch
from collector.domain.model import Heartbeat
from collector.domain.timefmt import format_instant
from collector.service import Collector
from collector.store import SqliteStore, Store
from collector.store.influx.store import InfluxStore
from tests.peers.influxd import Influxd

T = 1_795_132_800_000  # 2026-11-20T00:00:00Z
SEC = 1000
MIN = 60 * SEC
COMPONENTS = {"acd-1": "acd", "ivr-1": "ivr", "ivr-2": "ivr", "seat-1": "seat"}


def failing(component: str, minute: int) -> bool:
    return (
        (component == "acd-1" and 20 <= minute < 40)  # a fault: outage and incident
        or (component == "ivr-1" and 50 <= minute < 55)  # inside a maintenance window
        or (component == "seat-1" and 80 <= minute < 100)  # open across the restart
    )


async def run_history(make_store: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    clock = [T]
    config = CollectorConfig()

    async def start() -> Collector:
        c = Collector(config, make_store(), clock=lambda: clock[0])
        await c.start(background=False)
        return c

    c = await start()
    for step in range(0, 120 * 2):  # two hours, one result per component every 30 s
        now = T + step * 30 * SEC
        clock[0] = now
        minute = step // 2
        results = [
            {"component": comp, "system": system, "probe": "tcp", "ts": format_instant(now),
             "ok": not failing(comp, minute), "interval": 30,
             "reason": "refused" if failing(comp, minute) else "ok",
             "detail": "连接被拒绝 (refused)" if failing(comp, minute) else ""}
            for comp, system in COMPONENTS.items()
            if not (comp == "ivr-2" and 60 <= minute < 70)  # ivr-2's agent falls silent
        ]  # fmt: skip
        body = {"agent": "a1", "batch": f"b{step}", "results": results}
        await c.ingest(parse_batch(body, c.systems, now))
        await c.tick()
        if step == 90:  # minute 45: a window for ivr-1, 50-60, approved
            await c.add_window("ops-wang", ["ivr-1"], T + 50 * MIN, T + 60 * MIN, "升级", "CR-7")
        if step == 50:  # minute 25: the operator acknowledges the acd-1 incident
            [inc] = (await c.status())["open_incidents"]
            await c.ack_incident("ops-wang", inc.id)
        if step == 100:
            await c.heartbeat(Heartbeat("a1", now, now - 250, 30.0, {"pending": 0}))
            outage = next(o for o in await c.store.read_outages() if o.component == "acd-1")
            await c.exclude_outage("ops-li", outage.id, "carrier fault", "center-zhang")
        if step == 190:  # minute 95, seat-1 down: the collector restarts
            await c.stop()
            c = await start()
    facts = await c.facts("2026-11")
    status = await c.status()
    await c.stop()
    # window ids are random (made by the collector, not the store): name them by position
    text = json.dumps(facts, ensure_ascii=False)
    for n, w in enumerate(facts["maintenance_windows"]):
        text = text.replace(w["id"], f"window-{n}")
    return json.loads(text), status


async def test_facts_from_influxdb_equal_facts_from_sqlite(
    influxd: Influxd, tmp_path: Path
) -> None:
    url = influxd.store_url(influxd.new_database_name(), rp_raw_days="0", rp_keep_days="0")

    def sqlite() -> Store:
        return SqliteStore(tmp_path / "store.db")

    def influx() -> Store:
        return InfluxStore.from_url(url, state_dir=tmp_path)

    facts_sqlite, status_sqlite = await run_history(sqlite)
    facts_influx, status_influx = await run_history(influx)
    assert facts_sqlite["outages"] and facts_sqlite["incidents"] and facts_sqlite["no_data"]
    assert any(o.get("excluded") for o in facts_sqlite["outages"])
    assert json.dumps(facts_influx, ensure_ascii=False) == json.dumps(
        facts_sqlite, ensure_ascii=False
    )
    assert status_influx == status_sqlite
