"""Bad input from agents and operators: a clear 400 or a rejected result naming its field, never
a 500, never one sender's bad input failing another's, never a stored value that breaks reads.

The app runs in-process (httpx.ASGITransport) on the SQLite store, its clock in the test's hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.api.app import create_app
from collector.domain.model import Heartbeat, MaintenanceWindow, Outage, Sample
from collector.domain.timefmt import format_instant
from collector.service import Collector
from collector.store import SqliteStore, StoreError
from tests.collector.conftest import AGENT_TOKEN, OPERATOR_TOKEN, T0, Clock, make_config

S = 1000
DAY = 86_400 * S


@dataclasses.dataclass
class App:
    collector: Collector
    clock: Clock
    agent: httpx.AsyncClient
    operator: httpx.AsyncClient
    store: SqliteStore


@contextlib.asynccontextmanager
async def in_process(tmp_path: Path, **config: Any) -> AsyncIterator[App]:
    """The collector's ASGI app on a fresh SQLite store, started, with an agent's and an
    operator's client."""
    clock = Clock()
    store = SqliteStore(tmp_path / "store.db")
    collector = Collector(dataclasses.replace(make_config(tmp_path), **config), store, clock=clock)
    await collector.start(background=False)
    transport = httpx.ASGITransport(app=create_app(collector, lifecycle=False))
    base = "http://collector"
    agent = httpx.AsyncClient(
        transport=transport, base_url=base, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
    )
    operator = httpx.AsyncClient(
        transport=transport, base_url=base, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    try:
        yield App(collector, clock, agent, operator, store)
    finally:
        await agent.aclose()
        await operator.aclose()
        await collector.stop()


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with in_process(tmp_path) as a:
        yield a


def result(at: int = T0, ok: bool = True, **kw: Any) -> dict[str, Any]:
    out = {
        "component": "ivr-1",
        "system": "ivr",
        "probe": "sip",
        "ts": format_instant(at),
        "ok": ok,
        "reason": "ok" if ok else "timeout",
        "detail": "",
        "latency_ms": 2.5,
        "interval": 10,
    }
    out.update(kw)
    return out


async def post_raw(app: App, text: str, batch: str | None = None) -> httpx.Response:
    """A batch whose results are given as JSON text (to send what json= cannot)."""
    head = '{"agent": "a1", ' + (f'"batch": "{batch}", ' if batch else "")
    return await app.agent.post(
        "/api/v1/results",
        content=(head + '"results": [' + text + "]}").encode(),
        headers={"content-type": "application/json"},
    )


def fields(r: httpx.Response) -> list[tuple[int, str]]:
    assert r.status_code == 202, r.text
    return [(x["index"], x["field"]) for x in r.json()["rejected"]]


# -- results --------------------------------------------------------------------------------
async def test_unhashable_system_and_reason_are_rejected_naming_the_field(app: App) -> None:
    r = await app.agent.post(
        "/api/v1/results",
        json={"agent": "a1", "results": [result(system=[]), result(ok=False, reason={}), result()]},
    )
    assert fields(r) == [(0, "system"), (1, "reason")]
    assert r.json()["accepted"] == 1


async def test_a_count_over_the_bound_is_rejected_naming_count(app: App) -> None:
    until = format_instant(T0)
    r = await app.agent.post(
        "/api/v1/results",
        json={
            "agent": "a1",
            "results": [
                result(T0 - 60 * S, count=2**63, until=until),
                result(T0 - 60 * S, count=2**31, until=until),
                result(T0 - 60 * S, count=1.0),
                result(T0 - 60 * S, count=3, until=until),
            ],
        },
    )
    assert fields(r) == [(0, "count"), (1, "count"), (2, "count")]
    assert r.json()["accepted"] == 1


@pytest.mark.parametrize("key", ["component", "probe", "detail"])
async def test_a_lone_surrogate_is_rejected_naming_its_field(app: App, key: str) -> None:
    good = result(T0 - S)
    bad = result(T0)
    bad[key] = "PLACEHOLDER"
    surrogate = "x\\ud800"  # JSON's escape of a lone surrogate
    text = _json(good) + ", " + _json(bad).replace("PLACEHOLDER", surrogate)
    r = await post_raw(app, text)
    assert fields(r) == [(1, key)]
    assert r.json()["accepted"] == 1
    assert len(await app.store.read_samples(0, T0 + S)) == 1


async def test_value_must_be_finite_small_json(app: App) -> None:
    big = "x" * 5000
    text = ", ".join(
        [
            _json(result(value=42)),
            _json(result(value="PLACEHOLDER")).replace('"PLACEHOLDER"', "NaN"),
            _json(result(value="PLACEHOLDER")).replace('"PLACEHOLDER"', "Infinity"),
            _json(result(value=big)),
            _json(result(value=_nested(20))),
            _json(result(value="PLACEHOLDER")).replace("PLACEHOLDER", "\\udc00"),
        ]
    )
    r = await post_raw(app, text)
    assert fields(r) == [(1, "value"), (2, "value"), (3, "value"), (4, "value"), (5, "value")]


async def test_latency_and_interval_are_bounded(app: App) -> None:
    r = await app.agent.post(
        "/api/v1/results",
        json={
            "agent": "a1",
            "results": [result(latency_ms=1e300), result(interval=1e300), result(interval=60)],
        },
    )
    assert fields(r) == [(0, "latency_ms"), (1, "interval")]


async def test_a_batch_id_must_be_short_printable_text(app: App) -> None:
    for batch in ["b" * 200_000, "b" * 201, "two\nlines", ""]:
        r = await app.agent.post(
            "/api/v1/results", json={"agent": "a1", "batch": batch, "results": [result()]}
        )
        assert r.status_code == 400 and r.json()["error"].startswith("batch:")
    r = await app.agent.post(
        "/api/v1/results", json={"agent": "a1", "batch": "b" * 200, "results": [result()]}
    )
    assert r.status_code == 202


@pytest.mark.parametrize(
    "ts",
    ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-12:00", "1999-12-31T23:59:59+08:00"],
)
async def test_instants_outside_the_sane_years_are_rejected_naming_the_field(
    app: App, ts: str
) -> None:
    r = await app.agent.post(
        "/api/v1/results",
        json={
            "agent": "a1",
            "results": [
                result(ts=ts),
                result(T0 - 60 * S, ok=False, count=2, until=ts),
                result(T0),
            ],
        },
    )
    assert fields(r) == [(0, "ts"), (1, "until")]
    assert "2000..2099" in r.json()["rejected"][0]["error"]


async def test_results_older_than_the_retention_are_rejected_naming_ts(tmp_path: Path) -> None:
    async with in_process(tmp_path, keep_days=400.0) as app:
        r = await app.agent.post(
            "/api/v1/results",
            json={
                "agent": "a1",
                "results": [result(T0 - 401 * DAY), result(T0 - 399 * DAY), result(T0)],
            },
        )
        assert fields(r) == [(0, "ts")]
        assert "keep_days" in r.json()["rejected"][0]["error"]


async def test_json_nested_too_deep_is_a_400(app: App) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    r = await post_raw(app, f"{_json(result())}, {deep}")
    assert r.status_code == 400 and "nested too deep" in r.json()["error"]
    r = await app.operator.post(
        "/api/v1/maintenance", content=deep, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400


# -- heartbeats, windows, incidents, query parameters ----------------------------------------
async def test_heartbeat_instants_numbers_and_objects_are_checked(app: App) -> None:
    good = {"agent": "a1", "sent_at": format_instant(T0)}
    for body, field in [
        ({**good, "sent_at": "0001-01-01T00:00:00Z"}, "sent_at"),
        ({**good, "sent_at": "9999-12-31T23:59:59-12:00"}, "sent_at"),
        ({**good, "interval": 1e300}, "interval"),
        ({**good, "health": {"x": "y" * 70_000}}, "health"),
    ]:
        r = await app.agent.post("/api/v1/heartbeat", json=body)
        assert r.status_code == 400 and r.json()["error"].startswith(f"{field}:"), r.text
    for text, field in [
        ('{"agent": "a1", "sent_at": "%s", "interval": NaN}', "interval"),
        ('{"agent": "a1", "sent_at": "%s", "spool": {"x": Infinity}}', "spool"),
    ]:
        r = await app.agent.post(
            "/api/v1/heartbeat",
            content=(text % format_instant(T0)).encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["error"].startswith(f"{field}:"), r.text
    r = await app.agent.get("/api/v1/status")
    assert r.status_code == 200 and r.json()["agents"] == []


async def test_window_instants_and_durations_are_bounded(app: App) -> None:
    start = format_instant(T0)
    for body, field in [
        ({"start": start, "end": "9999-12-31T23:59:59-12:00"}, "end"),
        ({"start": "0001-01-01T00:00:00Z", "end": start}, "start"),
        ({"start": start, "duration": 1e300}, "duration"),
        ({"start": start, "duration": "99999999999999d"}, "duration"),
        ({"start": start, "duration": float("nan")}, "duration"),
        ({"start": start, "duration": 3600, "reason": "x\ud800"}, "body"),
    ]:
        r = await app.operator.post(
            "/api/v1/maintenance",
            content=_json({"components": ["*"], **body}).encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error.startswith(f"{field}:") or (field == "body" and "surrogate" in error), error
    assert (await app.agent.get("/api/v1/maintenance")).json() == {"windows": []}


async def test_incident_instants_are_bounded(app: App) -> None:
    await app.agent.post("/api/v1/results", json={"agent": "a1", "results": [result()]})
    r = await app.operator.post(
        "/api/v1/incidents",
        json={"components": ["ivr-1"], "title": "audio", "detected_at": "0001-01-01T00:00Z"},
    )
    assert r.status_code == 400 and r.json()["error"].startswith("detected_at:")
    r = await app.operator.post(
        "/api/v1/incidents", json={"components": ["ivr-1"], "title": "one-way audio"}
    )
    assert r.status_code == 201
    iid = r.json()["id"]
    r = await app.operator.post(
        f"/api/v1/incidents/{iid}/restore", json={"at": "9999-12-31T23:59:59-12:00"}
    )
    assert r.status_code == 400 and r.json()["error"].startswith("at:")


async def test_query_instants_and_months_are_bounded(app: App) -> None:
    for path, params, field in [
        ("/api/v1/facts", {"month": "0001-01"}, "month"),
        ("/api/v1/facts", {"month": "2100-01"}, "month"),
        ("/api/v1/incidents", {"month": "0001-01"}, "month"),
        ("/api/v1/outages", {"from": "0001-01-01T00:00:00Z"}, "from"),
        ("/api/v1/outages", {"to": "9999-12-31T23:59:59-12:00"}, "to"),
    ]:
        r = await app.agent.get(path, params=params)
        assert r.status_code == 400 and r.json()["error"].startswith(f"{field}:"), r.text
    assert (await app.agent.get("/api/v1/facts", params={"month": "2099-12"})).status_code == 200


# -- reads survive bad records stored by an older version ------------------------------------
async def test_reads_survive_records_with_instants_out_of_range(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    year1 = -62_135_596_800_000 - 3_600_000  # 0001-01-01T00:00:00+01:00: before year 1 in UTC
    y9999 = 253_402_343_999_000  # 9999-12-31T23:59:59-12:00
    await store.append_samples("a1", None, [Sample("a1", "ivr-1", "ivr", "sip", T0, True, "ok")])
    await store.record_heartbeat(Heartbeat("a1", T0, year1))
    await store.record_heartbeat(Heartbeat("a2", T0, y9999))
    await store.upsert_window(MaintenanceWindow("mw-old", ("*",), T0, y9999, created_at=T0))
    await store.upsert_window(MaintenanceWindow("mw-y1", ("*",), year1, T0, created_at=T0))
    await store.upsert_window(
        MaintenanceWindow("mw-rr", ("*",), year1, T0, created_at=T0, rrule="FREQ=DAILY")
    )
    await store.upsert_window(MaintenanceWindow("mw-ok", ("ivr-1",), T0, T0 + 3600 * S))
    await store.upsert_outages([Outage("ivr-1@old", "ivr-1", year1, None, detected_at=year1)])
    await store.close()
    async with in_process(tmp_path) as app:
        r = await app.agent.get("/api/v1/status")
        assert r.status_code == 200, r.text
        assert {a["agent"]: a["sent_at"] for a in r.json()["agents"]} == {"a1": None, "a2": None}
        r = await app.agent.get("/api/v1/maintenance")
        assert r.status_code == 200
        assert [w["id"] for w in r.json()["windows"]] == ["mw-ok"]
        r = await app.agent.get("/api/v1/facts", params={"month": "2026-11"})
        assert r.status_code == 200, r.text
        assert r.json()["outages"] == []
        assert [w["id"] for w in r.json()["maintenance_windows"]] == ["mw-ok"]
        r = await app.agent.get("/api/v1/outages")
        assert r.status_code == 200, r.text


# -- one sender's bad batch never fails another's ---------------------------------------------
async def test_a_bad_batch_in_a_group_commit_fails_only_itself(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:

        def sample(agent: str, k: int, **kw: Any) -> Sample:
            return Sample(agent, f"seat-{k}", "seat", "tcp", T0 + k, True, "ok", **kw)

        goods = [store.append_samples(f"a{n}", f"b{n}", [sample(f"a{n}", n)]) for n in range(60)]
        bads = [
            store.append_samples("x1", "bx1", [sample("x1", 1000, detail="\ud800")]),
            store.append_samples("x2", "bx2", [sample("x2", 1001, count=2**63, until=T0)]),
            store.append_samples("x3", "\ud800", [sample("x3", 1002)]),
        ]
        outcomes = await asyncio.gather(*goods[:30], *bads, *goods[30:], return_exceptions=True)
        assert outcomes[:30] == outcomes[33:] == [True] * 30
        assert all(isinstance(o, StoreError) for o in outcomes[30:33]), outcomes[30:33]
        stored = await store.read_samples(0, T0 + 10_000)
        assert sorted(s.agent for s in stored) == sorted(f"a{n}" for n in range(60))
    finally:
        await store.close()


async def test_concurrent_batches_with_bad_results_beside_good_ones(app: App) -> None:
    """120 agents' batches at once, one with a lone surrogate and a count of 2^63: every
    batch is answered 202, the bad results are rejected naming their field, the rest stored."""

    def batch(n: int) -> str:
        return _json(result(T0 - n * S, component=f"seat-{n}", system="seat"))

    bad = ", ".join(
        [
            _json(result(T0, detail="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800"),
            _json(result(T0 - 60 * S, count=2**63, until=format_instant(T0))),
            _json(result(T0 - 2 * S)),
        ]
    )
    answers = await asyncio.gather(
        *(post_raw(app, batch(n), batch=f"b{n}") for n in range(60)),
        post_raw(app, bad, batch="bad"),
        *(post_raw(app, batch(n), batch=f"b{n}") for n in range(60, 120)),
    )
    assert [a.status_code for a in answers] == [202] * 121
    assert fields(answers[60]) == [(0, "detail"), (1, "count")]
    assert sum(a.json()["accepted"] for a in answers) == 121
    assert len(await app.store.read_samples(0, T0 + S)) == 121


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value
