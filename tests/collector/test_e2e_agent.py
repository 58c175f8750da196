"""End to end with every part real: `hotline agent` probing a real kamailio and shipping to
`hotline collector`; the test stops and starts kamailio and reads the collector's evidence."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.domain.timefmt import format_instant
from tests.collector.process import AGENT_TOKEN, OPERATOR_TOKEN, REPO, CollectorProcess
from tests.conftest import require_program
from tests.peers.kamailio import Kamailio
from tests.peers.net import stop_process


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[CollectorProcess, Kamailio, Path]]:
    with running_stack(tmp_path) as parts:
        yield parts


@contextlib.contextmanager
def running_stack(
    tmp_path: Path, collector_config: str = ""
) -> Iterator[tuple[CollectorProcess, Kamailio, Path]]:
    """A real kamailio, `hotline collector` (with `collector_config` appended to its config)
    and `hotline agent` probing the kamailio every 0.5 s as ivr-1."""
    require_program("kamailio", "the agent probes a real SIP server")
    collector = CollectorProcess(tmp_path)
    collector.config.write_text(collector.config.read_text() + collector_config)
    collector.start()
    sip = Kamailio().start()
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    (agent_dir / "agent.token").write_text(AGENT_TOKEN + "\n")
    config = agent_dir / "agent.yaml"
    config.write_text(
        "agent: a1\n"
        f"collector: {{url: '{collector.url}', token_file: agent.token, timeout: 2}}\n"
        f"spool: {{path: '{agent_dir}/spool.db'}}\n"
        "shipping: {batch_age: 0.1, backoff_initial: 0.2, backoff_max: 1}\n"
        "heartbeat: {interval: 1}\n"
        "defaults: {interval: 0.5, timeout: 0.4}\n"
        "targets:\n"
        "  - id: ivr-1\n    system: ivr\n    host: 127.0.0.1\n"
        f"    probes: [{{kind: sip, target: 'sip:127.0.0.1:{sip.port}'}}]\n"
    )
    with (agent_dir / "agent.log").open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "hotline", "agent", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
        )  # fmt: skip
    try:
        yield collector, sip, agent_dir
    finally:
        stop_process(agent)
        sip.stop()
        collector.stop()


def samples(collector: CollectorProcess) -> list[tuple[int, bool, int, int | None]]:
    db = sqlite3.connect(f"file:{collector.dir}/store.db?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT ts, ok, count, until FROM samples WHERE component = 'ivr-1' ORDER BY ts"
        ).fetchall()
    finally:
        db.close()
    return [(ts, bool(ok), count, until) for ts, ok, count, until in rows]


def test_agent_to_collector_outage_and_restoration_from_a_real_sip_server(
    stack: tuple[CollectorProcess, Kamailio, Path],
) -> None:
    collector, sip, agent_dir = stack
    api = httpx.Client(
        base_url=collector.url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=5
    )

    def state() -> str | None:
        comps = api.get("/api/v1/status").json()["components"]
        return next((c["state"] for c in comps if c["id"] == "ivr-1"), None)

    try:
        wait_for("ivr-1 up", lambda: state() == "up")
        sip.stop()
        [outage] = wait_for(
            "an open outage",
            lambda: api.get("/api/v1/outages", params={"component": "ivr-1"}).json()["outages"],
        )
        assert outage["end"] is None
        first_failed = next(ts for ts, ok, _, _ in samples(collector) if not ok)
        assert outage["start"] == format_instant(first_failed)
        [incident] = api.get("/api/v1/incidents").json()["incidents"]
        assert incident["first_failed_at"] == format_instant(first_failed)
        assert incident["detected_at"] > incident["first_failed_at"]

        restarted = Kamailio(port=sip.port).start()
        try:
            [closed] = wait_for(
                "the outage closed",
                lambda: [
                    o
                    for o in api.get("/api/v1/outages", params={"component": "ivr-1"}).json()[
                        "outages"
                    ]
                    if o["end"]
                ],
            )
        finally:
            restarted.stop()
        rows = samples(collector)
        first_good_after = next(ts for ts, ok, _, _ in rows if ok and ts > first_failed)
        assert closed["end"] == format_instant(first_good_after)
        got = api.get(f"/api/v1/incidents/{incident['id']}").json()
        assert got["restored_at"] == format_instant(first_good_after)
        agents = api.get("/api/v1/status").json()["agents"]
        assert [a["agent"] for a in agents] == ["a1"]
    finally:
        api.close()
        print((agent_dir / "agent.log").read_text()[-2000:])
