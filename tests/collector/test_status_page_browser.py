"""The status page in headless Chromium against a real collector process and a real SIP peer:
load it with `#token=…`, stop the peer, see the seat's tile marked `down` (故障); restart it,
see the mark go. Each look is one `chromium --headless --dump-dom` after a virtual-time budget
long enough for the page's script to fetch the API and poll it again (one snapshot per launch).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time

import httpx
import pytest

from collector.domain.timefmt import format_instant
from probes import run_probe
from tests.collector.process import AGENT_TOKEN, OPERATOR_TOKEN, CollectorProcess
from tests.conftest import require_program
from tests.peers.chromium import FLAGS
from tests.peers.kamailio import Kamailio

SEATS = ["seat-01", "seat-02", "seat-03", "seat-04"]
WATCHED = "seat-02"  # probed against the real kamailio


@pytest.fixture
def browser() -> str:
    return require_program("chromium", "the status page's browser test")


def load(browser: str, url: str, budget_ms: int = 8000) -> str:
    """The page's DOM after `budget_ms` of virtual time (its fetches to the collector run)."""
    profile = tempfile.mkdtemp(prefix="hotline-chromium-")
    try:
        done = subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
             "--dump-dom", url],
            capture_output=True, timeout=90, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode("utf-8")


def tile(dom: str, component: str) -> tuple[set[str], str]:
    """The classes and text of a component's element."""
    m = re.search(
        rf'<div class="([^"]*)" id="component-{re.escape(component)}"[^>]*>(.*?)</div>', dom, re.S
    )
    assert m, f"no element for {component} in the page:\n{dom[-3000:]}"
    return set(m.group(1).split()), re.sub(r"<[^>]+>", " ", m.group(2))


async def post(client: httpx.AsyncClient, results: list[dict]) -> None:
    ts = time.time_ns() // 1_000_000
    body = {"agent": "a1", "batch": f"b-{ts}-{len(results)}", "results": results}
    r = await client.post("/api/v1/results", json=body)
    assert r.status_code == 202 and r.json()["rejected"] == [], r.text


async def probe_round(client: httpx.AsyncClient, target: str) -> bool:
    """The watched seat probed for real, the others reported up, the ACD up."""
    res = await run_probe("sip", target, {}, timeout=1.0)
    now = format_instant(time.time_ns() // 1_000_000)
    base = {"probe": "sip", "ts": now, "interval": 10}
    results = [{"component": WATCHED, "system": "seat", **base, **res.to_dict()}]
    for c, system in [*((s, "seat") for s in SEATS if s != WATCHED), ("acd-1", "acd")]:
        results.append({"component": c, "system": system, **base, "ok": True,
                        "latency_ms": 1.0, "reason": "ok", "detail": ""})  # fmt: skip
    await post(client, results)
    await asyncio.sleep(0.01)
    return res.ok


async def test_a_stopped_peer_turns_its_tile_down_and_a_restarted_one_clears_it(
    browser: str, collector_proc: CollectorProcess, sip_server: Kamailio
) -> None:
    page = f"{collector_proc.url}/#token={AGENT_TOKEN}"
    target = f"sip:127.0.0.1:{sip_server.port}"
    async with httpx.AsyncClient(
        base_url=collector_proc.url, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
    ) as agent:
        assert await probe_round(agent, target)
        dom = await asyncio.to_thread(load, browser, page)
        classes, text = tile(dom, WATCHED)
        assert "down" not in classes and "故障" not in text and "up" in classes
        assert all(name in dom for name in SEATS)
        assert 'id="system-acd"' in dom and "排队机" in dom

        sip_server.stop()
        assert not any([await probe_round(agent, target) for _ in range(3)])  # down_after: 3
        dom = await asyncio.to_thread(load, browser, page)
        classes, text = tile(dom, WATCHED)
        assert "down" in classes and "故障" in text
        for other in SEATS:
            if other != WATCHED:
                assert "down" not in tile(dom, other)[0]
        assert 'class="incident"' in dom  # the incident the outage opened, its id shown
        [inc] = (await agent.get("/api/v1/incidents?open=true")).json()["incidents"]
        assert inc["id"] in dom

        restarted = Kamailio(port=sip_server.port).start()
        try:
            assert await probe_round(agent, target)
        finally:
            restarted.stop()
        dom = await asyncio.to_thread(load, browser, page)
        classes, text = tile(dom, WATCHED)
        assert "down" not in classes and "故障" not in text


async def test_an_operator_token_works_and_a_wrong_token_shows_no_component(
    browser: str, collector_proc: CollectorProcess
) -> None:
    async with httpx.AsyncClient(
        base_url=collector_proc.url, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
    ) as agent:
        now = format_instant(time.time_ns() // 1_000_000)
        await post(agent, [{"component": "seat-01", "system": "seat", "probe": "sip", "ts": now,
                            "interval": 10, "ok": True, "latency_ms": 1.0, "reason": "ok",
                            "detail": ""}])  # fmt: skip
    dom = await asyncio.to_thread(load, browser, f"{collector_proc.url}/#token={OPERATOR_TOKEN}")
    assert "up" in tile(dom, "seat-01")[0]
    dom = await asyncio.to_thread(load, browser, f"{collector_proc.url}/#token=not-a-token")
    assert "seat-01" not in dom and 'id="component-' not in dom
    assert "令牌无效" in dom
    dom = await asyncio.to_thread(load, browser, f"{collector_proc.url}/")
    assert "seat-01" not in dom and 'id="token-input"' in dom
