"""process: is a local process running, and are CPU, memory and disk within limits? (psutil)

Target: a process name (`kamailio`, exact match on the process name), or `system` for the
machine's resources only.

Options:
- `cmdline`: a regex matched against the joined command line instead of the name (the
  target is then only a label), e.g. `cmdline=java .*acd-server\\.jar`.
- `min_count` (default 1 for a process, 0 for `system`), `max_count`: matching processes.
- `max_cpu`: CPU percent — of the matching processes together (100 = one core), or of the
  whole machine for `system` — sampled over `sample` seconds (default 0.5, within the timeout).
- `max_memory_mb`: resident memory of the matching processes together;
  `max_memory_pct`: the machine's memory in use, percent.
- `disk` (a mount point or path) with `max_disk_pct`: that filesystem's use, percent.

Reasons: `ok` (`value` is the number of matching processes; for `system`, an object of the
resources measured — `cpu_pct`, `memory_pct`, `disk_pct` — which the collector's inspection
report draws as daily trends per host); `check_failed` (too few/many
processes, or a limit exceeded — the detail names which); `config_error`.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from probes import options as opt
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec

_KNOWN = {
    "cmdline",
    "min_count",
    "max_count",
    "max_cpu",
    "sample",
    "max_memory_mb",
    "max_memory_pct",
    "disk",
    "max_disk_pct",
}


def _matching(name: str | None, cmdline: re.Pattern[str] | None) -> list[Any]:
    import psutil

    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if cmdline is not None:
                if cmdline.search(" ".join(proc.info["cmdline"] or ())):
                    found.append(proc)
            elif proc.info["name"] == name:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _cpu(procs: list[Any], sample: float, system: bool) -> float:
    """Blocking: CPU percent over `sample` seconds (run in a thread)."""
    import psutil

    if system:
        return psutil.cpu_percent(interval=sample)
    alive = []
    for proc in procs:
        try:
            proc.cpu_percent(None)
            alive.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    time.sleep(sample)
    total = 0.0
    for proc in alive:
        try:
            total += proc.cpu_percent(None)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def _rss_mb(procs: list[Any]) -> float:
    import psutil

    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / (1 << 20)


@dataclass(frozen=True, slots=True)
class ProcessCheck:
    """One parsed process check (see the module's documentation for the options)."""

    name: str
    system: bool
    cmdline_text: str | None
    cmdline: re.Pattern[str] | None
    min_count: int
    max_count: int | None
    max_cpu: float | None
    sample: float
    max_memory_mb: float | None
    max_memory_pct: float | None
    disk: str | None
    max_disk_pct: float | None


def parse(target: str, options: Mapping[str, Any]) -> ProcessCheck:
    """The check `target` and `options` describe; OptionError naming what is wrong."""
    opt.check_known(options, _KNOWN)
    name = target.strip()
    if not name:
        raise opt.OptionError("target is empty: a process name, or 'system'")
    system = name == "system"
    cmdline_text = opt.text(options, "cmdline")
    try:
        cmdline = re.compile(cmdline_text) if cmdline_text else None
    except re.error as exc:
        raise opt.OptionError(f"option 'cmdline' is not a valid regex: {exc}", "cmdline") from None
    min_count = opt.integer(options, "min_count", 0 if system else 1, minimum=0)
    sample = opt.number(options, "sample", 0.5, minimum=0.05)
    disk = opt.text(options, "disk")
    max_disk_pct = opt.number(options, "max_disk_pct", minimum=0)
    if (disk is None) != (max_disk_pct is None):
        raise opt.OptionError(
            "options 'disk' and 'max_disk_pct' go together",
            "max_disk_pct" if disk is not None else "disk",
        )
    if disk is not None and not os.path.exists(disk):
        raise opt.OptionError(f"option 'disk': {disk} does not exist", "disk")
    assert sample is not None and min_count is not None
    return ProcessCheck(
        name=name,
        system=system,
        cmdline_text=cmdline_text,
        cmdline=cmdline,
        min_count=min_count,
        max_count=opt.integer(options, "max_count", minimum=0),
        max_cpu=opt.number(options, "max_cpu", minimum=0),
        sample=sample,
        max_memory_mb=opt.number(options, "max_memory_mb", minimum=0),
        max_memory_pct=opt.number(options, "max_memory_pct", minimum=0),
        disk=disk,
        max_disk_pct=max_disk_pct,
    )


async def prepare() -> None:
    """Import psutil before the first probe is timed."""
    import psutil  # noqa: F401


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    import psutil

    c = parse(target, options)
    name, system, cmdline_text, cmdline = c.name, c.system, c.cmdline_text, c.cmdline
    min_count, max_count, max_cpu = c.min_count, c.max_count, c.max_cpu
    max_memory_mb, max_memory_pct = c.max_memory_mb, c.max_memory_pct
    disk, max_disk_pct = c.disk, c.max_disk_pct
    sample = min(c.sample, timeout * 0.8)

    start = time.perf_counter()
    procs = [] if system and cmdline is None else await asyncio.to_thread(_matching, name, cmdline)
    problems: list[str] = []
    extra: dict[str, Any] = {}
    label = f"/{cmdline_text}/" if cmdline is not None else name
    if not system or cmdline is not None:
        extra["count"] = len(procs)
        if len(procs) < min_count:
            problems.append(f"{len(procs)} processes {label}, expected at least {min_count}")
        if max_count is not None and len(procs) > max_count:
            problems.append(f"{len(procs)} processes {label}, expected at most {max_count}")
    if max_cpu is not None:
        cpu = await asyncio.to_thread(_cpu, procs, sample, system and cmdline is None)
        extra["cpu_pct"] = round(cpu, 1)
        if cpu > max_cpu:
            problems.append(f"CPU {cpu:.1f}% > {max_cpu:g}%")
    if max_memory_mb is not None:
        rss = _rss_mb(procs)
        extra["memory_mb"] = round(rss, 1)
        if rss > max_memory_mb:
            problems.append(f"memory {rss:.1f} MiB > {max_memory_mb:g} MiB")
    if max_memory_pct is not None:
        used = psutil.virtual_memory().percent
        extra["memory_pct"] = used
        if used > max_memory_pct:
            problems.append(f"machine memory {used:.1f}% > {max_memory_pct:g}%")
    if disk is not None and max_disk_pct is not None:
        try:
            usage = psutil.disk_usage(disk)
        except OSError as exc:
            raise opt.OptionError(f"option 'disk': {disk}: {exc.strerror}") from None
        extra["disk_pct"] = usage.percent
        if usage.percent > max_disk_pct:
            problems.append(f"disk {disk} {usage.percent:.1f}% > {max_disk_pct:g}%")
    latency = (time.perf_counter() - start) * 1000
    value: Any = len(procs) if not system or cmdline is not None else None
    if value is None:  # `system`: the resources measured (the inspection report's trends)
        value = {k: extra[k] for k in ("cpu_pct", "memory_pct", "disk_pct") if k in extra} or None
    if problems:
        return ProbeResult(Reason.CHECK_FAILED, "; ".join(problems), latency, value, extra)
    return ProbeResult(Reason.OK, f"{label}: within limits", latency, value, extra)


SPEC = KindSpec(kind="process", probe=probe, parse=parse, concurrency=8, prepare=prepare)
