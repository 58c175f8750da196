"""InfluxDB is the record, not the buffer file: when InfluxDB comes back wiped, restored or
replaced, what the buffer says was written is checked against it and written again — the
month's components are listed again and the scorer does not call their systems not_measured."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from collector.domain.model import Component, Sample
from collector.domain.timefmt import format_instant
from collector.store.influx.store import InfluxStore
from scoring import load_rules, parse_facts, score
from tests.collector.process import CollectorProcess
from tests.peers.influxd import Influxd, influxd_factory  # noqa: F401

TOKEN = "recovery-agent-token"
REPLACED = "is not the database this collector wrote to"


def wipe(server: Influxd) -> None:
    """Stop influxd, remove its data, WAL and meta directories, start it again on the same
    port: a wiped server, a restore of an empty backup or a new server at the same address."""
    server.stop()
    for name in ("data", "wal", "meta"):
        shutil.rmtree(server.workdir / name, ignore_errors=True)
    server.start()


def influx_query(server: Influxd, db: str, q: str) -> list[list]:
    r = httpx.get(f"{server.url}/query", params={"db": db, "q": q}, timeout=10)
    series = r.json()["results"][0].get("series") or [{"values": []}]
    return series[0]["values"]


class Collector(CollectorProcess):
    def __init__(self, tmp_path: Path, store_url: str) -> None:
        super().__init__(tmp_path, TOKEN, store_url=store_url)
        with self.config.open("a") as f:  # the buffer in the state directory, by default
            f.write(f"state_dir: {tmp_path / 'state'}\n")

    def post(self, results: list[dict], batch: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/results",
            json={"agent": "a1", "batch": batch, "results": results},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )

    def facts(self, month: str) -> dict:
        r = httpx.get(
            f"{self.url}/api/v1/facts",
            params={"month": month},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return r.json()


def results(t0: int) -> list[dict]:
    out = []
    for component, system in (("acd-1", "acd"), ("ivr-1", "ivr"), ("seat-001", "seat")):
        for i in range(4):
            ok = component != "acd-1" or i == 3  # acd-1: three failures, then up again
            out.append(
                {"component": component, "system": system, "probe": "tcp",
                 "ts": format_instant(t0 + i * 10_000), "ok": ok,
                 "reason": "ok" if ok else "timeout", "interval": 10}
            )  # fmt: skip
    return out


def test_components_come_back_after_influxdb_is_wiped_between_two_collector_runs(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = influxd_factory()
    collector = Collector(tmp_path, server.store_url("hotline"))
    collector.start()
    try:
        t0 = int(time.time() * 1000) - 120_000
        assert collector.post(results(t0), "b1").status_code == 202
        month = _month(t0)
        before = collector.facts(month)
        assert {c["id"] for c in before["components"]} >= {"acd-1", "ivr-1", "seat-001"}
        collector.stop()
        assert list((tmp_path / "state").glob("influx-buffer-*.sqlite"))  # state_dir used

        wipe(server)
        collector.start()
        after = collector.facts(month)
        assert {c["id"] for c in after["components"]} >= {"acd-1", "ivr-1", "seat-001"}
        report = score(parse_facts(after, load_rules()), load_rules())
        flagged = {f.get("item") for f in report["flags"] if f["type"] == "not_measured"}
        assert not flagged & {"acd_availability", "ivr_fault_free", "seat_availability"}
        stored = influx_query(server, "hotline", 'SELECT * FROM "hotline_keep"."component"')
        assert len(stored) >= 3
        policies = {r[0] for r in influx_query(server, "hotline", "SHOW RETENTION POLICIES")}
        assert {"hotline_raw", "hotline_keep"} <= policies
        log = collector.log.read_text()
        assert "WARNING" in log and REPLACED in log and "acd-1" in log
    finally:
        collector.stop()


def _month(t0: int) -> str:
    """The month (Asia/Shanghai) of an instant."""
    return (dt.datetime.fromtimestamp(t0 / 1000, dt.UTC) + dt.timedelta(hours=8)).strftime("%Y-%m")


T0 = 1_792_999_980_000


def sample(component: str, system: str, ts: int = T0) -> Sample:
    return Sample("a1", component, system, "tcp", ts, True, "ok")


async def test_a_database_wiped_while_the_collector_runs_gets_its_components_back(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = influxd_factory()
    url = server.store_url("live", rp_raw_days="0", rp_keep_days="0")
    store = InfluxStore.from_url(url, state_dir=tmp_path, backoff_max=0.1, read_timeout=10)
    await store.open()
    try:
        await store.append_samples("a1", "b1", [sample("acd-1", "acd"), sample("ivr-1", "ivr")])
        want = [Component("acd-1", "acd", T0, "a1"), Component("ivr-1", "ivr", T0, "a1")]
        assert await store.components() == want
        await store._buffer.run(
            lambda: store._buffer.connection.execute(
                "INSERT OR REPLACE INTO influx_meta VALUES ('rolled_until', 42)"
            )
        )
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # first start

        wipe(server)  # InfluxDB restarts empty while the collector runs
        caplog.clear()
        await store.append_samples("a1", "b2", [sample("acd-1", "acd", T0 + 1000)])
        assert await store.components() == want  # ivr-1 written again, not only acd-1
        assert len(await store.read_samples(0, 2**50)) == 1  # the sample after the wipe
        assert (await store.queue_depths())["influx_database_replaced"] == 1
        [warning] = [r for r in caplog.records if r.name == "collector.store.influx"]
        assert REPLACED in warning.getMessage() and "acd-1, ivr-1" in warning.getMessage()
        rolled = await store._buffer.run(
            lambda: store._buffer.connection.execute(
                "SELECT v FROM influx_meta WHERE k = 'rolled_until'"
            ).fetchall()
        )
        assert rolled == []  # the rollup progress belonged to the lost database
        # a re-sent batch is still acknowledged once: batch ids are kept (documented)
        assert not await store.append_samples("a1", "b1", [sample("acd-1", "acd")])
    finally:
        await store.close()


async def test_a_server_swapped_between_two_requests_is_noticed_within_verify_every(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = influxd_factory()
    url = server.store_url("swap")
    store = InfluxStore.from_url(url, state_dir=tmp_path, read_timeout=10, verify_every=0.2)
    await store.open()
    try:
        await store.append_samples("a1", "b1", [sample("acd-1", "acd")])
        assert [c.id for c in await store.components()] == ["acd-1"]
        wipe(server)
        # the new server already has the database (prepared by someone): no request fails
        for q in ('CREATE DATABASE "swap"', 'CREATE RETENTION POLICY "hotline_keep" ON "swap" '
                  "DURATION 430d REPLICATION 1"):  # fmt: skip
            httpx.post(f"{server.url}/query", data={"q": q}, timeout=10).raise_for_status()
        await asyncio.sleep(0.3)
        assert [c.id for c in await store.components()] == ["acd-1"]
        assert any(REPLACED in r.getMessage() for r in caplog.records)
    finally:
        await store.close()


async def test_a_fresh_buffer_file_on_an_existing_database_raises_no_alarm(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = influxd_factory()
    url = server.store_url("fresh")
    first = InfluxStore.from_url(url, state_dir=tmp_path / "one")
    await first.open()
    await first.append_samples("a1", "b1", [sample("acd-1", "acd")])
    await first.close()
    second = InfluxStore.from_url(url, state_dir=tmp_path / "two")
    await second.open()
    assert [c.id for c in await second.components()] == ["acd-1"]
    await second.close()
    again = InfluxStore.from_url(url, state_dir=tmp_path / "one")  # its marker is there
    await again.open()
    assert [c.id for c in await again.components()] == ["acd-1"]
    await again.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_registration_waiting_in_the_buffer_is_no_alarm(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = influxd_factory()
    url = server.store_url("waiting", rp_raw_days="0", rp_keep_days="0")
    store = InfluxStore.from_url(url, state_dir=tmp_path, backoff_max=0.1, read_timeout=10)
    await store.open()
    try:
        await store.append_samples("a1", "b1", [sample("acd-1", "acd")])
        assert [c.id for c in await store.components()] == ["acd-1"]
        server.stop()  # InfluxDB down (not wiped) while a new component registers
        await store.append_samples("a1", "b2", [sample("ivr-1", "ivr")])
        await asyncio.sleep(0.3)  # a failed delivery: the store checks again on its return
        server.start()
        assert [c.id for c in await store.components()] == ["acd-1", "ivr-1"]
        assert not [r for r in caplog.records if r.name == "collector.store.influx"]
    finally:
        await store.close()
