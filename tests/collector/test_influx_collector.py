"""`hotline collector --store influxdb://…` as a real process: InfluxDB stops while results flow,
the collector is killed with -9 holding a backlog, and every result ends up stored once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from collector.domain.timefmt import format_instant
from tests.collector.process import CollectorProcess
from tests.peers.influxd import Influxd, influxd_factory  # noqa: F401

TOKEN = "influx-agent-token"
PER_BATCH = 20


class Collector(CollectorProcess):
    def __init__(self, tmp_path: Path, store_url: str) -> None:
        super().__init__(tmp_path, TOKEN, store_url=store_url)

    def post(self, n: int, t0: int) -> httpx.Response:
        results = [
            {"component": f"seat-{k % 4}", "system": "seat", "probe": "tcp",
             "ts": format_instant(t0 + n * 1000 + k), "ok": True, "reason": "ok",
             "latency_ms": 1.0 + k, "detail": "", "interval": 30}
            for k in range(PER_BATCH)
        ]  # fmt: skip
        return self.post_results(results, f"b{n}")

    def post_results(self, results: list[dict], batch: str | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/results",
            json={"agent": "a1", "batch": batch, "results": results},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )

    def get(self, path: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=10)


@pytest.fixture
def influx_and_collector(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[Influxd, Collector]]:
    server = influxd_factory()
    url = server.store_url("hotline", buffer=str(tmp_path / "influx-buffer.sqlite"))
    collector = Collector(tmp_path, url)
    collector.start()
    yield server, collector
    collector.stop()


def stored_timestamps(server: Influxd) -> list[int]:
    r = httpx.get(
        f"{server.url}/query",
        params={"db": "hotline", "epoch": "ms", "q": 'SELECT "ok" FROM "hotline_raw"."sample"'},
    )
    series = r.json()["results"][0].get("series") or [{"values": []}]
    return sorted(row[0] for row in series[0]["values"])


def test_results_survive_influxdb_down_and_a_kill_9_with_a_backlog_stored_once(
    influx_and_collector: tuple[Influxd, Collector], tmp_path: Path
) -> None:
    server, collector = influx_and_collector
    t0 = int(time.time() * 1000) - 120_000
    for n in range(10):
        assert collector.post(n, t0).status_code == 202
    server.stop()  # InfluxDB goes away while results keep flowing
    for n in range(10, 20):
        r = collector.post(n, t0)
        assert r.status_code == 202 and r.json() == {"accepted": PER_BATCH, "rejected": []}
    assert collector.post(15, t0).status_code == 202  # a re-sent batch: acknowledged again
    health = httpx.get(f"{collector.url}/healthz", timeout=5)
    assert health.status_code == 503  # the store (InfluxDB) is unreachable, and it says so
    collector.kill9()
    with sqlite3.connect(tmp_path / "influx-buffer.sqlite") as db:  # the backlog it left
        [(backlog,)] = db.execute("SELECT SUM(lines) FROM queue")
    assert backlog >= 10 * PER_BATCH

    server.start()
    collector.start()  # drains the backlog: reads flush it before they answer
    assert collector.post(19, t0).status_code == 202  # the agent was unsure: stored once
    for n in range(20, 25):
        assert collector.post(n, t0).status_code == 202
    expected = sorted(t0 + n * 1000 + k for n in range(25) for k in range(PER_BATCH))
    deadline = time.monotonic() + 20
    while stored_timestamps(server) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_timestamps(server) == expected
    # the records written after the samples (outages, incidents) drain too, in their turn
    health = httpx.get(f"{collector.url}/healthz", timeout=5).json()
    while health["queues"]["influx_buffer"] and time.monotonic() < deadline:
        time.sleep(0.05)
        health = httpx.get(f"{collector.url}/healthz", timeout=5).json()
    assert health["queues"]["influx_buffer"] == 0
    log = collector.log.read_text()
    assert "hotline.collector" in log  # it logs at INFO, but not httpx's line per request
    assert "HTTP Request:" not in log


def probe_results(pattern: str, t0: int) -> list[dict]:
    """One result per character, 10 s apart: + ok, - timeout."""
    return [
        {"component": "ivr-1", "system": "ivr", "probe": "sip",
         "ts": format_instant(t0 + i * 10_000), "ok": c == "+",
         "reason": "ok" if c == "+" else "timeout", "interval": 10}
        for i, c in enumerate(pattern)
    ]  # fmt: skip


def test_collector_started_while_influxdb_is_down_serves_and_rebuilds_when_it_returns(
    influx_and_collector: tuple[Influxd, Collector],
) -> None:
    server, collector = influx_and_collector
    t0 = int(time.time() * 1000) - 600_000
    assert collector.post_results(probe_results("++---", t0), "first").status_code == 202
    [before] = collector.get("/api/v1/outages", component="ivr-1").json()["outages"]
    assert before["end"] is None  # an outage open when the collector stops
    collector.stop()
    server.stop()

    collector.start(ready=False)  # InfluxDB is down: not a reason to exit (nor exit 3)
    health = httpx.get(f"{collector.url}/healthz", timeout=5)
    assert health.status_code == 503 and "not ready" in health.json()["reason"]
    assert "hotline_collector_ready 0.0" in httpx.get(f"{collector.url}/metrics", timeout=5).text
    r = collector.post_results(probe_results("-+", t0 + 50_000), "second")
    assert r.status_code == 202 and r.json()["accepted"] == 2  # durable in the local buffer
    r = collector.get("/api/v1/outages")
    assert r.status_code == 503 and "not ready" in r.json()["error"]
    assert collector.proc is not None and collector.proc.poll() is None

    server.start()  # the collector rebuilds its state, with the results it took meanwhile
    deadline = time.monotonic() + 30
    while httpx.get(f"{collector.url}/healthz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, collector.log.read_text()[-3000:]
        time.sleep(0.1)
    [after] = collector.get("/api/v1/outages", component="ivr-1").json()["outages"]
    assert after["id"] == before["id"] and after["start"] == before["start"]
    assert after["end"] == format_instant(t0 + 60_000)  # closed by the result taken while down
    [incident] = collector.get("/api/v1/incidents").json()["incidents"]
    assert incident["restored_at"] == format_instant(t0 + 60_000)
