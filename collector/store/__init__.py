"""Stores of the collector's records: the `Store` interface and its implementations.

- `base`: the `Store` protocol every store implements, `StoreError`, `BatchConflict`;
- `sqlite`: `SqliteStore`, the embedded default (one SQLite file);
- `influx/`: `InfluxStore`, the production store (InfluxDB), and what only it needs;
- here: `open_store(url)`, the store a URL names.

May import: `collector.domain.model` and `collector.domain.timefmt` (the records and instants
they store), `collector.statedir` — nothing of `collector.api`, `collector.service`,
`collector.client`, nor the domain's logic (engine, incidents, facts).
"""

from __future__ import annotations

from pathlib import Path

from collector.store.base import Store, StoreError
from collector.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "Store", "StoreError", "open_store"]


def open_store(
    url: str, token_file: str | None = None, state_dir: str | Path | None = None
) -> Store:
    """The store for a URL (`sqlite:///PATH`, `influxdb://…`), not yet opened. `token_file`
    holds an InfluxDB 2.x/3.x token (the config's `store_token_file`); `state_dir` is where
    the InfluxDB store keeps its write buffer unless the URL says `buffer=PATH`."""
    if url.startswith("sqlite://"):
        from collector.store.sqlite import path_from_url

        return SqliteStore(path_from_url(url))
    if url.startswith(("influxdb://", "influxdb+https://")):
        try:
            from collector.store.influx.store import InfluxStore
        except ImportError as exc:  # the InfluxDB store lands in its own issue
            raise StoreError(f"InfluxDB store not available: {exc}") from exc
        return InfluxStore.from_url(url, token_file=token_file, state_dir=state_dir)
    raise StoreError(f"unknown store URL {url!r}: use sqlite:///PATH or influxdb://HOST:PORT/DB")
