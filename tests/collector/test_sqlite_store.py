"""What only the SQLite store promises: WAL, durable commits, versioned schema, its URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.store import SqliteStore, StoreError, open_store
from collector.store.sqlite import _MIGRATIONS, path_from_url


async def test_store_creates_a_versioned_wal_database_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store.db"
    for _ in range(2):
        store = SqliteStore(path)
        await store.open()
        assert await store.schema_version() == len(_MIGRATIONS)
        await store.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(
            _MIGRATIONS
        )
    finally:
        db.close()


def test_sqlite_urls() -> None:
    assert path_from_url("sqlite:///var/lib/h/store.db") == Path("/var/lib/h/store.db")
    assert path_from_url("sqlite:////var/lib/h/store.db") == Path("/var/lib/h/store.db")
    with pytest.raises(StoreError, match="needs a path"):
        path_from_url("sqlite://")
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("postgres://x")


async def test_unwritable_location_is_a_clear_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = SqliteStore(blocker / "store.db")  # a directory that is a file
    with pytest.raises(StoreError, match=r"store\.db"):
        await store.open()
    await store.close()
