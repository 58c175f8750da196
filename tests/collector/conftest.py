"""Fixtures of the collector's tests. `store` runs every contract test on each store kind;
the InfluxDB store adds its param ("influxdb") here."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from collector.api.app import create_app
from collector.config import CollectorConfig, Principal
from collector.domain.engine import EngineConfig
from collector.service import Collector
from collector.store import SqliteStore, Store
from tests.collector.process import CollectorProcess
from tests.conftest import require_program
from tests.peers.influxd import influxd  # noqa: F401  (the session's influxd, for "influxdb")
from tests.peers.kamailio import Kamailio
from tests.peers.net import free_port

AGENT_TOKEN = "agent-token-a1"
OTHER_AGENT_TOKEN = "agent-token-a2"
OPERATOR_TOKEN = "operator-token-wang"
T0 = 1_793_500_000_000  # 2026-11-01T10:26:40+08:00: inside November in Asia/Shanghai


async def _make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "store.db")
    if kind == "influxdb":  # a fresh database on the session's influxd, infinite retention
        from collector.store.influx.store import InfluxStore

        server = request.getfixturevalue("influxd")
        url = server.store_url(server.new_database_name(), rp_raw_days="0", rp_keep_days="0")
        return InfluxStore.from_url(url, state_dir=tmp_path, backoff_max=0.5)
    raise AssertionError(f"unknown store kind {kind}")


@pytest.fixture(params=["sqlite", "influxdb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = await _make_store(request.param, tmp_path, request)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


class Clock:
    """The collector's clock, moved by the test."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make_config(tmp_path: Path, **engine: object) -> CollectorConfig:
    return CollectorConfig(
        store=f"sqlite:///{tmp_path}/store.db",
        principals=(
            Principal("a1", AGENT_TOKEN, "agent"),
            Principal("a2", OTHER_AGENT_TOKEN, "agent"),
            Principal("ops-wang", OPERATOR_TOKEN, "operator"),
        ),
        engine=EngineConfig(silence_grace=5, **engine),  # type: ignore[arg-type]
        max_body=256 * 1024,
        tick_seconds=3600,  # tests tick by hand
        state_dir=str(tmp_path),  # never the user's ~/.local/state
    )


@dataclasses.dataclass
class Served:
    url: str
    collector: Collector
    clock: Clock
    agent: httpx.AsyncClient
    operator: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport | None = None  # None: a real server at `url`

    def anonymous(self) -> httpx.AsyncClient:
        """A client without a token."""
        return httpx.AsyncClient(base_url=self.url, transport=self.transport)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """A collector answered in process through `httpx.ASGITransport` (no socket), its clock in
    the test's hand. Tests that need a real server use `serve` (uvicorn)."""
    clock = Clock()
    config = make_config(tmp_path)
    async with serve_in_process(
        Collector(config, SqliteStore(tmp_path / "store.db"), clock=clock)
    ) as s:
        yield s


@pytest.fixture
async def served_over_http(tmp_path: Path) -> AsyncIterator[Served]:
    """As `served`, on a real uvicorn on a free loopback port (for processes that connect)."""
    clock = Clock()
    config = make_config(tmp_path)
    async with serve(Collector(config, SqliteStore(tmp_path / "store.db"), clock=clock)) as s:
        yield s


@contextlib.asynccontextmanager
async def serve_in_process(collector: Collector) -> AsyncIterator[Served]:
    """Answer `collector` (its clock a `Clock`) through `httpx.ASGITransport`; the collector is
    started and stopped here, as the app's lifespan does under a server."""
    assert isinstance(collector.clock, Clock)
    await collector.start()
    transport = httpx.ASGITransport(app=create_app(collector, lifecycle=False))
    url = "http://collector.test"
    agent, operator = (
        httpx.AsyncClient(
            transport=transport, base_url=url, headers={"Authorization": f"Bearer {token}"}
        )
        for token in (AGENT_TOKEN, OPERATOR_TOKEN)
    )
    try:
        yield Served(url, collector, collector.clock, agent, operator, transport)
    finally:
        await agent.aclose()
        await operator.aclose()
        await collector.stop()


@contextlib.asynccontextmanager
async def serve(collector: Collector) -> AsyncIterator[Served]:
    """Run `collector` (its clock a `Clock`) on uvicorn on a free loopback port."""
    assert isinstance(collector.clock, Clock)
    clock = collector.clock
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(collector), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    url = f"http://127.0.0.1:{port}"
    agent = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
    operator = httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    try:
        yield Served(url, collector, clock, agent, operator)
    finally:
        await agent.aclose()
        await operator.aclose()
        server.should_exit = True
        await task


@pytest.fixture
def collector_proc(tmp_path: Path) -> Iterator[CollectorProcess]:
    """`hotline collector` as a real process (SQLite, agent a1, operator ops-wang)."""
    c = CollectorProcess(tmp_path)
    c.start()
    yield c
    c.stop()


@pytest.fixture
def sip_server() -> Iterator[Kamailio]:
    """A real kamailio on loopback, for tests that stop and start the peer the agent probes."""
    require_program("kamailio", "the test probes a real SIP server")
    k = Kamailio().start()
    yield k
    k.stop()
