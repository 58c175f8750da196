"""Running every check on its interval: apscheduler 3 on the agent's one asyncio loop.

Choices, deliberately:
- One job per check, `IntervalTrigger` whose start is spread evenly over the interval across
  the checks added together (10,000 seats at 10 s start 1 ms apart, not in one burst), plus the
  check's optional random `jitter` per run.
- `misfire_grace_time` = the check's interval. apscheduler's default (1 s) silently drops a run
  that starts 1 s late, which on a busy loop loses samples without a trace. A run up to one
  interval late is still a real observation, so it runs (and counts as late when later than
  `late_after`); later than that, the next run is due anyway and this one is reported missed.
- `coalesce=False`: with coalescing, apscheduler folds a backlog of runs into one without any
  event, so skipped runs could not be counted. Without it each overdue run either runs or fires
  EVENT_JOB_MISSED, and every miss is counted in `skipped_runs`.
- `max_instances=1`: a check still running when its next run is due (the peer is slow, or the
  kind's concurrency limit is saturated) skips that run, counted in `skipped_runs`.
- Concurrency per probe kind is bounded by an asyncio.Semaphore, so 500 SIP checks cannot
  starve the SSH ones or exhaust file descriptors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from agent.config import Check
from agent.health import Health
from probes import STATEFUL_KINDS, Reason

log = logging.getLogger(__name__)

Sink = Callable[[list[dict[str, Any]]], Awaitable[None]]
ProbeRunner = Callable[..., Awaitable[Any]]

# apscheduler logs every run at INFO and every miss at WARNING; we count those ourselves.
for _name in ("apscheduler.executors.default", "apscheduler.scheduler"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def result_record(check: Check, started: datetime, result: Any) -> dict[str, Any]:
    """One result in the collector's wire form (`started` carries its UTC offset)."""
    record: dict[str, Any] = {
        "component": check.component,
        "system": check.system,
        "probe": check.name,
        "ts": started.isoformat(timespec="milliseconds"),
        "ok": result.ok,
        "latency_ms": None if result.latency_ms is None else round(result.latency_ms, 3),
        "reason": result.reason.value,
        "detail": result.detail,
        "interval": int(check.interval) if check.interval.is_integer() else check.interval,
    }
    if result.value is not None:
        record["value"] = result.value
    return record


def _grace(check: Check) -> int:
    """The misfire grace: one interval (an int for apscheduler, so at least 1 s)."""
    return max(1, int(check.interval))


def job_id(key: tuple[str, str]) -> str:
    return f"{key[0]}\x1f{key[1]}"


