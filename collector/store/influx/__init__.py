"""The InfluxDB store: `collector.store.influx.store.InfluxStore`, over the v1-compatible
`/write` + `/query` API.

- `store`: `InfluxStore`, the `Store` implementation;
- `database`: `InfluxDatabase`, the database both the store and retention use;
- `retention`: `Retention`, rollups and expiry;
- `client`: `InfluxClient` (HTTP, URL parsing, InfluxQL results);
- `schema`: measurements, tags and fields; records to line protocol and back;
- `lineproto`: line-protocol escaping;
- `buffer`: `DurableBuffer`, the on-disk buffer replayed when InfluxDB is back.

May import: `collector.domain.model` and `collector.domain.timefmt`, `collector.store.base`,
`collector.statedir`, `conffile` (its token and password files) — nothing of `collector.api`,
`collector.service` or `collector.client`.
"""
