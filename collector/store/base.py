"""The store interface: everything the engine, the API and the facts export need.

Every store (SQLite, the embedded default; InfluxDB, the production one) implements `Store` and
passes `tests/collector/test_store_contract.py`. Methods are async because the InfluxDB store
talks HTTP; the SQLite store runs its queries on one worker thread.

Rules every implementation keeps:
- instants are `Millis` (epoch ms, UTC) — see `collector.domain.model`;
- ids are given by the caller; a store never invents one;
- `append_samples` is atomic and durable when it returns (the API answers 202 after it);
- reads return records in a documented order so both stores give equal results.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from collector.domain.model import (
    AuditEntry,
    CheckDay,
    Component,
    Exclusion,
    Heartbeat,
    Incident,
    IntervalKind,
    MaintenanceWindow,
    Millis,
    Outage,
    RetentionResult,
    Rollup,
    Sample,
    TimelineEntry,
)

DAY_MS = 86_400_000
LOCAL_OFFSET_MS = 8 * 3_600_000  # Asia/Shanghai: +08:00 all year (no DST since 1991)


def local_day(ms: Millis) -> Millis:
    """The local (+08:00) day's 00:00 that `ms` falls in."""
    return (ms + LOCAL_OFFSET_MS) // DAY_MS * DAY_MS - LOCAL_OFFSET_MS


def has_any_key(value: object, keys: Sequence[str]) -> bool:
    """True when a sample's `value` is a JSON object with one of `keys` (see `value_samples`)."""
    return isinstance(value, dict) and any(k in value for k in keys)


class StoreError(Exception):
    """The store is unreachable or refused an operation; the message says which."""


class BatchConflict(Exception):
    """`append_samples` got a batch id the agent already used for other results: nothing of
    it is stored (the id stays with what was stored first)."""


@runtime_checkable
class Store(Protocol):
    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, create the database/schema on first start and apply migrations."""

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the store answers (for /healthz)."""

    async def health(self) -> str:
        """Empty when the store answers and takes writes; else why not, in words (for /healthz)."""

    async def queue_depths(self) -> dict[str, int]:
        """Pending work per internal queue (e.g. a durable write buffer), for /healthz and
        /metrics. Answers from memory, without I/O: it must work while the store is down."""

    # -- samples -----------------------------------------------------------------------------
    async def append_samples(
        self, agent: str, batch_id: str | None, samples: Sequence[Sample]
    ) -> bool:
        """Store the samples and register new components, atomically and durably.

        With a `batch_id` already stored for this `agent`, store nothing and return False
        (at-least-once delivery, exactly-once storage); a store that keeps a digest of each
        batch raises `BatchConflict` instead when the results differ from the stored ones.
        Otherwise return True. A component is
        registered with the system, agent and ts of its first sample; an existing component's
        record is left unchanged.
        """

    async def read_samples(
        self,
        since: Millis,
        until: Millis,
        component: str | None = None,
    ) -> list[Sample]:
        """Samples whose `ts` is in [since, until), ordered by (ts, component, probe)."""

    async def components(self) -> list[Component]:
        """Every registered component, ordered by id."""

    # -- outages and no-data intervals --------------------------------------------------------
    async def upsert_outages(self, outages: Iterable[Outage]) -> None:
        """Insert or replace by id. The `excluded` field is ignored here (see `set_exclusion`)."""

    async def delete_outages(self, ids: Iterable[str]) -> None:
        """Remove outages (a late sample moved their start, so their id changed)."""

    async def read_outages(
        self,
        since: Millis | None = None,
        until: Millis | None = None,
        component: str | None = None,
        kind: IntervalKind | None = IntervalKind.DOWN,
    ) -> list[Outage]:
        """Outages overlapping [since, until) (open ones reach to infinity), with their
        exclusion, ordered by (start, component, id). `kind=None` returns both kinds."""

    async def get_outage(self, outage_id: str) -> Outage | None:
        """One outage or no-data interval (either kind) with its exclusion, None when unknown."""

    async def open_outages(self) -> list[Outage]:
        """Every outage or no-data interval with `end is None` (for rebuilding after a restart),
        ordered by (start, component, id)."""

    async def set_exclusion(self, outage_id: str, exclusion: Exclusion | None) -> None:
        """Exclude an outage from fault time, or (None) lift the exclusion."""

    # -- maintenance windows -----------------------------------------------------------------
    async def upsert_window(self, window: MaintenanceWindow) -> None: ...

    async def delete_window(self, window_id: str) -> bool:
        """False when no such window existed."""

    async def windows(self) -> list[MaintenanceWindow]:
        """Every window (recurring ones once, not expanded), ordered by (start, id)."""

    # -- incidents ---------------------------------------------------------------------------
    async def upsert_incident(self, incident: Incident) -> None: ...

    async def get_incident(self, incident_id: str) -> Incident | None: ...

    async def incidents(
        self,
        since: Millis | None = None,
        until: Millis | None = None,
        open_only: bool = False,
    ) -> list[Incident]:
        """Incidents detected in [since, until) (or still open when `open_only`), ordered by
        (detected_at, id)."""

    async def append_timeline(self, entry: TimelineEntry) -> None: ...

    async def timeline(self, incident_id: str) -> list[TimelineEntry]:
        """The incident's entries in the order they were appended."""

    # -- audit trail -------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> None: ...

    async def audit(
        self, since: Millis | None = None, until: Millis | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        """Entries with ts in [since, until), in the order they were appended."""

    # -- agents ------------------------------------------------------------------------------
    async def record_heartbeat(self, heartbeat: Heartbeat) -> None:
        """Keep the agent's latest heartbeat (last seen, skew, spool, health)."""

    async def heartbeats(self) -> list[Heartbeat]:
        """The latest heartbeat of every agent, ordered by agent."""

    # -- retention ---------------------------------------------------------------------------
    async def apply_retention(
        self, raw_before: Millis, keep_before: Millis, now: Millis
    ) -> RetentionResult:
        """Roll samples older than `raw_before` up into per-minute rollups and delete them;
        delete rollups, closed outages, incidents (restored), timelines and audit entries older
        than `keep_before`. Open outages and incidents are never deleted. `now` is the instant
        both cuts were computed from (the clock is passed in, never read)."""

    async def rollups(
        self, since: Millis, until: Millis, component: str | None = None
    ) -> list[Rollup]:
        """Rollups with minute in [since, until), ordered by (minute, component)."""

    # -- the inspection report (巡检报告) ------------------------------------------------------
    async def check_days(self, since: Millis, until: Millis) -> list[CheckDay]:
        """Per check (component, probe) and local day, the results whose `ts` is in
        [since, until): ok and failed counts (a coalesced run counts `count` times, on the day
        of its `ts`), the first `ts` and the last `ts`/`until`, and the smallest agent name that
        sent them. Ordered by (day, component, probe)."""

    async def value_samples(
        self, since: Millis, until: Millis, keys: Sequence[str]
    ) -> list[Sample]:
        """Samples with `ts` in [since, until) whose `value` is a JSON object holding at least
        one of `keys` (e.g. `cpu_pct`, `cert_days_left`, `backup`), ordered as `read_samples`."""