class Scheduler:
    """The checks' schedule; `apply` installs a new set of checks keeping unchanged ones."""

    def __init__(
        self,
        sink: Sink,
        health: Health,
        concurrency: Mapping[str, int],
        late_after: float,
        run_probe: ProbeRunner,
    ) -> None:
        self._sink = sink
        self._health = health
        self._late_after = late_after
        self._run_probe = run_probe
        self._checks: dict[tuple[str, str], Check] = {}
        self._previous: dict[tuple[str, str], Any] = {}
        # each check's last (ok, reason, detail), to log state changes once
        self._states: dict[tuple[str, str], tuple[bool, str, str]] = {}
        self._scheduled: dict[str, deque[datetime]] = {}  # submitted run times not yet started
        self._limits: dict[str, int] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.add_listener(
            self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        self.set_concurrency(concurrency)

    @property
    def checks(self) -> Mapping[tuple[str, str], Check]:
        return self._checks

    @property
    def busy(self) -> int:
        """Checks running right now."""
        return sum(1 for t in self._running if not t.done())

    def set_concurrency(self, limits: Mapping[str, int]) -> None:
        for kind, limit in limits.items():
            if self._limits.get(kind) != limit:
                self._limits[kind] = limit
                self._semaphores[kind] = asyncio.Semaphore(limit)

    def start(self) -> None:
        self._aps.start()

    def apply(self, checks: Iterable[Check]) -> tuple[int, int, int]:
        """Install `checks`: add new ones, remove gone ones, reschedule changed ones.

        Unchanged checks keep their job (next run time) and their previous value; a check whose
        probe changed loses its previous value. Returns (added, removed, changed).
        """
        new = {c.key: c for c in checks}
        added = sum(1 for key in new if key not in self._checks)
        removed = [k for k in self._checks if k not in new]
        for key in removed:
            self._remove(key)
        to_add: list[Check] = []
        changed = 0
        for key, check in new.items():
            old = self._checks.get(key)
            if old is None:
                to_add.append(check)
                continue
            if old == check:
                continue
            changed += 1
            if not old.same_probe(check):
                self._previous.pop(key, None)
            self._checks[key] = check
            if (old.interval, old.jitter) != (check.interval, check.jitter):
                self._remove(key, keep_state=True)
                to_add.append(check)
        for check in to_add:
            self._checks[check.key] = check
        self._add_jobs(to_add)
        return added, len(removed), changed

    def restart_schedule(self) -> None:
        """Lay every check's schedule out again from now, keeping previous values.

        apscheduler 3 keeps run times as wall-clock datetimes: after the clock steps back an
        hour, every job would wait an hour. The agent calls this when it sees such a step.
        """
        checks = list(self._checks.values())
        for check in checks:
            self._remove(check.key, keep_state=True)
        self._add_jobs(checks)

    def _add_jobs(self, checks: list[Check]) -> None:
        now = datetime.now(UTC)
        # Spread the checks' first runs evenly over their interval.
        ordered = sorted(checks, key=lambda c: c.key)
        count = len(ordered)
        for index, check in enumerate(ordered):
            offset = check.interval * index / count
            self._aps.add_job(
                self._run,
                IntervalTrigger(
                    seconds=check.interval,
                    start_date=now + timedelta(seconds=offset),
                    jitter=check.jitter or None,
                    timezone=UTC,
                ),
                args=(check.key,),
                id=job_id(check.key),
                name=f"{check.component}/{check.name}",
                misfire_grace_time=_grace(check),
                coalesce=False,
                max_instances=1,
                replace_existing=True,
            )

    def next_runs(self) -> dict[tuple[str, str], datetime]:
        """Each check's next scheduled run (UTC)."""
        out = {}
        for job in self._aps.get_jobs():
            key = job.args[0]
            run = getattr(job, "next_run_time", None) or job.trigger.start_date
            out[key] = run
        return out

    def _remove(self, key: tuple[str, str], keep_state: bool = False) -> None:
        if not keep_state:
            self._checks.pop(key, None)
            self._previous.pop(key, None)
            self._states.pop(key, None)
        self._scheduled.pop(job_id(key), None)
        with contextlib.suppress(JobLookupError):  # already gone
            self._aps.remove_job(job_id(key))

    async def shutdown(self, timeout: float) -> None:
        """Stop scheduling; give running checks `timeout` seconds to finish, then cancel them."""
        # Pause first: apscheduler's shutdown cancels running jobs, which would throw away
        # results of probes that already ran. Let them finish into the spool, then shut down.
        if self._aps.running:
            self._aps.pause()
        running = [t for t in self._running if not t.done()]
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._aps.running:
            self._aps.shutdown(wait=False)

    def _on_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            self._scheduled.setdefault(event.job_id, deque()).extend(event.scheduled_run_times)
        elif event.code == EVENT_JOB_MISSED:
            self._health.skipped_runs += 1
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self._health.skipped_runs += len(event.scheduled_run_times)

    async def _run(self, key: tuple[str, str]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            check = self._checks.get(key)
            if check is None:
                return
            now = datetime.now(UTC)
            lag = self._lag(job_id(key), now, _grace(check))
            self._health.record_start(lag, self._late_after)
            record = await self.run_check(check)
            await self._sink([record])
        finally:
            if task is not None:
                self._running.discard(task)

    def _lag(self, jid: str, now: datetime, grace: float) -> float:
        """Seconds this run starts after its scheduled time. apscheduler runs a job's submitted
        run times in order and skips (EVENT_JOB_MISSED) those older than the grace, so the
        first one within the grace is the one starting now."""
        queue = self._scheduled.get(jid)
        while queue:
            lag = (now - queue.popleft()).total_seconds()
            if lag <= grace:
                return max(0.0, lag)
        return 0.0

    async def run_check(self, check: Check) -> dict[str, Any]:
        """Run one check now (within its kind's concurrency limit); its wire record."""
        options = dict(check.options)
        previous = self._previous.get(check.key)
        if previous is not None and check.kind in STATEFUL_KINDS:
            options["previous"] = previous
        semaphore = self._semaphores.get(check.kind)
        if semaphore is None:
            semaphore = self._semaphores[check.kind] = asyncio.Semaphore(64)
        async with semaphore:
            started = datetime.now().astimezone()
            result = await self._run_probe(check.kind, check.target, options, check.timeout)
        if result.value is not None and check.kind in STATEFUL_KINDS and check.key in self._checks:
            self._previous[check.key] = result.value
        if check.key in self._checks:
            self._note_state(check, result)
        return result_record(check, started, result)

    def _note_state(self, check: Check, result: Any) -> None:
        """Log each state change of a check once, never each run: the first failure and every
        change of reason (WARNING, with the detail), the way back to ok (INFO, naming what it
        was). `config_error` is an ERROR, logged again when its detail changes: the results
        still go to the collector, which counts them as no data, but the cause (a secret file
        removed after load, …) is the operator's to fix. A check that starts ok logs nothing."""
        name = f"{check.component}/{check.name}"
        reason = result.reason.value
        before = self._states.get(check.key)
        self._states[check.key] = (result.ok, reason, result.detail)
        if result.reason is Reason.CONFIG_ERROR:
            if before is None or before[1] != reason or before[2] != result.detail:
                log.error("check %s: config_error: %s", name, result.detail)
        elif before is not None and before[1] == Reason.CONFIG_ERROR.value:
            log.info("check %s: no longer a config_error (now %s)", name, reason)
        elif not result.ok:
            if before is None or before[0] or before[1] != reason:
                log.warning("check %s: failed: %s: %s", name, reason, result.detail)
        elif before is not None and not before[0]:
            log.info("check %s: ok again (was %s)", name, before[1])
