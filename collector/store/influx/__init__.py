"""The InfluxDB store: `InfluxStore`, over the v1-compatible `/write` + `/query` API.

- `store`: `InfluxStore`, the `Store` implementation;
- `client`: `InfluxClient` (HTTP, URL parsing, InfluxQL results);
- `schema`: measurements, tags and fields; records to line protocol and back;
- `retention`: retention policies and the deletion of expired records;
- `lineproto`: line-protocol escaping;
- `buffer`: `DurableBuffer`, the on-disk buffer replayed when InfluxDB is back.

May import: `collector.domain.model` and `collector.domain.timefmt`, `collector.store.base`,
`collector.statedir` — nothing of `collector.api`, `collector.service` or `collector.client`.
"""

from collector.store.influx.store import InfluxStore

__all__ = ["InfluxStore"]
