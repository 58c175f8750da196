"""hotline-uptime collector: probe results in, outages, incidents and the month's facts out.

The data flows one way: `domain.ingest` (validation) → `domain.engine` (pure state machine:
outages, no-data, the callsys composite) → events → `domain.incidents` (pure: correlation,
deadlines) → `store` (SQLite or InfluxDB behind `store.Store`) → `domain.facts` (the scorer's
input). `service.Collector` wires them together at the edge; `api.app.create_app` is the HTTP face;
`cli` is `hotline collector`; `client` is `hotline maint|incident`, which speak HTTP only.

Rooms (nothing is imported here, so `hotline` subcommands start light):
- `collector.domain`: records and pure logic (model, timefmt, ingest, engine, incidents,
  maintenance, facts) — imports nothing of the other rooms;
- `collector.store`: `Store`, `StoreError`, `SqliteStore`, `open_store`; `store.influx`:
  `InfluxStore` and its client, schema, retention, line protocol and buffer — imports the
  domain's records only;
- `collector.service`: `Collector`, the domain and a store wired together;
- `collector.api`: `app.create_app`, the HTTP face over the service;
- `collector.client`: the HTTP client and `hotline maint|incident` — imports nothing of the
  server;
- `collector.config` (`load_config`, `CollectorConfig`, `CollectorConfigError`),
  `collector.statedir`, `collector.cli`: the edge (the YAML itself is read by `conffile`).
"""
