"""Alerts and runbooks wired into the collector: a real outage through the API opens one
incident and one message at a loopback sink, the acknowledgement link changes nothing on GET
and acknowledges once on POST (no bearer token), an unacknowledged incident escalates, the
restore notice follows, a runbook runs a real command — each send and run on the timeline."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.domain.timefmt import format_instant
from collector.notify.config import parse_alerts
from collector.notify.runbooks import parse_runbooks
from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import T0, Clock, Served, make_config, serve_in_process
from tests.collector.test_api import pattern, post
from tests.peers.sinks import HttpSink

S = 1000


async def arrived(what: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll (without blocking the event loop the collector sends from) until truthy."""
    async with asyncio.timeout(timeout):
        while not (value := what()):
            await asyncio.sleep(0.02)
    return value


@pytest.fixture
def sinks() -> AsyncIterator[tuple[HttpSink, HttpSink]]:
    platform, manager = HttpSink(), HttpSink()
    yield platform, manager
    platform.close()
    manager.close()


@pytest.fixture
async def alerting(tmp_path: Path, sinks: tuple[HttpSink, HttpSink]) -> AsyncIterator[Served]:
    platform, manager = sinks
    script = tmp_path / "restart-ivr"
    script.write_text('#!/bin/sh\nenv | grep ^HOTLINE_ | sort > "$0.env"\necho restarted\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    alerts = parse_alerts(
        {
            "public_url": "https://collector.example:8443",
            "routes": [
                {
                    "name": "platform",
                    "urls": [platform.json_url("platform")],
                    "systems": ["ivr", "acd", "callsys"],
                    "escalate_to": "manager",
                },
                {"name": "manager", "urls": [manager.json_url("manager")], "systems": ["seat"]},
            ],
        },
        base_dir=tmp_path,
    )
    runbooks = parse_runbooks(
        [
            {
                "name": "restart-ivr",
                "when": {"event": "outage_started", "systems": ["ivr"]},
                "run": [str(script)],
                "timeout": 10,
            }
        ],
        base_dir=tmp_path,
    )
    config = dataclasses.replace(
        make_config(tmp_path), alerts=alerts, runbooks=tuple(runbooks), state_dir=str(tmp_path)
    )
    collector = Collector(config, SqliteStore(tmp_path / "store.db"), clock=Clock())
    async with serve_in_process(collector) as served:
        yield served


def texts(sink: HttpSink) -> list[str]:
    return [f"{m.get('title', '')}\n{m.get('message', '')}" for m in sink.received]


