"""The hotline agent: runs probes on schedule and ships every result to the collector.

    config = load_config("agent.yaml")       # AgentConfigError names file, line and field
    await Agent("agent.yaml", config).run()  # until SIGTERM; SIGHUP reloads
    await run_once(config)                   # every check once, wire-form records

Parts, in the order data flows: `schedule` (apscheduler, concurrency per kind) → `spool`
(SQLite WAL, coalescing, cap; `coalesce` holds its pure rules) → `shipper` (httpx batches,
backoff, heartbeats).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.config import AgentConfig, AgentConfigError, Check, load_config
    from agent.health import Health
    from agent.service import Agent, run_once
    from agent.spool import Batch, Spool, SpoolError, SpoolStats

# Loaded on first use, so that `hotline agent` (which imports agent.cli, and with it this
# package) can catch SIGHUP before apscheduler, httpx and the probes are imported.
_WHERE = {
    "Agent": "agent.service",
    "AgentConfig": "agent.config",
    "Batch": "agent.spool",
    "Check": "agent.config",
    "AgentConfigError": "agent.config",
    "Health": "agent.health",
    "Spool": "agent.spool",
    "SpoolError": "agent.spool",
    "SpoolStats": "agent.spool",
    "load_config": "agent.config",
    "run_once": "agent.service",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")


__all__ = [
    "Agent",
    "AgentConfig",
    "AgentConfigError",
    "Batch",
    "Check",
    "Health",
    "Spool",
    "SpoolError",
    "SpoolStats",
    "load_config",
    "run_once",
]
