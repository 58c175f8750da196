"""End to end with real processes: `hotline collector` as a subprocess, real SIP probe results
against a real kamailio that the test stops and starts, `hotline maint` / `hotline incident`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from collector.domain.timefmt import format_instant
from probes import run_probe
from tests.collector.process import AGENT_TOKEN, OPERATOR_TOKEN, REPO, CollectorProcess
from tests.peers.kamailio import Kamailio


@pytest.fixture
async def agent(collector_proc: CollectorProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=collector_proc.url, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
    ) as client:
        yield client


@pytest.fixture
async def operator(collector_proc: CollectorProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=collector_proc.url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    ) as client:
        yield client


class Prober:
    """Plays the agent: runs the real sip probe and posts each result as it comes."""

    def __init__(self, port: int) -> None:
        self.target = f"sip:127.0.0.1:{port}"
        self.n = 0

    async def probe_and_post(self, client: httpx.AsyncClient) -> tuple[int, bool]:
        ts = time.time_ns() // 1_000_000
        res = await run_probe("sip", self.target, {}, timeout=1.0)
        self.n += 1
        body = {
            "agent": "a1",
            "batch": f"b-{ts}-{self.n}",
            "results": [
                {"component": "ivr-1", "system": "ivr", "probe": "sip", "ts": format_instant(ts),
                 "interval": 10, **res.to_dict()}
            ],
        }  # fmt: skip
        r = await client.post("/api/v1/results", json=body)
        assert r.status_code == 202, r.text
        assert r.json() == {"accepted": 1, "rejected": []}
        await asyncio.sleep(0.01)  # distinct millisecond timestamps
        return ts, res.ok


async def ivr_outages(client: httpx.AsyncClient) -> list[dict]:
    r = await client.get("/api/v1/outages", params={"component": "ivr-1"})
    return r.json()["outages"]


async def test_stopping_kamailio_gives_an_outage_from_the_first_failed_sample_and_an_incident(
    collector_proc: CollectorProcess,
    sip_server: Kamailio,
    agent: httpx.AsyncClient,
    operator: httpx.AsyncClient,
) -> None:
    prober = Prober(sip_server.port)
    assert (await prober.probe_and_post(agent))[1]
    sip_server.stop()
    failed = [await prober.probe_and_post(agent) for _ in range(3)]
    assert not any(ok for _, ok in failed)
    [o] = await ivr_outages(agent)
    assert (o["start"], o["end"], o["kind"]) == (format_instant(failed[0][0]), None, "fault")
    [inc] = (await operator.get("/api/v1/incidents")).json()["incidents"]
    assert inc["detected_at"] == format_instant(failed[2][0])
    assert inc["first_failed_at"] == format_instant(failed[0][0])

    acked = collector_proc.cli("incident", "ack", inc["id"])
    assert acked.returncode == 0, acked.stderr
    restarted = Kamailio(port=sip_server.port).start()
    try:
        ts, ok = await prober.probe_and_post(agent)
    finally:
        restarted.stop()
    assert ok
    [o] = await ivr_outages(agent)
    assert o["end"] == format_instant(ts)
    got = (await operator.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["restored_at"] == format_instant(ts)
    assert got["responded_by"] == "ops-wang"
    draft = collector_proc.cli("incident", "draft", inc["id"])
    assert draft.returncode == 0 and f"# 故障书面报告：{inc['id']}" in draft.stdout
    assert "运维人员响应" in draft.stdout
    report = collector_proc.cli("incident", "report", inc["id"], "--ref", "https://oa/r/1")
    assert report.returncode == 0, report.stderr
    listed = collector_proc.cli("incident", "list")
    assert inc["id"] in listed.stdout and "restored" in listed.stdout
    excluded = collector_proc.cli(
        "incident", "exclude", o["id"], "--reason", "carrier fault", "--approved-by", "center-li"
    )
    assert excluded.returncode == 0, excluded.stderr
    assert "EXCLUDED" in collector_proc.cli("incident", "outages", "--component", "ivr-1").stdout
    month = inc["detected_at"][:7]
    scored = subprocess.run(
        [sys.executable, "-m", "hotline", "score", "--collector", collector_proc.url,
         "--month", month, "--token-file", str(collector_proc.dir / "ops.token"),
         "--format", "json"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    report = json.loads(scored.stdout)
    assert report["month"] == month
    assert report["items"]["fault_response"]["evidence"]["counted"] >= 1
    assert "excluded" in {f["type"] for f in report["flags"]}


async def test_outage_inside_a_maintenance_window_is_maintenance_not_fault(
    collector_proc: CollectorProcess,
    sip_server: Kamailio,
    agent: httpx.AsyncClient,
    operator: httpx.AsyncClient,
) -> None:
    start = format_instant(time.time_ns() // 1_000_000 - 1000)
    prober = Prober(sip_server.port)
    await prober.probe_and_post(agent)  # ivr-1 reports: a window may name it
    added = collector_proc.cli(
        "maint", "add", "--components", "ivr-1", "--start", start, "--duration", "10m",
        "--reason", "kamailio upgrade", "--approval", "CR-42",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    window_id = added.stdout.strip()
    sip_server.stop()
    for _ in range(3):
        await prober.probe_and_post(agent)
    [o] = await ivr_outages(agent)
    assert o["kind"] == "maintenance"
    assert (await operator.get("/api/v1/incidents")).json()["incidents"] == []
    listed = collector_proc.cli("maint", "list")
    assert window_id in listed.stdout and "CR-42" in listed.stdout and "ops-wang" in listed.stdout
    assert collector_proc.cli("maint", "rm", window_id).returncode == 0
    assert window_id not in collector_proc.cli("maint", "list").stdout
    bad = collector_proc.cli("maint", "rm", window_id)
    assert bad.returncode == 3 and "404" in bad.stderr  # the caller's mistake: a usage error


async def test_kill_9_mid_outage_then_the_outage_continues_and_closes(
    collector_proc: CollectorProcess, sip_server: Kamailio
) -> None:
    prober = Prober(sip_server.port)
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    async with httpx.AsyncClient(base_url=collector_proc.url, headers=headers) as client:
        await prober.probe_and_post(client)
        sip_server.stop()
        first_failed = (await prober.probe_and_post(client))[0]
        for _ in range(2):
            await prober.probe_and_post(client)
        [before] = await ivr_outages(client)
        assert before["end"] is None
    collector_proc.kill9()
    collector_proc.start()
    async with httpx.AsyncClient(base_url=collector_proc.url, headers=headers) as client:
        await prober.probe_and_post(client)  # still failing after the restart
        restarted = Kamailio(port=sip_server.port).start()
        try:
            back, ok = await prober.probe_and_post(client)
        finally:
            restarted.stop()
        assert ok
        outages = await ivr_outages(client)
        assert [(o["id"], o["start"], o["end"]) for o in outages] == [
            (before["id"], format_instant(first_failed), format_instant(back))
        ]
        incidents = (await client.get("/api/v1/incidents")).json()["incidents"]
        assert len(incidents) == 1 and incidents[0]["restored_at"] == format_instant(back)


async def test_bad_tokens_batches_duplicates_and_skew_against_the_process(
    collector_proc: CollectorProcess, agent: httpx.AsyncClient
) -> None:
    now = time.time_ns() // 1_000_000
    good = {"component": "acd-1", "system": "acd", "probe": "tcp", "ts": format_instant(now),
            "ok": True, "latency_ms": 1.0, "reason": "ok", "detail": ""}  # fmt: skip
    future = {**good, "ts": format_instant(now + 3_600_000)}
    r = await agent.post("/api/v1/results", json={"agent": "a1", "batch": "x", "results": [good]},
                         headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert r.status_code == 401
    body = {"agent": "a1", "batch": "x", "results": [good, future, {"component": "acd-1"}]}
    first = await agent.post("/api/v1/results", json=body)
    again = await agent.post("/api/v1/results", json=body)
    assert first.status_code == again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True}
    assert first.json()["accepted"] == 1
    assert [(x["index"], x["field"]) for x in first.json()["rejected"]] == [
        (1, "ts"),
        (2, "system"),
    ]
    r = await agent.post(
        "/api/v1/results", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    facts = (await agent.get("/api/v1/facts", params={"month": time.strftime("%Y-%m")})).json()
    assert "acd-1" in {c["id"] for c in facts["components"]}
