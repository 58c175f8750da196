"""The collector's core at the edge: store + engine + incident tracker, one lock, a clock.

The data flows one way: ingest → engine → events → store and subscribers (incidents now;
alerts and runbooks subscribe later through `subscribers`). The HTTP layer (`collector.api`)
only translates requests to these methods.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from collector.aio import cancel_and_wait
from collector.config import CollectorConfig
from collector.domain.engine import (
    Changes,
    Engine,
    Event,
    EventType,
    Member,
    derive_composite,
    diff_outages,
    member_of,
)
from collector.domain.facts import build_facts
from collector.domain.incidents import IncidentChanges, IncidentTracker
from collector.domain.ingest import IngestBatch, parse_batch
from collector.domain.inspection import (
    BACKUP_KEY,
    VALUE_KEYS,
    MissedBackup,
    backup_events,
    build_inspection,
    is_backup_sample,
    missed_backups,
)
from collector.domain.maintenance import check_rrule, classify, covered, in_window, occurrences
from collector.domain.model import (
    AuditEntry,
    Component,
    Exclusion,
    Heartbeat,
    Incident,
    IntervalKind,
    MaintenanceWindow,
    Millis,
    Outage,
    Rollup,
    Sample,
    TimelineEntry,
)
from collector.domain.timefmt import format_instant, month_range, to_datetime
from collector.notify.hub import Notifier
from collector.notify.links import AckClaim
from collector.notify.messages import Limits
from collector.store.base import Store, StoreError

# results in a batch from which it is validated in a worker thread (an agent's usual 500
# take ~2 ms: not worth the hop)
_THREAD_BATCH = 2000
log = logging.getLogger("hotline.collector")

Subscriber = Callable[[Event], Any]
DAY = 86_400_000
# A missed backup first found later than this after its due instant (a collector down for days,
# a first start mid-month) is in the facts and the inspection report, but alerts no one.
BACKUP_ALERT_LOOKBACK = 2 * DAY
_BACKUP_EVERY = 60_000  # missed backups are looked for this often, and after a backup result


def wall_clock() -> Millis:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicate: bool


class NotFound(LookupError):
    pass


class Collector:
    def __init__(
        self,
        config: CollectorConfig,
        store: Store,
        clock: Callable[[], Millis] = wall_clock,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.windows: list[MaintenanceWindow] = []
        self.engine = Engine(
            config.engine, maintenance=lambda c, lo, hi: covered(self.windows, c, lo, hi)
        )
        self.tracker = IncidentTracker(config.incidents, systems=self.system_of)
        self.subscribers: list[Subscriber] = []
        self.systems: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._cond = asyncio.Condition(self._lock)  # the same lock, for waiting on the rebuild
        self.ready = False  # the state is rebuilt from the store (see `start`)
        self.not_ready = "starting"  # why not, while not ready
        self._capture: list[Sample] | None = None  # batches stored during a rebuild's reads
        self._unready_batches = 0  # batches being stored before the state was rebuilt
        self._installing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._pruned_at: Millis = 0
        # the store's health, checked every `health_seconds` by `_health_ticker` (and by each
        # /healthz): None before the first check, "" when healthy, else why not
        self.last_health: str | None = None
        self.last_health_at: Millis | None = None
        self.health_seconds = min(5.0, max(config.tick_seconds, 0.05))
        self.counters = {"accepted": 0, "rejected": 0, "duplicate_batches": 0}
        # Backup checks (file_age with `backup:`) decide no component state: their samples are
        # stored (facts, inspection) but kept from the engine (`_state_samples`); a missed
        # backup is its own event (`_check_backups`), from these samples kept since the
        # previous month's start.
        self._backup_probes: set[tuple[str, str]] = set()  # (component, probe) seen as such
        self._backup_only: set[str] = set()  # components with no other check: no state at all
        self._backup_samples: list[Sample] = []
        self._backups_loaded = False
        self._backups_changed = False
        self._backups_checked_at: Millis | None = None
        self._backups_told: set[tuple[str, str, Millis]] = set()  # (component, kind, due)
        self._backups_failing = False
        self.backups_missed = 0  # this month's so far, as last looked (/metrics)
        self.notifier: Notifier | None = None
        if config.alerts is not None or config.runbooks:
            limits = Limits(
                response=config.incidents.response_limits,
                restoration=config.incidents.restoration_limits,
            )
            self.notifier = Notifier(
                _NotifyHost(self),
                config.alerts,
                config.runbooks,
                Path(config.state_dir),
                limits,
                calendar_overrides=config.calendar_years,
            )
            self.subscribers.append(self.notifier)
        # what was told survives a restart: the alert outbox would not send twice, but a
        # runbook would run again
        self._backups_told_path = (
            Path(config.state_dir) / "backups-told.json" if self.notifier is not None else None
        )

    def _known(self, component: str) -> bool:
        return component == self.config.engine.composite_id or component in self.systems

    def system_of(self, component: str) -> str:
        if component == self.config.engine.composite_id:
            return "callsys"
        return self.systems.get(component, "other")

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, background: bool = True) -> None:
        """Open the store (its errors are the caller's: a wrong path, a bad CA file) and rebuild
        the state from it. A store that does not answer yet (InfluxDB down) is no reason to
        stop: results are accepted into it (InfluxDB's durable buffer) and the rebuild is
        retried in the background; until it succeeds `ready` is False, /healthz answers 503
        and the API refuses what needs the state (503)."""
        await self.store.open()
        try:
            await self.rebuild()
        except StoreError as exc:
            self.not_ready = f"cannot rebuild the state from the store: {exc}"
            log.warning("%s; accepting results meanwhile, retrying", self.not_ready)
            self._tasks.append(asyncio.create_task(self._rebuild_until_ready(), name="rebuild"))
        if self.notifier is not None:
            await self.notifier.start()
        if background:
            self._tasks.append(asyncio.create_task(self._ticker(), name="collector-tick"))
            if self.notifier is not None:  # escalation within a second of its deadline
                self._tasks.append(asyncio.create_task(self._notify_ticker(), name="notify"))
            self._tasks.append(asyncio.create_task(self._retention(), name="collector-retention"))
            self._tasks.append(asyncio.create_task(self._health_ticker(), name="store-health"))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        if self.notifier is not None:
            await self.notifier.stop()
        await self.store.close()

    async def _rebuild_until_ready(self) -> None:
        delay = 0.5
        attempts = 0
        while not self.ready:
            await asyncio.sleep(delay)
            attempts += 1
            try:
                await self.rebuild()
            except Exception as exc:  # keep trying: the store may come back any time
                self.not_ready = f"cannot rebuild the state from the store: {exc}"
                if attempts % 10 == 0:
                    log.warning("%s (attempt %d); retrying", self.not_ready, attempts)
                delay = min(delay * 2, 15.0)
        log.info("the store answers: state rebuilt after %d attempt(s)", attempts)

    async def rebuild(self) -> None:
        """Rebuild the engine and open incidents from the store (after a restart).

        The store is read without the lock: ingest goes on meanwhile. Batches stored while the
        collector is not ready are also kept in memory from the start of the reads (`_capture`),
        so those stored after the reads are not missed; one read back is not applied twice."""
        async with self._cond:
            self._capture = []
        try:
            state = await self._read_state()
            async with self._cond:
                self._installing = True  # new batches wait; started ones land in _capture
                await self._cond.wait_for(lambda: self._unready_batches == 0)
                await self._install(state, self._capture or [])
        finally:
            async with self._cond:
                self._installing = False
                self._capture = None
                self._cond.notify_all()

    async def _read_state(self) -> _State:
        now = self.clock()
        components = await self.store.components()
        windows = await self.store.windows()
        horizon = now - int(self.config.rebuild_hours * 3_600_000)
        recent = await self.store.read_outages(since=horizon)  # down, overlapping the horizon
        since = min([o.start for o in recent] + [horizon])
        known = [
            o
            for o in await self.store.read_outages(since=since, kind=None)
            if o.start >= since or (o.kind is IntervalKind.NO_DATA and o.end is None)
        ]
        incidents = await self.store.incidents(open_only=True)
        all_ids = [i.id for i in await self.store.incidents()]
        told = [
            (inc.id, str(entry.detail.get("deadline")))
            for inc in incidents
            for entry in await self.store.timeline(inc.id)
            if entry.event == "deadline_passed"
        ]
        samples = await self.store.read_samples(since, now + DAY)
        return _State(components, windows, since, known, incidents, all_ids, told, samples)

    async def _install(self, state: _State, captured: list[Sample]) -> None:
        """Load what `_read_state` read into the engine and the tracker (under the lock)."""
        now = self.clock()
        merged = _merged(state.samples, captured)
        samples = self._state_samples(merged)
        for c in state.components:
            self.systems[c.id] = c.system
            if c.id not in self._backup_only:
                self.engine.register(c.id, c.system)
        self.windows = state.windows
        self.engine.load_known(state.known)
        self.tracker.load(state.incidents, state.all_ids, state.known)
        for incident_id, deadline in state.told:
            self.tracker.deadline_told(incident_id, deadline)
        in_incidents = {oid for i in state.incidents for oid in i.outage_ids}
        for o in state.known:
            if (
                o.end is None
                and o.kind is IntervalKind.DOWN
                and o.id not in in_incidents
                and in_window(self.windows, o.component, o.detected_at or o.start)
            ):
                self.tracker.watch_maintenance(o)
        self.ready = True
        self.not_ready = ""
        # one call: chunks would show passing states (an outage reopened until the chunk that
        # closes it) as changes to store and publish
        try:
            await self._apply(self.engine.ingest(samples, now), now)
            await self._apply(self.engine.tick(now), now)
        except Exception:  # as in ingest: the samples are stored; the next restart redoes it
            log.exception("applying the rebuilt state's changes failed")
        log.info(
            "rebuilt from %d samples since %d (%d stored during the reads, %d of backup "
            "checks kept out); %d open incidents",
            len(samples),
            state.since,
            len(merged) - len(state.samples),
            len(merged) - len(samples),
            len(state.incidents),
        )

    async def _notify_ticker(self) -> None:
        assert self.notifier is not None
        while True:
            await asyncio.sleep(min(1.0, self.config.tick_seconds))
            try:
                if self.ready:
                    await self.notifier.tick(self.clock())
            except Exception:
                log.exception("alert tick failed")

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            try:
                await self.tick()
            except Exception:
                log.exception("tick failed")

    async def _health_ticker(self) -> None:
        """Check the store's health on its own schedule (from the start), so /metrics'
        `hotline_store_healthy` follows the store whether or not anyone polls /healthz."""
        while True:
            try:
                await self.check_health()
            except Exception:
                log.exception("store health check failed")
            await asyncio.sleep(self.health_seconds)

    async def check_health(self) -> str:
        """`health()` now, kept as the last result (a check that hangs counts as a failure)."""
        try:
            # asyncio.timeout, not wait_for: wait_for can swallow the ticker's cancellation
            async with asyncio.timeout(max(self.health_seconds, 10.0)):
                reason = await self.health()
        except TimeoutError:
            reason = "store health check timed out"
        except Exception as exc:  # a store whose health check itself fails is not healthy
            reason = f"store health check failed: {exc}"
        if reason and not self.last_health:  # one line per change of state
            log.warning("store unhealthy: %s", reason)
        elif not reason and self.last_health:
            log.info("store healthy again")
        self.last_health, self.last_health_at = reason, self.clock()
        return reason

    async def _retention(self) -> None:
        while not self.ready:  # retention needs the store; start it once the state is rebuilt
            await asyncio.sleep(self.config.tick_seconds)
        while True:
            try:
                now = self.clock()
                result = await self.store.apply_retention(
                    now - int(self.config.raw_days * DAY),
                    now - int(self.config.keep_days * DAY),
                    now,
                )
                log.info(
                    "retention: %d samples rolled up, %d samples and %d rollups deleted, "
                    "%d records deleted",
                    result.samples_rolled_up,
                    result.samples_deleted,
                    result.rollups_deleted,
                    result.records_deleted,
                )
            except Exception:
                log.exception("retention failed")
            await asyncio.sleep(6 * 3600)

    # -- the data path -----------------------------------------------------------------------
    async def ingest(self, batch: IngestBatch) -> IngestResult:
        """Store the batch durably, then apply it to the engine. The store is written outside
        the lock, so concurrent batches share its commit (one fsync for all, where the store
        groups commits); the store keeps each batch id once. Before the state is rebuilt
        (`ready` False) the batch is only stored; the rebuild applies it."""
        async with self._cond:  # memory only
            await self._cond.wait_for(lambda: not self._installing)
            _recheck_systems(batch, self.systems)  # another batch may have registered one since
            for s in batch.samples:  # claimed now: a concurrent batch is checked against it
                self.systems.setdefault(s.component, s.system)
            unready = not self.ready
            self._unready_batches += unready
        stored = False
        try:
            if batch.samples or batch.batch_id is not None:
                stored = await self.store.append_samples(batch.agent, batch.batch_id, batch.samples)
            else:
                stored = True
        finally:
            if unready:
                async with self._cond:
                    self._unready_batches -= 1
                    if stored and self._capture is not None:
                        self._capture.extend(batch.samples)
                    self._cond.notify_all()
        if not stored:
            self.counters["duplicate_batches"] += 1
            return IngestResult(len(batch.samples), duplicate=True)
        self.counters["accepted"] += len(batch.samples)
        self.counters["rejected"] += len(batch.rejected)
        backups = [s for s in batch.samples if is_backup_sample(s)]  # usually none
        self._remember_backups(backups)
        if unready:
            return IngestResult(len(batch.samples), duplicate=False)
        async with self._lock:
            now = self.clock()
            try:
                samples = self._state_samples(batch.samples, backups)
                await self._apply(self.engine.ingest(samples, now), now)
            except Exception:  # the samples are durable; a restart rebuilds from them
                log.exception("applying a batch's outage changes failed")
            return IngestResult(len(batch.samples), duplicate=False)

    async def tick(self) -> None:
        if not self.ready:
            return
        async with self._lock:
            now = self.clock()
            if now - self._pruned_at >= 600_000:  # keep the engine's memory to the horizon
                self.engine.prune(now - int(self.config.rebuild_hours * 3_600_000))
                self._pruned_at = now
            # overruns first: members become faults before the composite made of them, as
            # when outages are detected (and as a window entered late regroups them)
            await self._apply_incidents(self.tracker.tick(self.windows, now))
            await self._apply(self.engine.tick(now), now)
        try:
            await self._check_backups(now)
        except Exception as exc:  # the store may not answer now; the next tick tries again
            if not self._backups_failing:  # one line per failing spell, not one per tick
                log.warning("looking for missed backups failed (%s); retrying every tick", exc)
            self._backups_failing = True
        else:
            if self._backups_failing:
                log.info("looking for missed backups works again")
            self._backups_failing = False
        if self.notifier is not None:  # reminders, escalation, written reports due
            await self.notifier.tick(now)

    # -- backups -----------------------------------------------------------------------------
    def _state_samples(
        self, samples: Sequence[Sample], found: list[Sample] | None = None
    ) -> Sequence[Sample]:
        """The samples that decide components' states: all but backup checks' (`found`, those
        of `samples` carrying a backup value, when the caller has them). A check that once
        said it watches a backup stays one (its timeouts carry no value). A component with no
        other check is left out of the engine: never down, never no_data."""
        if found is None:
            found = [s for s in samples if is_backup_sample(s)]
        if not found and not self._backup_probes:
            return samples  # the usual batch
        self._backup_probes.update((s.component, s.probe) for s in found)
        kept = [s for s in samples if (s.component, s.probe) not in self._backup_probes]
        known = self.engine.components()
        stated = {s.component for s in kept}
        self._backup_only.difference_update(stated)
        self._backup_only.update(
            s.component for s in found if s.component not in known and s.component not in stated
        )
        return kept

    def _remember_backups(self, found: list[Sample]) -> None:
        """Keep the backup checks' samples `found` in a batch for `_check_backups`."""
        if found:
            self._backup_samples.extend(found)
            self._backups_changed = True

    async def _check_backups(self, now: Millis) -> None:
        """Publish BACKUP_MISSED once per (component, kind, due) that passed without a backup
        done (`missed_backups`: the rule of the facts' `backups`), within
        `BACKUP_ALERT_LOOKBACK` of its due. What was told is kept in `backups-told.json` in
        the state directory (alerts and runbooks once, also across a restart). Cheap: only
        backup checks' samples, looked at after a backup result or once a minute."""
        current = to_datetime(now).strftime("%Y-%m")
        lo, _ = month_range(current)
        previous = to_datetime(lo - 1).strftime("%Y-%m")
        floor, _ = month_range(previous)
        if not self._backups_loaded:  # once, after a start: the store's, and any since
            read = await self.store.value_samples(floor, now + DAY, [BACKUP_KEY])
            self._backup_samples = _merged(read, self._backup_samples)
            self._backups_told |= _read_told(self._backups_told_path)
            self._backups_loaded = True
            self._backups_changed = True
        stale = self._backups_checked_at is None or now - self._backups_checked_at >= _BACKUP_EVERY
        if not (self._backups_changed or stale):
            return
        changed, self._backups_changed = self._backups_changed, False
        self._backups_checked_at = now
        samples = [s for s in self._backup_samples if s.ts >= floor]
        if changed:  # in the store's order (late results appended last)
            samples.sort(key=lambda s: (s.ts, s.component, s.probe))
        self._backup_samples = samples
        found: list[MissedBackup] = []
        months = [current] if now - BACKUP_ALERT_LOOKBACK >= lo else [previous, current]
        for month in months:
            start, _ = month_range(month)
            found.extend(missed_backups(month, now, [s for s in samples if s.ts >= start]))
        self.backups_missed = sum(1 for m in found if m.due > lo)  # due 00:00 of the 1st: before
        self._backups_told = {k for k in self._backups_told if k[2] >= floor}
        events = []
        for m in found:
            key = (m.component, m.kind, m.due)
            if m.due < now - BACKUP_ALERT_LOOKBACK or key in self._backups_told:
                continue
            self._backups_told.add(key)
            detail: dict[str, object] = {"kind": m.kind, "probe": m.probe}
            if m.last_good is not None:
                detail["last_good"] = format_instant(m.last_good)
            events.append(Event(EventType.BACKUP_MISSED, m.due, m.component, detail=detail))
        await self._publish(events)
        if events:  # after publishing: a crash in between tells again rather than never
            _write_told(self._backups_told_path, self._backups_told)

    async def _apply(self, changes: Changes, now: Millis) -> None:
        if not changes:
            return
        if changes.deletes:
            await self.store.delete_outages(changes.deletes)
        if changes.upserts:
            await self.store.upsert_outages(changes.upserts)
        self.tracker.refresh(changes.upserts)
        incidents = self.tracker.on_events(changes.events, self.windows, now)
        await self._apply_incidents(incidents, publish=False)
        await self._publish([*changes.events, *incidents.events])  # cause before consequence

    async def _apply_incidents(self, changes: IncidentChanges, publish: bool = True) -> None:
        for inc in changes.incidents:
            await self.store.upsert_incident(inc)
        for entry in changes.timeline:
            await self.store.append_timeline(entry)
        for audit in changes.audit:
            await self.store.append_audit(audit)
        if publish:
            await self._publish(changes.events)

    async def _publish(self, events: Sequence[Event]) -> None:
        for ev in events:
            if ev.type is not EventType.OUTAGE_RETRACTED or log.isEnabledFor(logging.DEBUG):
                log.info("%s", _describe(ev))
            for subscriber in self.subscribers:
                try:
                    result = subscriber(ev)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("subscriber %r failed on %s", subscriber, ev.type)

    async def health(self) -> str:
        """Empty when the collector and its store work; else why not (for /healthz)."""
        if not self.ready:
            return f"not ready: {self.not_ready}"
        return await self.store.health()

    async def heartbeat(self, hb: Heartbeat) -> None:
        await self.store.record_heartbeat(hb)

    async def receive_heartbeat(
        self, agent: str, sent_at: Millis, interval: float | None, **parts: dict[str, Any]
    ) -> Heartbeat:
        """Record an agent's heartbeat as received now (`parts`: spool, health, host)."""
        hb = Heartbeat(agent, self.clock(), sent_at, interval, **parts)
        await self.heartbeat(hb)
        return hb

    def parse_batch(self, data: Any) -> IngestBatch:
        """Validate an ingest body against the registered components, now and the config's
        limits (raises `BatchError`)."""
        return parse_batch(
            data,
            self.systems,
            self.clock(),
            int(self.config.max_future * 1000),
            int(self.config.keep_days * DAY),
        )

    async def parse_batch_async(self, data: Any) -> IngestBatch:
        """`parse_batch`, in a worker thread for a big batch (90,000 results take ~0.3 s to
        validate; the loop keeps answering meanwhile). The thread checks against a copy of the
        registered components: one registered meanwhile with another system is moved to the
        rejected by `ingest`, under its lock, as for any batch validated before another."""
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) < _THREAD_BATCH:
            return self.parse_batch(data)
        return await asyncio.to_thread(
            parse_batch,
            data,
            dict(self.systems),
            self.clock(),
            int(self.config.max_future * 1000),
            int(self.config.keep_days * DAY),
        )

    # -- maintenance windows -----------------------------------------------------------------
    async def add_window(
        self,
        actor: str,
        components: Sequence[str],
        start: Millis,
        end: Millis,
        reason: str,
        approval_ref: str,
        rrule: str | None = None,
        window_id: str | None = None,
        new_component: bool = False,
    ) -> MaintenanceWindow:
        """Create a window, or with `window_id` replace one (its created_at/by are kept and the
        audit trail holds what it was before). Under the lock only writes (durable locally,
        also while InfluxDB is down) and memory: no read that could hold ingest up."""
        if not components:
            raise ValueError("components: name components or '*'")
        unknown = [c for c in components if c != "*" and not self._known(c)]
        if unknown and not new_component:
            # a typo here would turn real maintenance into fault time
            raise ValueError(
                f"components: unknown {', '.join(unknown)} (no results seen from it); check the "
                "id, or say new_component (--new-component) for hardware being installed"
            )
        if end <= start:
            raise ValueError("end: must be after start")
        if rrule is not None:
            check_rrule(rrule)
        now = self.clock()
        async with self._lock:
            before = None
            if window_id is not None:
                before = next((w for w in self.windows if w.id == window_id), None)
                if before is None:
                    raise NotFound(f"no maintenance window {window_id}")
            window = MaintenanceWindow(
                id=window_id or "mw-" + uuid.uuid4().hex[:10],
                components=tuple(components),
                start=start,
                end=end,
                reason=reason,
                approval_ref=approval_ref,
                created_at=before.created_at if before else now,
                created_by=before.created_by if before else actor,
                rrule=rrule,
            )
            await self.store.upsert_window(window)
            detail: dict[str, Any] = {
                "components": list(components),
                "start": start,
                "end": end,
                "reason": reason,
                "approval_ref": approval_ref,
                "rrule": rrule,
            }
            action = "window.add"
            if before is not None:
                action = "window.update"
                detail["before"] = {
                    "components": list(before.components),
                    "start": before.start,
                    "end": before.end,
                    "reason": before.reason,
                    "approval_ref": before.approval_ref,
                    "rrule": before.rrule,
                }
            await self.store.append_audit(AuditEntry(now, actor, action, window.id, detail))
            self.windows = _ordered([*(w for w in self.windows if w.id != window.id), window])
        log.info(
            "%s %s %s from %s to %s%s by %s",
            action,
            window.id,
            ",".join(window.components),
            format_instant(window.start),
            format_instant(window.end),
            f" rrule {window.rrule}" if window.rrule else "",
            actor,
        )
        await self._reclassify(actor, [w for w in (before, window) if w is not None], window.id)
        return window

    async def remove_window(self, actor: str, window_id: str) -> None:
        removed = next((w for w in self.windows if w.id == window_id), None)
        if removed is None:
            raise NotFound(f"no maintenance window {window_id}")
        # outside the lock: the store may read to find the window (InfluxDB)
        if not await self.store.delete_window(window_id):
            raise NotFound(f"no maintenance window {window_id}")
        async with self._lock:
            self.windows = [w for w in self.windows if w.id != window_id]
            await self.store.append_audit(
                AuditEntry(self.clock(), actor, "window.remove", window_id)
            )
        log.info("window.remove %s by %s", window_id, actor)
        await self._reclassify(actor, [removed], f"{window_id} removed")

    async def _reclassify(
        self, actor: str, changed: Sequence[MaintenanceWindow], cause: str
    ) -> None:
        """A window entered, changed or removed after its time began: classify the time it
        touched again, so the composite 话务系统 and the incidents are what they would be had
        the window been known in advance (the facts must not depend on when it was typed).
        The engine's own tick re-derives the recent composite; this also reaches history the
        engine no longer holds. Reads happen outside the lock; writes under it."""
        if not self.ready:
            return
        now = self.clock()
        floor = now - int(self.config.keep_days * DAY)
        spans = [
            (max(o.start, floor), min(o.end, now))
            for o in occurrences(changed, floor, now)
            if o.start < now
        ]
        if not spans:
            return  # entered ahead: nothing has happened in it yet
        lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
        cid = self.config.engine.composite_id
        if cid is not None:  # the composite outages there may reach further: read all of them
            near = await self.store.read_outages(
                since=lo - 1, until=hi + 1, component=cid, kind=None
            )
            for o in near:
                lo, hi = min(lo, o.start), max(hi, now if o.end is None else o.end)
        # the members' state just before matters to a composite piece reaching into [lo, hi)
        history = await self.store.read_outages(since=lo - DAY, until=hi + 1, kind=None)
        stored = [o for o in history if o.start <= hi and (o.end is None or o.end >= lo)]
        since = min([o.start for o in stored] + [lo]) - DAY
        incidents = await self.store.incidents(since=since)
        async with self._lock:
            now = self.clock()
            memory = {o.id: o for o in self.engine.outages()}
            outages = {o.id: memory.get(o.id, o) for o in stored}
            composite = Changes()
            if cid is not None:
                members = {o.id: memory.get(o.id, o) for o in history}
                composite = self._recompose(cid, members, lo, hi, now)
                for oid in composite.deletes:
                    outages.pop(oid, None)
                outages.update({o.id: o for o in composite.upserts})
                if composite.deletes:
                    await self.store.delete_outages(composite.deletes)
                if composite.upserts:
                    await self.store.upsert_outages(composite.upserts)
                self.engine.adopt_composite(composite.deletes, composite.upserts)
            ids = set(outages) | set(composite.deletes)
            touched = [
                self.tracker.open.get(i.id, i)
                for i in incidents
                if any(oid in ids for oid in i.outage_ids)
            ]
            # the other outages of those incidents, for regrouping them whole
            wanted = {oid for i in touched for oid in i.outage_ids} - ids
            outages.update({o.id: memory.get(o.id, o) for o in history if o.id in wanted})
            down = [o for o in outages.values() if o.kind is IntervalKind.DOWN]
            changes = self.tracker.reclassify(
                down, set(composite.deletes), touched, self.windows, now, actor, cause, cid
            )
            await self._apply_incidents(changes, publish=False)
            await self._publish([*composite.events, *changes.events])
        if composite or changes.incidents:
            log.info(
                "window %s: reclassified %d composite outage(s), %d incident(s)",
                cause,
                len(composite.upserts) + len(composite.deletes),
                len(changes.incidents),
            )

    def _recompose(
        self, cid: str, outages: dict[str, Outage], lo: Millis, hi: Millis, now: Millis
    ) -> Changes:
        """The composite's outages overlapping [lo, hi), derived again from its members'."""
        rules = self.config.engine.composite
        members: dict[str, list[Member]] = {}
        for component, system in sorted(self.systems.items()):
            if component == cid or system not in rules or component in self._backup_only:
                continue
            mine = [o for o in outages.values() if o.component == component]
            down = [o for o in mine if o.kind is IntervalKind.DOWN]
            silent = [o for o in mine if o.kind is IntervalKind.NO_DATA]
            members.setdefault(system, []).append(
                member_of(component, down, silent, self.engine.maintenance, now)
            )
        down_out, no_data_out = derive_composite(cid, rules, members, now)

        def near(o: Outage) -> bool:
            return o.start < hi and (o.end is None or o.end > lo)

        changes = Changes()
        for kind, derived in ((IntervalKind.DOWN, down_out), (IntervalKind.NO_DATA, no_data_out)):
            current = {
                o.id: o
                for o in outages.values()
                if o.component == cid and o.kind is kind and near(o)
            }
            wanted = {k: o for k, o in derived.items() if near(o)}
            for k, o in current.items():  # keep what an operator recorded on them
                if k in wanted:
                    wanted[k] = replace(wanted[k], excluded=o.excluded)
            changes.extend(diff_outages(current, wanted, no_data=kind is IntervalKind.NO_DATA))
        return changes

    # -- disputes ----------------------------------------------------------------------------
    async def exclude_outage(
        self, actor: str, outage_id: str, reason: str, approved_by: str
    ) -> None:
        if not reason.strip() or not approved_by.strip():
            raise ValueError("reason and approved_by: both required")
        await self._outage(outage_id)
        now = self.clock()
        ex = Exclusion(reason, approved_by, by=actor, at=now)
        async with self._lock:
            await self.store.set_exclusion(outage_id, ex)
            detail = {"reason": reason, "approved_by": approved_by}
            await self.store.append_audit(
                AuditEntry(now, actor, "outage.exclude", outage_id, detail)
            )

    async def include_outage(self, actor: str, outage_id: str, reason: str) -> None:
        await self._outage(outage_id)
        async with self._lock:
            await self.store.set_exclusion(outage_id, None)
            await self.store.append_audit(
                AuditEntry(self.clock(), actor, "outage.include", outage_id, {"reason": reason})
            )

    async def annotate_outage(self, actor: str, outage_id: str, note: str) -> None:
        if not note.strip():
            raise ValueError("note: must not be empty")
        await self._outage(outage_id)
        await self.store.append_audit(
            AuditEntry(self.clock(), actor, "outage.annotate", outage_id, {"note": note})
        )

    async def _outage(self, outage_id: str) -> Outage:
        found = await self.store.get_outage(outage_id)
        if found is None:
            raise NotFound(f"no outage {outage_id}")
        return found

    # -- incidents ---------------------------------------------------------------------------
    async def get_incident(self, incident_id: str) -> Incident:
        inc = await self.store.get_incident(incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id}")
        return self.tracker.open.get(incident_id, inc)

    async def open_incident(
        self,
        actor: str,
        components: Sequence[str],
        severity: str | None,
        title: str,
        detected_at: Millis | None = None,
        new_component: bool = False,
    ) -> Incident:
        unknown = [c for c in components if not self._known(c)]
        if unknown and not new_component:
            raise ValueError(
                f"components: unknown {', '.join(unknown)} (no results seen); for a fault no "
                f"probe covers, name the system's composite ({self.config.engine.composite_id}) "
                "or a probed component and describe it in the title"
            )
        if severity is not None and severity not in ("P1", "P2", "P3"):
            raise ValueError("severity: must be P1, P2 or P3")
        async with self._lock:
            inc, changes = self.tracker.open_by_hand(
                components, severity, title, actor, self.clock(), detected_at
            )
            await self._apply_incidents(changes)
        return inc

    async def ack_incident(
        self,
        actor: str,
        incident_id: str,
        at: Millis | None = None,
        reason: str | None = None,
    ) -> Incident:
        """The operator's acknowledgement (the response); `at` with a `reason` when recorded
        late (audited)."""
        inc = await self._change_incident(
            incident_id, lambda inc, now: self.tracker.ack(inc, actor, now, at, reason)
        )
        if self.notifier is not None:
            await self.notifier.acknowledged(incident_id)
        return inc

    async def ack_by_link(self, token: str, confirm: bool) -> tuple[AckClaim, Incident | None]:
        """An acknowledgement link: `confirm` False only looks (GET changes nothing); True
        spends the link's one use and acknowledges as the person or route it names.
        LinkError when the link does not verify or was used."""
        from collector.notify.links import LinkError

        if self.notifier is None:
            raise LinkError("malformed")
        now = self.clock()
        claim = self.notifier.verify_link(token, now)
        inc = self.tracker.open.get(claim.incident_id) or await self.store.get_incident(
            claim.incident_id
        )
        if not confirm or inc is None:
            return claim, inc
        if inc.responded_at is not None:
            return claim, inc
        if not self.notifier.use_link(claim, now):
            raise LinkError("used")
        return claim, await self.ack_incident(claim.who, claim.incident_id)

    async def restore_incident(
        self,
        actor: str,
        incident_id: str,
        at: Millis | None = None,
        force: bool = False,
        reason: str | None = None,
    ) -> Incident:
        """Service restored, recorded by hand (`at` defaults to now)."""
        return await self._change_incident(
            incident_id,
            lambda inc, now: self.tracker.restore(inc, actor, now, at, force, reason),
        )

    async def report_incident(
        self,
        actor: str,
        incident_id: str,
        ref: str,
        at: Millis | None = None,
        reason: str | None = None,
    ) -> Incident:
        """The written report, submitted under reference `ref` (`at` with a `reason` when
        recorded late, audited)."""
        return await self._change_incident(
            incident_id, lambda inc, now: self.tracker.report(inc, ref, actor, now, at, reason)
        )

    async def annotate_incident(self, actor: str, incident_id: str, note: str) -> Incident:
        return await self._change_incident(
            incident_id, lambda inc, now: self.tracker.annotate(inc, note, actor, now)
        )

    async def _change_incident(
        self, incident_id: str, change: Callable[[Incident, Millis], IncidentChanges]
    ) -> Incident:
        # An open incident is in memory; a closed one is read from the store before taking the
        # lock, so a slow store (InfluxDB down) never holds ingest up.
        for _ in range(2):
            stored = None if incident_id in self.tracker.open else await self._stored(incident_id)
            async with self._lock:
                inc = self.tracker.open.get(incident_id, stored)
                if inc is None:  # it closed meanwhile: read it from the store, then try again
                    continue
                changes = change(inc, self.clock())
                await self._apply_incidents(changes)
                return changes.incidents[-1] if changes.incidents else inc
        raise NotFound(f"no incident {incident_id}")

    async def _stored(self, incident_id: str) -> Incident:
        inc = await self.store.get_incident(incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id}")
        return inc

    async def timeline(self, incident_id: str) -> list[TimelineEntry]:
        await self.get_incident(incident_id)
        return await self.store.timeline(incident_id)

    # -- reads -------------------------------------------------------------------------------
    async def facts(self, month: str, backups: bool = True) -> dict[str, Any]:
        """The month's facts; `backups=False` leaves the backups out (the status page's
        summary, every 10 s, has no use for them and need not read the month's samples)."""
        lo, hi = month_range(month)
        now = self.clock()
        done = []
        if backups:
            found = await self.store.value_samples(lo, max(lo, now + 1), [BACKUP_KEY])
            done = backup_events(month, now, found)
        # a component watched only by backup checks has no state: as a member of its system
        # it would add working time without any fault time (a better figure than measured)
        components = [c for c in await self.store.components() if c.id not in self._backup_only]
        outages = await self.store.read_outages(since=lo, until=hi)
        no_data = await self.store.read_outages(since=lo, until=hi, kind=IntervalKind.NO_DATA)
        incidents = await self.store.incidents(since=lo, until=hi)
        incidents = [self.tracker.open.get(i.id, i) for i in incidents]
        audit = await self.store.audit(since=lo)
        return build_facts(
            month,
            now,
            components,
            self.config.engine.composite_id,
            outages,
            no_data,
            self.windows,
            incidents,
            audit,
            done,
        )

    async def inspection(self, month: str) -> dict[str, Any]:
        """The month's inspection report data (see `collector.domain.inspection`)."""
        lo, hi = month_range(month)
        now = self.clock()
        outages = await self.store.read_outages(since=lo, until=hi, kind=None)
        incidents = [self.with_open(i) for i in await self.store.incidents(since=lo, until=hi)]
        return build_inspection(
            month,
            now,
            await self.store.components(),
            self.config.engine.composite_id,
            await self.store.check_days(lo, hi),
            await self.store.value_samples(lo, max(lo, now + 1), VALUE_KEYS),
            outages,
            self.windows,
            incidents,
            await self.store.heartbeats(),
            agents=[p.name for p in self.config.principals if p.role == "agent"],
        )

    async def status(self) -> dict[str, Any]:
        now = self.clock()
        open_ = await self.store.open_outages()
        down = {o.component for o in open_ if o.kind is IntervalKind.DOWN}
        silent = {o.component for o in open_ if o.kind is IntervalKind.NO_DATA}
        components = sorted(self.engine.components().items())
        return {
            "now": now,
            "components": [
                {
                    "id": c,
                    "system": s,
                    "state": "down" if c in down else "no_data" if c in silent else "up",
                    "maintenance": in_window(self.windows, c, now),
                }
                for c, s in components
            ],
            "open_outages": open_,
            "open_incidents": sorted(self.tracker.open.values(), key=lambda i: i.detected_at),
            "agents": await self.store.heartbeats(),
        }

    def with_open(self, inc: Incident) -> Incident:
        return replace(self.tracker.open.get(inc.id, inc))

    async def outage_pieces(
        self, since: Millis | None, until: Millis | None, component: str | None
    ) -> list[tuple[Outage, list[tuple[Millis, Millis | None, str]]]]:
        """Outages (down) with their maintenance and fault pieces under today's windows."""
        now = self.clock()
        found = await self.store.read_outages(since=since, until=until, component=component)
        return [(o, classify(o, self.windows, now)) for o in found]

    async def no_data(
        self, since: Millis | None, until: Millis | None, component: str | None
    ) -> list[Outage]:
        return await self.store.read_outages(
            since=since, until=until, component=component, kind=IntervalKind.NO_DATA
        )

    async def rollups(self, since: Millis, until: Millis, component: str | None) -> list[Rollup]:
        return await self.store.rollups(since, until, component)

    async def audit(
        self, since: Millis | None = None, until: Millis | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        return await self.store.audit(since, until, target)

    async def incidents(
        self, since: Millis | None = None, until: Millis | None = None, open_only: bool = False
    ) -> list[Incident]:
        """Stored incidents, the open ones as they are in memory now."""
        return [self.with_open(i) for i in await self.store.incidents(since, until, open_only)]

    def get_window(self, window_id: str) -> MaintenanceWindow:
        for w in self.windows:
            if w.id == window_id:
                return w
        raise NotFound(f"no maintenance window {window_id}")

    async def queue_depths(self) -> dict[str, int]:
        return await self.store.queue_depths()

    def component_states(self) -> dict[str, tuple[str, int | None]]:
        """Each component's system and state from memory: 1 up, 0 down, None no data."""
        open_ = [o for o in self.engine.outages() if o.end is None]
        down = {o.component for o in open_ if o.kind is IntervalKind.DOWN}
        silent = {o.component for o in open_ if o.kind is IntervalKind.NO_DATA}
        return {
            c: (system, 0 if c in down else None if c in silent else 1)
            for c, system in self.engine.components().items()
        }

    def gauges(self) -> dict[str, int]:
        """From memory, not the store (/metrics answers while the store is down)."""
        open_ = [o for o in self.engine.outages() if o.end is None]
        return {
            "open_outages": sum(1 for o in open_ if o.kind == "down"),
            "open_no_data": sum(1 for o in open_ if o.kind == "no_data"),
            "open_incidents": len(self.tracker.open),
            "ready": 1 if self.ready else 0,
            "engine_items": self.engine.memory(),
            "backups_missed": self.backups_missed,
        }


@dataclass(frozen=True, slots=True)
class _State:
    """What a rebuild reads from the store."""

    components: list[Component]
    windows: list[MaintenanceWindow]
    since: Millis
    known: list[Outage]
    incidents: list[Incident]
    all_ids: list[str]
    told: list[tuple[str, str]]  # (incident id, deadline) already announced
    samples: list[Sample]


def _merged(read: list[Sample], captured: list[Sample]) -> list[Sample]:
    """The samples a rebuild read, and those stored during its reads that it did not read."""
    if not captured:
        return read
    seen = {_key(s) for s in read}
    extra = [s for s in captured if _key(s) not in seen]
    return sorted([*read, *extra], key=lambda s: (s.ts, s.component, s.probe))


def _key(s: Sample) -> tuple[Any, ...]:
    return (s.agent, s.component, s.probe, s.ts, s.ok, s.count, s.until)


def _ordered(windows: list[MaintenanceWindow]) -> list[MaintenanceWindow]:
    """In the store's order (start, id), as `Store.windows` returns them."""
    return sorted(windows, key=lambda w: (w.start, w.id))


def _recheck_systems(batch: IngestBatch, systems: dict[str, str]) -> None:
    """Move results naming a component registered (meanwhile) with another system to rejected."""
    if all(systems.get(s.component, s.system) == s.system for s in batch.samples):
        return
    kept, indexes = [], []
    for index, s in zip(batch.indexes, batch.samples, strict=True):
        known = systems.get(s.component, s.system)
        if known == s.system:
            kept.append(s)
            indexes.append(index)
        else:
            error = f"component {s.component!r} is registered with system {known!r}"
            batch.rejected.append({"index": index, "field": "system", "error": error})
    batch.samples, batch.indexes = kept, indexes
    batch.rejected.sort(key=lambda r: r["index"])


class _NotifyHost:
    """The collector as the notifier sees it (`collector.notify.hub.Host`)."""

    def __init__(self, collector: Collector) -> None:
        self._c = collector
        self.clock = collector.clock

    def system_of(self, component: str) -> str:
        return self._c.system_of(component)

    async def get(self, incident_id: str) -> Incident | None:
        c = self._c
        return c.tracker.open.get(incident_id) or await c.store.get_incident(incident_id)

    async def active(self) -> Sequence[Incident]:
        """Open incidents, and those restored lately whose written report is not in."""
        c = self._c
        since = c.clock() - 14 * DAY
        owing = [
            i
            for i in await c.store.incidents(since=since)
            if not i.is_open and i.voided is None and i.report_submitted_at is None
        ]
        return [*c.tracker.open.values(), *owing]

    def incident_of(self, event: Event) -> Incident | None:
        open_ = self._c.tracker.open
        if event.incident_id is not None:
            return open_.get(event.incident_id)
        if event.outage is not None:
            for inc in open_.values():
                if event.outage.id in inc.outage_ids:
                    return inc
        return None

    async def record(self, entry: TimelineEntry) -> None:
        try:
            await self._c.store.append_timeline(entry)
        except Exception:  # the send or run happened; its record is lost, not the service
            log.exception("could not record %s on %s", entry.event, entry.incident_id)


def _describe(ev: Event) -> str:
    """One line per state change for the log: what, which, when (with its offset), why."""
    parts = [ev.type.value]
    if ev.component:
        parts.append(ev.component)
    parts.append(f"at {format_instant(ev.ts)}")
    o = ev.outage
    if o is not None:
        if ev.type is EventType.OUTAGE_ENDED and o.end is not None:
            parts.append(f"(since {format_instant(o.start)})")
        if o.reason and ev.type in (EventType.OUTAGE_STARTED, EventType.NO_DATA_STARTED):
            parts.append(f"reason {o.reason}" + (f": {o.detail}" if o.detail else ""))
    if ev.incident_id:
        parts.append(f"incident {ev.incident_id}")
    for key, value in sorted(ev.detail.items()):
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _read_told(path: Path | None) -> set[tuple[str, str, Millis]]:
    """The missed backups told before this start (see `_check_backups`)."""
    if path is None:
        return set()
    try:
        return {(str(c), str(k), int(d)) for c, k, d in json.loads(path.read_text("utf-8"))}
    except FileNotFoundError:
        return set()
    except (OSError, ValueError, TypeError) as exc:
        log.warning("cannot read %s (%s): recent missed backups may be told again", path, exc)
        return set()


def _write_told(path: Path | None, told: set[tuple[str, str, Millis]]) -> None:
    if path is None:
        return
    part = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_text(json.dumps(sorted(told)), "utf-8")
        os.replace(part, path)
    except OSError as exc:
        log.warning("cannot write %s (%s): a restart may tell these backups again", path, exc)
