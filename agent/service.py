"""The running agent: schedule → spool → shipper, heartbeats, SIGHUP reload, SIGTERM flush.

Data flows one way: a check's result is written to the spool (durably) and only the shipper
reads the spool. Nothing is sent that is not on disk first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, AgentConfigError, Check, load_config
from agent.health import Health, clock_step
from agent.heartbeat import HostMetrics, heartbeat_body
from agent.schedule import Scheduler
from agent.shipper import Shipper
from agent.spool import Spool

log = logging.getLogger(__name__)


def _raise_nofile() -> None:
    """Hundreds of probes in flight need as many descriptors: lift the soft limit to the hard
    one (systemd's unit sets LimitNOFILE; this covers running by hand)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _run_probe() -> Any:
    from probes import run_probe

    return run_probe


async def _prepare(checks: Iterable[Check]) -> None:
    """Each probe kind's one-time set-up (pysnmp engine, imports, sockets), before any of its
    checks is scheduled, so that no first run spends its timeout on it."""
    from probes import prepare_kinds

    await prepare_kinds({c.kind for c in checks})


class Agent:
    def __init__(
        self, config_path: str, config: AgentConfig, early_signals: list[int] | None = None
    ) -> None:
        self.config_path = config_path
        self._early = early_signals if early_signals is not None else []
        self._ready = False
        self._reload_pending = False
        self.config = config
        self.health = Health()
        self.spool = Spool(config.spool_path, config.spool_max_bytes, config.spool_fsync)
        self.scheduler = Scheduler(
            self.spool.put, self.health, config.concurrency, config.late_after, _run_probe()
        )
        self.shipper: Shipper | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._reloads: set[asyncio.Task[Any]] = set()
        self._reload_lock = asyncio.Lock()  # SIGHUPs in a row apply in order
        self._last_host = 0.0

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or `stop()`); flush; 0 on a clean stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        for sig in self._early:  # caught by `hotline agent` before the loop existed
            (self.reload if sig == signal.SIGHUP else self.stop)()
        self._early.clear()
        token = self.config.read_token()
        _raise_nofile()
        await self.spool.open()
        self.health.spool_replaced = self.spool.replaced
        self.shipper = Shipper(self.config, token, self.spool, self.health)
        await _prepare(self.config.checks)
        added, _, _ = self.scheduler.apply(self.config.checks)
        self.scheduler.start()
        log.info(
            "agent %s started: %d checks, shipping to %s, spool %s",
            self.config.name,
            added,
            self.config.collector_url,
            self.config.spool_path,
        )
        self._tasks = [
            asyncio.create_task(self.shipper.run(), name="shipper"),
            asyncio.create_task(self._heartbeats(), name="heartbeat"),
            asyncio.create_task(self._watch_clock(), name="clock"),
        ]
        self._ready = True
        notify("READY=1")
        if self._reload_pending:
            self._reload_pending = False
            self.reload()
        try:
            await self._stop.wait()
            await self._shutdown()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
        return 0

    def stop(self) -> None:
        log.info("stopping: finishing running checks and flushing the spool")
        notify("STOPPING=1")
        self._stop.set()

    def reload(self) -> None:
        """Re-read the config (SIGHUP); on any error keep running the old one. A SIGHUP before
        the agent is ready is remembered and applied once it is."""
        if not self._ready:
            if not self._reload_pending:
                log.info("SIGHUP while starting: the config is read again once started")
            self._reload_pending = True
            return
        task = asyncio.get_running_loop().create_task(self.reload_config(), name="reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload_config(self) -> bool:
        """Re-read the config; prepare new probe kinds; apply. False (logged) on an error, and
        the running config stays."""
        async with self._reload_lock:
            try:
                config = load_config(self.config_path)
                token = config.read_token()
            except AgentConfigError as exc:
                log.error("reload failed, keeping the running config:\n%s", exc)
                return False
            await _prepare(config.checks)
            self._apply(config, token)
            return True

    def _apply(self, config: AgentConfig, token: str) -> None:
        if config.spool_path != self.config.spool_path:
            log.warning("spool.path changed: takes effect on restart, not on reload")
        self.config = config
        self.scheduler.set_concurrency(config.concurrency)
        added, removed, changed = self.scheduler.apply(config.checks)
        if self.shipper is not None:
            self.shipper.configure(config, token)
        log.info("reloaded: %d checks added, %d removed, %d changed", added, removed, changed)

    async def _shutdown(self) -> None:
        await self.scheduler.shutdown(timeout=min(5.0, self.config.flush_timeout))
        shipper_task = self._tasks[0]
        for task in self._tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self._tasks, timeout=5.0)
        for task in stuck:
            log.error("%s did not stop when asked; going on without it", task.get_name())
        assert self.shipper is not None
        if shipper_task.done() and not shipper_task.cancelled() and shipper_task.exception():
            log.error("shipper stopped: %r", shipper_task.exception())
        empty = await self.shipper.flush(self.config.flush_timeout)
        stats = self.spool.stats()
        if empty:
            log.info("spool flushed")
        else:
            log.warning("%d results stay in the spool for the next start", stats.pending)
        await self.shipper.aclose()
        await self.spool.close()

    async def _watch_clock(self, every: float = 2.0, tolerance: float = 5.0) -> None:
        """Re-lay the schedule when the wall clock steps (see Scheduler.restart_schedule)."""
        baseline = time.time() - time.monotonic()
        while True:
            await asyncio.sleep(every)
            offset = time.time() - time.monotonic()
            step = clock_step(offset, baseline, tolerance)
            if step is not None:
                log.warning("the wall clock stepped %+.1f s: laying the schedule out again", step)
                self.scheduler.restart_schedule()
                baseline = offset

    async def _heartbeats(self) -> None:
        metrics = HostMetrics(str(Path(self.config.spool_path).parent))
        metrics.prime()
        await asyncio.sleep(min(1.0, self.config.heartbeat_interval))
        while True:
            host = None
            now = time.monotonic()
            if now - self._last_host >= self.config.host_metrics_interval:
                host = metrics.read()
                self._last_host = now
            body = heartbeat_body(
                self.config.name,
                self.config.heartbeat_interval,
                datetime.now().astimezone(),
                self.spool.stats(),
                self.health,
                host,
            )
            assert self.shipper is not None
            await self.shipper.heartbeat(body)
            await asyncio.sleep(self.config.heartbeat_interval)


def notify(state: str) -> None:
    """Tell systemd (Type=notify) how the agent is: READY=1 once checks run, so a
    `systemctl reload` issued during start waits for it; STOPPING=1. Nothing without
    $NOTIFY_SOCKET (not under systemd)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(state.encode(), address)


async def run_once(config: AgentConfig) -> list[dict[str, Any]]:
    """Run every check once, now (concurrency limits apply); results in config order."""
    health = Health()

    async def _nowhere(_: list[dict[str, Any]]) -> None:
        return None

    scheduler = Scheduler(_nowhere, health, config.concurrency, config.late_after, _run_probe())
    await _prepare(config.checks)

    async def one(check: Check) -> dict[str, Any]:
        return await scheduler.run_check(check)

    return list(await asyncio.gather(*(one(c) for c in config.checks)))
