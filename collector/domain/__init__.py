"""The collector's domain: records and pure logic, no I/O.

- `model`: the records (`Sample`, `Outage`, `MaintenanceWindow`, `Incident`, `Heartbeat`, …);
- `timefmt`: instants (`Millis`) to and from RFC 3339 text and local months;
- `ingest`: validation of the agents' batches (`parse_batch`);
- `engine`: the state machine — samples in, outages, no-data and the callsys composite out
  (`Engine`, `EngineConfig`, `CompositeRule`, `Event`, `EventType`, `Changes`);
- `incidents`: correlation of faults into incidents, deadlines (`IncidentTracker`);
- `maintenance`: windows and their recurrences (`occurrences`, `covered`, `classify`);
- `facts`: the month's facts, the scorer's input (`build_facts`).

The clock is passed in, never read. May import: the standard library, `probes.result`,
`scoring.intervals`, and each other — nothing of `collector.api`, `collector.store`,
`collector.client`, `collector.service` or `collector.config`.
"""
