"""The collector on InfluxDB while InfluxDB is down: /healthz and /metrics show the backlog and
say why, ingest keeps answering 202 (in process, on a real uvicorn and a real influxd)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from collector.domain.timefmt import format_instant
from collector.service import Collector
from collector.store.influx.store import InfluxStore
from tests.collector.conftest import T0, Clock, Served, make_config, serve
from tests.peers.influxd import Influxd, influxd_factory  # noqa: F401

S = 1000


def results(n: int, t0: int, **kw: object) -> list[dict]:
    out = []
    for i in range(n):
        r = {"component": f"seat-{i % 3}", "system": "seat", "probe": "tcp",
             "ts": format_instant(t0 + i * S), "ok": True, "reason": "ok",
             "interval": 10}  # fmt: skip
        r.update(kw)
        out.append(r)
    return out


@pytest.fixture
async def on_influx(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[tuple[Influxd, Served]]:
    server = influxd_factory()
    url = server.store_url("hotline", rp_raw_days="0", rp_keep_days="0")  # timeout 10 s
    store = InfluxStore.from_url(
        url, state_dir=tmp_path, backoff_max=0.2, read_timeout=2.0, close_timeout=0.2
    )
    collector = Collector(make_config(tmp_path), store, clock=Clock())
    async with serve(collector) as served:
        yield server, served


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


async def test_healthz_and_metrics_show_the_backlog_while_influxdb_is_down(
    on_influx: tuple[Influxd, Served],
) -> None:
    server, served = on_influx
    anon = httpx.AsyncClient(base_url=served.url, timeout=10)
    r = await anon.get("/healthz")
    assert r.status_code == 200 and r.json()["queues"]["influx_buffer"] == 0
    server.stop()
    for n in range(3):
        body = {"agent": "a1", "batch": f"b{n}", "results": results(10, T0 - 600 * S + n * 10 * S)}
        r = await served.agent.post("/api/v1/results", json=body)
        assert r.status_code == 202 and r.json()["accepted"] == 10  # durable in the buffer
    assert (await served.agent.post("/api/v1/results", json=body)).status_code == 202  # again
    bad = results(2, T0 - 60 * S)
    bad[1]["ts"] = "yesterday"
    r = await served.agent.post("/api/v1/results", json={"agent": "a1", "results": bad})
    assert r.json()["rejected"][0]["field"] == "ts"

    r = await anon.get("/healthz")
    assert r.status_code == 503
    health = r.json()
    assert health["store"] is False and health["reason"] == "store unavailable"  # anonymous
    full = (await served.operator.get("/healthz")).json()["reason"]  # a token: the full reason
    assert "not reachable" in full and f":{server.http_port}/hotline" in full
    assert str(server.http_port) not in r.text  # nor the host and database to an anonymous one
    assert health["queues"]["influx_buffer"] >= 31  # 31 samples (and 3 registrations) wait
    assert health["queues"]["influx_failing"] == 1

    r = await anon.get("/metrics")
    assert r.status_code == 200  # answers from memory while the store is down
    text = r.text
    assert metric(text, "hotline_store_influx_buffer") == health["queues"]["influx_buffer"]
    assert metric(text, "hotline_store_influx_failing") == 1
    assert metric(text, "hotline_store_healthy") == 0
    assert metric(text, "hotline_collector_ready") == 1  # started with InfluxDB up: state known
    assert metric(text, "hotline_results_accepted_total") == 31
    assert metric(text, 'hotline_results_rejected_total{field="ts"}') == 1
    assert metric(text, "hotline_batches_duplicate_total") == 1

    server.start()  # the backlog drains; healthy again
    for _ in range(200):
        r = await anon.get("/healthz")
        if r.status_code == 200 and r.json()["queues"]["influx_buffer"] == 0:
            break
        await asyncio.sleep(0.05)
    assert r.status_code == 200 and "reason" not in r.json()
    text = (await anon.get("/metrics")).text
    assert metric(text, "hotline_store_influx_buffer") == 0
    assert metric(text, "hotline_store_healthy") == 1
    await anon.aclose()


async def in_progress(anon: httpx.AsyncClient, endpoint: str) -> float:
    text = (await anon.get("/metrics")).text
    return metric(text, f'hotline_api_requests_in_progress{{endpoint="{endpoint}"}}')


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [
        ("POST", "/api/v1/incidents/INC-404/ack", "ack_incident"),
        ("DELETE", "/api/v1/maintenance/mw-1", "remove_window"),
    ],
)
async def test_ingest_answers_while_an_operator_request_waits_for_influxdb(
    on_influx: tuple[Influxd, Served], method: str, path: str, endpoint: str
) -> None:
    server, served = on_influx
    window = {"components": ["seat-0"], "start": format_instant(T0 + 3600 * S),
              "duration": "1h", "reason": "upgrade", "approval_ref": "CR-1",
              "new_component": True}  # fmt: skip
    r = await served.operator.put("/api/v1/maintenance/mw-1", json=window)
    assert r.status_code == 404  # (a window is created with POST; its id is the collector's)
    r = await served.operator.post("/api/v1/maintenance", json=window)
    path = path.replace("mw-1", r.json()["id"])
    server.stop()
    body = {"agent": "a1", "results": results(5, T0 - 600 * S)}
    assert (await served.agent.post("/api/v1/results", json=body)).status_code == 202
    # a backlog: the operator's read waits (read_timeout) for the buffer to reach InfluxDB
    anon = httpx.AsyncClient(base_url=served.url, timeout=10)
    operator = asyncio.create_task(served.operator.request(method, path))
    while await in_progress(anon, endpoint) < 1:
        assert not operator.done(), operator.result().text
        await asyncio.sleep(0.01)
    for n in range(3):
        body = {"agent": "a1", "batch": f"during-{n}", "results": results(5, T0 - 500 * S + n)}
        r = await served.agent.post("/api/v1/results", json=body)
        assert r.status_code == 202 and r.json()["accepted"] == 5
    assert not operator.done()  # ingest did not queue behind the operator's store read
    r = await operator
    assert r.status_code == 503 and "not reachable" in r.json()["error"]
    await anon.aclose()


async def test_batches_taken_before_and_during_the_rebuild_are_applied_once(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    from collector.domain.ingest import parse_batch
    from collector.store import SqliteStore
    from tests.collector.test_ingest_concurrency import body

    server = influxd_factory()
    url = server.store_url("hotline", rp_raw_days="0", rp_keep_days="0", timeout="1")
    server.stop()
    store = InfluxStore.from_url(url, state_dir=tmp_path, backoff_max=0.1, read_timeout=1.0)
    collector = Collector(make_config(tmp_path), store, clock=Clock())
    await collector.start(background=False)  # InfluxDB down: started, not ready
    assert not collector.ready and "not ready" in await collector.health()
    n, sent_unready = 160, 0

    async def sender(k: int) -> None:  # 4 agents' steady streams while InfluxDB comes back
        nonlocal sent_unready
        for i in range(k, n, 4):
            batch = parse_batch(body(i), collector.systems, collector.clock())
            sent_unready += not collector.ready
            assert not (await collector.ingest(batch)).duplicate
            await asyncio.sleep(0.02)

    await asyncio.gather(asyncio.to_thread(server.start), *(sender(k) for k in range(4)))
    assert 0 < sent_unready < n, "the rebuild should land mid-stream"
    for _ in range(100):
        if collector.ready:
            break
        await asyncio.sleep(0.1)
    assert collector.ready and await collector.health() == ""
    reference = Collector(make_config(tmp_path / "ref"), SqliteStore(tmp_path / "ref.db"), Clock())
    await reference.start(background=False)
    everything = [r for i in range(n) for r in body(i)["results"]]
    await reference.ingest(parse_batch({"agent": "a1", "results": everything}, {}, T0))
    assert [o.component for o in collector.engine.outages() if o.kind == "down"] == ["seat-1"]
    assert collector.engine.outages() == reference.engine.outages()
    assert len(await store.read_samples(T0 - 7200 * S, T0)) == len(everything)
    await reference.stop()
    await collector.stop()


async def test_healthz_answers_soon_when_influxdb_hangs(
    on_influx: tuple[Influxd, Served],
) -> None:
    server, served = on_influx
    server.pause()  # accepts connections, never answers (the store's own timeout is 10 s)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=5) as anon:
            r = await anon.get("/healthz")
        full = await served.operator.get("/healthz", timeout=5)
    finally:
        server.resume()
    assert r.status_code == 503 and r.json()["reason"] == "store unavailable"
    assert full.status_code == 503 and "Timeout" in full.json()["reason"]
