"""Store health on its own schedule (`hotline_store_healthy` without anyone polling /healthz),
and what /healthz tells an anonymous caller (issue 14), in process with a stub store."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import Clock, Served, make_config, serve_in_process

SECRET_REASON = "InfluxDB http://hotline:***@influx.internal:8086/hotline not reachable: refused"


class Faulty:
    """A SQLite store whose health the test breaks: `down` makes health() answer a reason
    naming the user, host and database (as InfluxStore's does); `raises` makes it raise."""

    def __init__(self, inner: SqliteStore) -> None:
        self._inner = inner
        self.down = False
        self.raises = False
        self.checks = 0

    async def health(self) -> str:
        self.checks += 1
        if self.raises:
            raise OSError("disk I/O error")
        return SECRET_REASON if self.down else await self._inner.health()

    async def queue_depths(self) -> dict[str, int]:
        return {"influx_buffer": 7} if self.down else {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
async def faulty(tmp_path: Path) -> AsyncIterator[tuple[Faulty, Served]]:
    store = Faulty(SqliteStore(tmp_path / "store.db"))
    collector = Collector(make_config(tmp_path), store, clock=Clock())  # type: ignore[arg-type]
    collector.health_seconds = 0.05
    async with serve_in_process(collector) as served:
        yield store, served


def healthy(text: str) -> float:
    m = re.search(r"^hotline_store_healthy (\S+)$", text, re.MULTILINE)
    assert m, text
    return float(m.group(1))


async def metric_until(served: Served, want: float) -> float:
    async with served.anonymous() as anon:
        for _ in range(100):
            value = healthy((await anon.get("/metrics")).text)
            if value == want:
                return value
            await asyncio.sleep(0.02)
    return value


async def test_metrics_follow_the_store_without_any_healthz_call(
    faulty: tuple[Faulty, Served],
) -> None:
    store, served = faulty
    assert await metric_until(served, 1) == 1  # checked at start, nobody called /healthz
    store.down = True
    assert await metric_until(served, 0) == 0  # drops on its own
    store.down = False
    assert await metric_until(served, 1) == 1
    store.raises = True  # a health check that fails is not healthy
    assert await metric_until(served, 0) == 0
    assert store.checks >= 4
    assert served.collector.last_health and "disk I/O error" in served.collector.last_health


async def test_anonymous_healthz_says_only_unavailable(faulty: tuple[Faulty, Served]) -> None:
    store, served = faulty
    store.down = True
    async with served.anonymous() as anon:
        r = await anon.get("/healthz")
        assert r.status_code == 503
        assert r.json() == {
            "status": "unavailable", "reason": "store unavailable", "store": False,
            "queues": {"influx_buffer": 7},
        }  # fmt: skip
        for secret in ("hotline", "influx.internal", "8086"):
            assert secret not in r.text.replace("hotline_", "")
        r = await anon.get("/healthz", headers={"Authorization": "Bearer wrong"})
        assert r.json()["reason"] == "store unavailable"
    r = await served.operator.get("/healthz")  # a known token: the full reason
    assert r.status_code == 503 and r.json()["reason"] == SECRET_REASON
    r = await served.agent.get("/healthz")
    assert r.json()["reason"] == SECRET_REASON
    store.down = False
    async with served.anonymous() as anon:
        r = await anon.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok", "store": True, "queues": {}}


def test_a_password_in_the_store_url_is_warned_about_and_never_shown(tmp_path: Path) -> None:
    """A real `hotline collector --store influxdb://USER:PASS@…` with InfluxDB absent: the log
    warns that `ps` shows the password (and never prints it); /healthz shows an anonymous
    caller nothing of the URL; a password from password_file= draws no warning."""
    import httpx

    from tests.collector.process import OPERATOR_TOKEN, CollectorProcess
    from tests.peers.net import free_port

    port = free_port()  # nothing listens: InfluxDB is down
    url = f"influxdb://hotline:s3cret-pw@127.0.0.1:{port}/hotlinedb?timeout=0.5"
    collector = CollectorProcess(tmp_path, store_url=url)
    collector.start(ready=False)
    try:
        anon = httpx.get(f"{collector.url}/healthz", timeout=5)
        full = httpx.get(
            f"{collector.url}/healthz",
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            timeout=5,
        )
    finally:
        collector.stop()
    assert anon.status_code == 503
    for secret in ("s3cret-pw", str(port), "hotlinedb", "127.0.0.1"):
        assert secret not in anon.text
    assert full.status_code == 503 and str(port) in full.json()["reason"]
    assert "s3cret-pw" not in full.text
    log = collector.log.read_text()
    assert "password in the URL on the command line" in log and "password_file" in log
    assert "s3cret-pw" not in log

    (tmp_path / "influx.pw").write_text("s3cret-pw\n")
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    url = f"influxdb://hotline@127.0.0.1:{port}/hotlinedb?timeout=0.5&password_file={tmp_path}/influx.pw"
    collector = CollectorProcess(quiet, store_url=url)
    collector.start(ready=False)
    collector.stop()
    log = collector.log.read_text()
    assert "password in the URL" not in log and "s3cret-pw" not in log
