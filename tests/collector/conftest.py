"""Fixtures of the collector's tests. `store` runs every contract test on each store kind;
the InfluxDB store adds its param ("influxdb") here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.store import SqliteStore, Store
from tests.peers.influxd import influxd  # noqa: F401  (the session's influxd, for "influxdb")


async def _make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "store.db")
    if kind == "influxdb":  # a fresh database on the session's influxd, infinite retention
        from collector.store.influx import InfluxStore

        server = request.getfixturevalue("influxd")
        url = server.store_url(server.new_database_name(), raw_days="0", keep_days="0")
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
