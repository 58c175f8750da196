"""Fixtures of the collector's tests. `store` runs every contract test on each store kind;
the InfluxDB store adds its param ("influxdb") here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.store import SqliteStore, Store


async def _make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "store.db")
    raise AssertionError(f"unknown store kind {kind}")


@pytest.fixture(params=["sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = await _make_store(request.param, tmp_path, request)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
