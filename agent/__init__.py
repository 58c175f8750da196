"""The hotline agent: runs probes on schedule and ships every result to the collector.

    config = load_config("agent.yaml")       # ConfigError names file, line and field
    await Agent("agent.yaml", config).run()  # until SIGTERM; SIGHUP reloads
    await run_once(config)                   # every check once, wire-form records

Parts, in the order data flows: `schedule` (apscheduler, concurrency per kind) → `spool`
(SQLite WAL, coalescing, cap; `coalesce` holds its pure rules) → `shipper` (httpx batches,
backoff, heartbeats).
"""

from agent.config import AgentConfig, Check, ConfigError, load_config
from agent.health import Health
from agent.service import Agent, run_once
from agent.spool import Batch, Spool, SpoolError, SpoolStats

__all__ = [
    "Agent",
    "AgentConfig",
    "Batch",
    "Check",
    "ConfigError",
    "Health",
    "Spool",
    "SpoolError",
    "SpoolStats",
    "load_config",
    "run_once",
]
