"""`hotline status`: the status page in the terminal, as a subprocess against a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.collector.conftest import AGENT_TOKEN, OPERATOR_TOKEN, T0, Served
from tests.collector.test_api import pattern, post

S = 1000
REPO = Path(__file__).resolve().parents[2]


async def hotline_status(
    url: str, *args: str, token: str | None = AGENT_TOKEN
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_TOKEN"}
    if token is not None:
        env["HOTLINE_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", "status", "--collector", url, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=REPO,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _seed(served: Served) -> None:
    await post(served, pattern("++++", T0 - 30 * S, component="acd-1", system="acd"), batch="b1")
    await post(served, pattern("++++", T0 - 30 * S, component="seat-01", system="seat"), batch="b2")
    await post(served, pattern("+---", T0 - 30 * S, component="seat-02", system="seat"), batch="b3")
    await served.collector.tick()


async def test_status_prints_systems_seats_and_the_open_incident_with_its_clocks(
    served_over_http: Served,
) -> None:
    await _seed(served_over_http)
    code, out, err = await hotline_status(served_over_http.url, "--plain")
    assert code == 0, err
    assert "排队机" in out and "座席终端" in out and "acd-1  正常" in out
    assert "seat-01■" in out and "seat-02✗" in out
    [inc] = (await served_over_http.agent.get("/api/v1/incidents?open=true")).json()["incidents"]
    line = next(x for x in out.splitlines() if inc["id"] in x)
    assert "响应 " in line and "/ 限 " in line


async def test_status_with_rich_and_as_json(served_over_http: Served) -> None:
    await _seed(served_over_http)
    code, out, err = await hotline_status(served_over_http.url, token=OPERATOR_TOKEN)
    assert code == 0, err
    assert "热线平台运行状态" in out and "seat-02" in out and "故障" in out
    code, out, err = await hotline_status(served_over_http.url, "--json")
    assert code == 0, err
    doc = json.loads(out)
    states = {c["id"]: c["state"] for c in doc["status"]["components"]}
    assert states.items() >= {"acd-1": "up", "seat-01": "up", "seat-02": "down"}.items()
    assert doc["summary"]["limits"]["P2"] == {"response": 1800, "restoration": 14400}


async def test_status_exits_3_on_a_refused_token_and_1_when_unreachable(
    served_over_http: Served,
) -> None:
    code, _, err = await hotline_status(served_over_http.url, token="wrong")
    assert code == 3 and "401" in err
    code, _, err = await hotline_status(served_over_http.url, token=None)
    assert code == 3 and "no token" in err
    code, _, err = await hotline_status("http://127.0.0.1:9")
    assert code == 1 and "unreachable" in err


async def test_watch_refreshes_until_interrupted(served_over_http: Served) -> None:
    await _seed(served_over_http)
    env = {**os.environ, "HOTLINE_TOKEN": AGENT_TOKEN}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", "status", "--collector", served_over_http.url,
        "--plain", "--watch", "0.3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None
    seen = b""
    while seen.count("热线平台运行状态".encode()) < 2:
        seen += await asyncio.wait_for(proc.stdout.read(4096), 30)
    proc.send_signal(2)  # SIGINT, as Ctrl-C
    assert await asyncio.wait_for(proc.wait(), 30) == 0