async def test_an_outage_alerts_once_acks_by_link_on_post_only_and_runs_its_runbook(
    alerting: Served, sinks: tuple[HttpSink, HttpSink], tmp_path: Path
) -> None:
    platform, manager = sinks
    await post(alerting, pattern("+-----"))  # ivr-1 down: confirmed by the third failure
    [opened] = await arrived(lambda: [t for t in texts(platform) if "处置脚本" not in t])
    [inc] = (await alerting.operator.get("/api/v1/incidents")).json()["incidents"]
    assert inc["id"] in opened and "ivr-1" in opened and "timeout" in opened
    await post(alerting, pattern("---", t0=T0 - 540 * S))  # more failures: no second message
    link = re.search(r"https://collector\.example:8443(/ack/\S+)", opened)
    assert link is not None, opened
    path = link.group(1)

    browser = httpx.AsyncClient(base_url=alerting.url, transport=alerting.transport)
    page = await browser.get(path)  # what a chat app's link preview does
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert page.headers["content-type"].startswith("text/html")
    got = (await alerting.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["responded_at"] is None  # GET changed nothing
    done = await browser.post(path)
    assert done.status_code == 200 and inc["id"] in done.text
    got = (await alerting.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["responded_by"] == "platform" and got["responded_at"] is not None
    again = await browser.post(path)
    assert again.status_code == 410  # a link works once
    await browser.aclose()
    acked = await arrived(lambda: [t for t in texts(platform) if "已响应" in t])
    assert "/ack/" not in acked[-1]  # no link once acknowledged

    env = await arrived(lambda: (tmp_path / "restart-ivr.env").is_file())
    assert env
    ran = dict(
        line.split("=", 1) for line in (tmp_path / "restart-ivr.env").read_text().splitlines()
    )
    assert ran["HOTLINE_EVENT"] == "outage_started" and ran["HOTLINE_COMPONENT"] == "ivr-1"
    assert ran["HOTLINE_SYSTEM"] == "ivr" and ran["HOTLINE_REASON"] == "timeout"
    [told] = await arrived(lambda: [t for t in texts(platform) if "处置脚本" in t])
    assert "restart-ivr" in told and inc["id"] in told and "restarted" in told  # its output

    await post(alerting, pattern("+", t0=T0 - 500 * S))  # back up
    restored = await arrived(lambda: [t for t in texts(platform) if "恢复" in t])
    assert inc["id"] in restored[0]
    assert manager.received == []  # acknowledged in time: nobody escalated

    async def timeline() -> list[dict[str, Any]]:
        return (await alerting.operator.get(f"/api/v1/incidents/{inc['id']}")).json()["timeline"]

    async def recorded() -> list[dict[str, Any]]:
        for _ in range(200):
            entries = await timeline()
            if any(e["event"] == "runbook" for e in entries) and (
                sum(e["event"] == "alert_sent" for e in entries) >= 3
            ):
                return entries
            await asyncio.sleep(0.02)
        return await timeline()

    entries = await recorded()
    [run] = [e for e in entries if e["event"] == "runbook"]
    assert run["detail"]["status"] == "ok" and run["detail"]["exit_status"] == 0
    assert "duration_ms" in run["detail"]
    sent = [e["detail"] for e in entries if e["event"] == "alert_sent"]
    assert {d["route"] for d in sent} == {"platform"} and all(d["ok"] for d in sent)
    assert platform.json_url("platform") not in json.dumps(entries)  # masked


async def test_an_unacknowledged_incident_escalates_to_its_route_past_the_response_deadline(
    alerting: Served, sinks: tuple[HttpSink, HttpSink]
) -> None:
    platform, manager = sinks
    await post(alerting, pattern("+-----"))
    await arrived(lambda: platform.received)
    [inc] = (await alerting.operator.get("/api/v1/incidents")).json()["incidents"]
    assert inc["severity"] == "P1"  # the 话务系统 joined: P1, 15 minutes to respond
    deadline = T0 - 570 * S + 15 * 60 * S  # detected by the third failure, 10 s apart
    alerting.clock.now = deadline - 10 * S
    await alerting.collector.tick()
    await asyncio.sleep(0.3)
    assert manager.received == []  # not yet
    alerting.clock.now = deadline + 1 * S
    await alerting.collector.tick()
    [escalated] = await arrived(lambda: texts(manager))  # the manager's route, whatever its
    assert inc["id"] in escalated  # own filters (it takes only seats)


async def test_metrics_have_a_gauge_per_component(alerting: Served) -> None:
    await post(alerting, pattern("+-----"))
    text = (await alerting.agent.get("/metrics")).text
    assert 'hotline_component_up{component="ivr-1",system="ivr"} 0.0' in text
    assert 'hotline_component_up{component="callsys",system="callsys"} 0.0' in text
    await post(alerting, pattern("+", t0=T0 - 500 * S))
    text = (await alerting.agent.get("/metrics")).text
    assert 'hotline_component_up{component="ivr-1",system="ivr"} 1.0' in text


@pytest.mark.parametrize(
    ("snippet", "where"),
    [
        (
            "  routes:\n    - name: a\n      urls: ['nosuchscheme://x']\n",
            ":10: alerts.routes.0.urls.0",
        ),
        (
            "  routes:\n    - name: a\n      urls: ['json://127.0.0.1:9/x']\n"
            "      escalate_to: boss\n",
            ":11: alerts.routes.0.escalate_to",
        ),
    ],
)
def test_alert_config_errors_name_file_line_and_key(
    tmp_path: Path, snippet: str, where: str
) -> None:
    from collector.config import CollectorConfigError, load_config

    path = tmp_path / "collector.yaml"
    path.write_text(
        "listen: 127.0.0.1:8080\n"
        f"state_dir: {tmp_path}\n"
        "agents: [{name: a1, token: t1}]\n"
        "operators: [{name: ops, token: t2}]\n"
        "down_after: 3\n"
        "alerts:\n"
        "  public_url: https://c.example\n" + snippet
    )
    with pytest.raises(CollectorConfigError) as err:
        load_config(path)
    assert f"{path}{where}" in str(err.value)


async def test_the_acknowledgement_link_in_a_real_browser_acknowledges_on_the_button_only(
    tmp_path: Path, sinks: tuple[HttpSink, HttpSink]
) -> None:
    from tests.collector.conftest import serve
    from tests.conftest import require_program

    chromium = require_program("chromium", "the acknowledgement page in a real browser")
    playwright = pytest.importorskip("playwright.async_api")
    platform, _ = sinks
    alerts = parse_alerts(
        {
            "public_url": "https://collector.example:8443",
            "routes": [{"name": "platform", "urls": [platform.json_url("platform")]}],
        }
    )
    config = dataclasses.replace(make_config(tmp_path), alerts=alerts, state_dir=str(tmp_path))
    collector = Collector(config, SqliteStore(tmp_path / "store.db"), clock=Clock())
    async with serve(collector) as served:
        await post(served, pattern("+-----"))
        [opened] = await arrived(lambda: texts(platform))
        link = re.search(r"https://collector\.example:8443(/ack/\S+)", opened)
        assert link is not None
        [inc] = (await served.operator.get("/api/v1/incidents")).json()["incidents"]
        async with playwright.async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = await browser.new_page()
            await page.goto(served.url + link.group(1))
            assert inc["id"] in await page.content()
            got = (await served.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
            assert got["responded_at"] is None  # loading the page acknowledged nothing
            await page.click("form button")
            await page.wait_for_load_state()
            assert "已" in await page.inner_text("body") and inc["id"] in await page.content()
            await browser.close()
        got = (await served.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
        assert got["responded_by"] == "platform"


def test_runbook_try_shows_the_plan_without_running_and_runs_with_run(tmp_path: Path) -> None:
    from tests.collector.test_cli import hotline

    marker = tmp_path / "ran"
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"state_dir: {tmp_path}\n"
        "agents: [{name: a1, token: t}]\n"
        "runbooks:\n"
        "  - name: touch\n"
        "    when: {event: outage_started, systems: [ivr]}\n"
        f"    run: ['/usr/bin/touch', '{marker}']\n"
    )
    args = ["runbook", "try", "--config", str(config), "--event", "outage_started"]
    dry = hotline(*args, "--component", "ivr-1; rm -rf /", "--system", "ivr")
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout)
    assert shown["plan"]["env"]["HOTLINE_COMPONENT"] == "ivr-1; rm -rf /"
    assert not marker.exists()  # a dry run runs nothing
    other = hotline(*args, "--component", "acd-1", "--system", "acd")
    assert other.returncode == 2  # nothing matches an ACD outage
    real = hotline(*args, "--component", "ivr-1", "--system", "ivr", "--run")
    assert real.returncode == 0, real.stderr
    assert marker.exists() and json.loads(real.stdout)["status"] == "ok"


async def test_healthz_answers_while_a_runbook_hangs_and_the_hang_is_killed(
    tmp_path: Path,
) -> None:
    # No wall-clock bound (a busy machine would fail it): the runbook hangs until its 5 s
    # timeout, and /healthz must answer while it is still running — before its outcome exists.
    runbooks = parse_runbooks(
        [
            {
                "name": "hangs",
                "when": {"event": "outage_started", "systems": ["ivr"]},
                "run": ["/bin/sleep", "60"],
                "timeout": 5,
            }
        ]
    )
    config = dataclasses.replace(
        make_config(tmp_path), runbooks=tuple(runbooks), state_dir=str(tmp_path)
    )
    collector = Collector(config, SqliteStore(tmp_path / "store.db"), clock=Clock())
    async with serve_in_process(collector) as served:
        await post(served, pattern("+-----"))  # the runbook starts and hangs
        [inc] = (await served.operator.get("/api/v1/incidents")).json()["incidents"]

        async def ran() -> list[dict[str, Any]]:
            entries = (await served.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
            return [e for e in entries["timeline"] if e["event"] == "runbook"]

        anon = httpx.AsyncClient(base_url=served.url, transport=served.transport)
        assert (await anon.get("/healthz")).status_code == 200
        await anon.aclose()
        assert await ran() == []  # answered while the runbook still hung
        async with asyncio.timeout(30):
            while not (runs := await ran()):
                await asyncio.sleep(0.1)
        assert runs[0]["detail"]["status"] == "timeout"


async def test_downtime_inside_a_window_alerts_no_one_and_the_overrun_alerts_when_it_ends(
    alerting: Served, sinks: tuple[HttpSink, HttpSink]
) -> None:
    platform, _ = sinks
    await post(alerting, pattern("+", t0=T0 - 10 * S))  # ivr-1 known
    window = {
        "components": ["ivr-1", "callsys"],
        "start": format_instant(T0 + 5 * S),
        "end": format_instant(T0 + 200 * S),
        "reason": "upgrade",
        "approval_ref": "CR-7",
    }
    assert (await alerting.operator.post("/api/v1/maintenance", json=window)).status_code == 201
    alerting.clock.now = T0 + 100 * S
    await post(alerting, pattern("-" * 10, t0=T0 + 10 * S))  # down inside the window
    await alerting.collector.tick()
    await asyncio.sleep(0.5)
    assert platform.received == []  # maintenance: nobody is told
    alerting.clock.now = T0 + 201 * S  # the window has ended, ivr-1 is still down
    await post(alerting, pattern("-" * 10, t0=T0 + 110 * S))
    await alerting.collector.tick()
    [overrun] = await arrived(lambda: [t for t in texts(platform) if "处置脚本" not in t])
    [inc] = (await alerting.operator.get("/api/v1/incidents")).json()["incidents"]
    assert inc["id"] in overrun and inc["detected_at"] == format_instant(T0 + 200 * S)
