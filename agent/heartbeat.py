"""The heartbeat: proof of life with the agent's clock, spool and health, and host metrics."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from agent.health import Health
from agent.spool import SpoolStats


def heartbeat_body(
    agent: str,
    interval: float,
    now: datetime,
    spool: SpoolStats,
    health: Health,
    host: dict[str, float] | None,
) -> dict[str, Any]:
    """The body of `POST /api/v1/heartbeat`; `now` must carry its UTC offset."""
    body: dict[str, Any] = {
        "agent": agent,
        "sent_at": now.isoformat(timespec="milliseconds"),
        "interval": int(interval) if float(interval).is_integer() else interval,
        "spool": {
            "pending": spool.pending,
            "bytes": spool.bytes,
            "dropped": spool.dropped,
            "dropped_changes": spool.dropped_changes,
            "held": spool.held,  # in memory while the disk refuses writes
            "unwritten": spool.unwritten,  # of dropped: lost because the disk refused them
            "error": spool.error,  # why the disk refuses writes now, else null
        },
        "health": health.to_dict(),
    }
    if host is not None:
        body["host"] = host
    return body


def prime_host_metrics() -> None:
    """psutil's first cpu_percent(None) has nothing to compare with and says 0.0: call it once
    at start so the first heartbeat's figure is real."""
    import psutil

    psutil.cpu_percent(interval=None)


def host_metrics(disk_path: str) -> dict[str, float]:
    """CPU (since the previous call), memory, the spool disk and the 1-minute load."""
    import psutil

    try:
        disk = psutil.disk_usage(disk_path).percent
    except OSError:
        disk = psutil.disk_usage("/").percent
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "mem_percent": psutil.virtual_memory().percent,
        "disk_percent": disk,
        "load1": round(os.getloadavg()[0], 2),
    }
