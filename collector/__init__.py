"""hotline-uptime collector: probe results in, outages, incidents and the month's facts out.

The data flows one way: `ingest` (validation) → `engine` (pure state machine: outages, no-data,
the callsys composite) → events → `incidents` (pure: correlation, deadlines) → `store`
(SQLite or InfluxDB behind `store.Store`) → `facts` (the scorer's input). `service.Collector`
wires them together at the edge; `api.create_app` is the HTTP face; `cli`, `maint_cli` and
`incident_cli` are `hotline collector|maint|incident`.

Public face, by module (nothing is imported here, so `hotline` subcommands start light):
- `collector.model`: the records (`Sample`, `Outage`, `MaintenanceWindow`, `Incident`, …);
- `collector.engine`: `Engine`, `EngineConfig`, `CompositeRule`, `Event`, `EventType`, `Changes`;
- `collector.incidents`: `IncidentTracker`, `IncidentConfig`;
- `collector.maintenance`: `occurrences`, `covered`, `classify`;
- `collector.store`: `Store`, `StoreError`, `SqliteStore`, `open_store`;
- `collector.config`: `load_config`, `CollectorConfig`, `ConfigError`;
- `collector.service`: `Collector`; `collector.api`: `create_app`.
"""
