"""The heartbeat: proof of life with the agent's clock, spool and health, and host metrics."""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import datetime
from typing import Any

from agent.health import Health
from agent.spool import SpoolStats

log = logging.getLogger(__name__)


def heartbeat_body(
    agent: str,
    interval: float,
    now: datetime,
    spool: SpoolStats,
    health: Health,
    host: dict[str, Any] | None,
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


class HostMetrics:
    """The host's CPU (since the previous read), memory, spool disk and 1-minute load.

    Each metric is read on its own and any of them may fail — psutil reads /proc/stat and
    /proc/meminfo, which systemd's `ProcSubset=pid` hides, a container may lack /proc/loadavg,
    a disk may vanish — so the heartbeat still ships: it carries the metrics that could be
    read, and `unavailable` names each one that could not, with why. The log says so once per
    metric, and once more when it is back."""

    METRICS = ("cpu_percent", "mem_percent", "disk_percent", "load1")

    def __init__(self, disk_path: str) -> None:
        self.disk_path = disk_path
        self._failing: set[str] = set()

    def prime(self) -> None:
        """psutil's first cpu_percent(None) has nothing to compare with and says 0.0: call it
        once at start so the first heartbeat's figure is real."""
        with contextlib.suppress(Exception):
            import psutil

            psutil.cpu_percent(interval=None)

    def read(self) -> dict[str, Any]:
        host: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        for name in self.METRICS:
            try:
                host[name] = getattr(self, f"_{name}")()
            except Exception as exc:  # whatever psutil or the kernel raise
                why = f"{type(exc).__name__}: {exc}"[:200]
                unavailable[name] = why
                if name not in self._failing:
                    self._failing.add(name)
                    log.warning("host metric %s unavailable (%s); heartbeats go on without it",
                                name, why)  # fmt: skip
                continue
            if name in self._failing:
                self._failing.discard(name)
                log.warning("host metric %s available again", name)
        if unavailable:
            host["unavailable"] = unavailable
        return host

    @staticmethod
    def _cpu_percent() -> float:
        import psutil

        return float(psutil.cpu_percent(interval=None))

    @staticmethod
    def _mem_percent() -> float:
        import psutil

        return float(psutil.virtual_memory().percent)

    def _disk_percent(self) -> float:
        import psutil

        try:
            return float(psutil.disk_usage(self.disk_path).percent)
        except OSError:
            return float(psutil.disk_usage("/").percent)

    @staticmethod
    def _load1() -> float:
        return round(os.getloadavg()[0], 2)
