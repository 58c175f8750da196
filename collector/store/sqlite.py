"""The embedded store: one SQLite file in WAL mode, schema versioned by a migrations table.

The stdlib `sqlite3` module runs on the durable worker (`durable.Worker`: one connection on one
thread, every query in submission order), which is all an async wrapper such as aiosqlite does,
and keeps the ingest transaction (samples + batch id + components) in one place.
`synchronous=FULL` makes every commit durable before `append_samples` returns.

Group commit: `append_samples` calls that arrive while a commit is in progress share the next
one (the worker's `transaction`: each batch inside its own SAVEPOINT, so a batch id seen before —
or any failure of one batch, e.g. a value the driver cannot bind — undoes only that batch), so
concurrent ingest requests pay one fsync together instead of one each. Each batch id is kept
with a digest of its rows: the same id with other results is a `BatchConflict`, not a silent
"stored".
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

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
from collector.domain.timefmt import in_range
from collector.store.base import (
    DAY_MS,
    LOCAL_OFFSET_MS,
    BatchConflict,
    StoreError,
    has_any_key,
)
from durable import Worker, WorkerClosed

T = TypeVar("T")
log = logging.getLogger("hotline.collector.store.sqlite")

# Each entry is one schema version; never edit a released one, append a new one.
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE components (
        id TEXT PRIMARY KEY, system TEXT NOT NULL, agent TEXT NOT NULL, first_seen INTEGER NOT NULL
    );
    CREATE TABLE batches (
        agent TEXT NOT NULL, batch_id TEXT NOT NULL, received_at INTEGER NOT NULL,
        PRIMARY KEY (agent, batch_id)
    );
    CREATE TABLE samples (
        agent TEXT NOT NULL, component TEXT NOT NULL, system TEXT NOT NULL, probe TEXT NOT NULL,
        ts INTEGER NOT NULL, ok INTEGER NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
        latency_ms REAL, value TEXT, interval REAL, count INTEGER NOT NULL, until INTEGER
    );
    CREATE INDEX samples_ts ON samples (ts);
    CREATE INDEX samples_component_ts ON samples (component, ts);
    CREATE TABLE outages (
        id TEXT PRIMARY KEY, component TEXT NOT NULL, kind TEXT NOT NULL,
        start INTEGER NOT NULL, "end" INTEGER, detected_at INTEGER,
        probes TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL
    );
    CREATE INDEX outages_start ON outages (start);
    CREATE INDEX outages_component ON outages (component, start);
    CREATE TABLE exclusions (
        outage_id TEXT PRIMARY KEY, reason TEXT NOT NULL, approved_by TEXT NOT NULL,
        by TEXT NOT NULL, at INTEGER NOT NULL
    );
    CREATE TABLE windows (
        id TEXT PRIMARY KEY, components TEXT NOT NULL, start INTEGER NOT NULL,
        "end" INTEGER NOT NULL, reason TEXT NOT NULL, approval_ref TEXT NOT NULL,
        created_at INTEGER NOT NULL, created_by TEXT NOT NULL, rrule TEXT, tz TEXT NOT NULL
    );
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY, components TEXT NOT NULL, severity TEXT NOT NULL,
        detected_at INTEGER NOT NULL, title TEXT NOT NULL, opened_by TEXT NOT NULL,
        first_failed_at INTEGER, outage_ids TEXT NOT NULL,
        responded_at INTEGER, responded_by TEXT, restored_at INTEGER, restored_by TEXT,
        report_submitted_at INTEGER, report_ref TEXT
    );
    CREATE INDEX incidents_detected ON incidents (detected_at);
    CREATE TABLE timeline (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL, ts INTEGER NOT NULL,
        event TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL
    );
    CREATE INDEX timeline_incident ON timeline (incident_id);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL
    );
    CREATE TABLE heartbeats (
        agent TEXT PRIMARY KEY, received_at INTEGER NOT NULL, sent_at INTEGER NOT NULL,
        interval REAL, spool TEXT NOT NULL, health TEXT NOT NULL, host TEXT NOT NULL
    );
    CREATE TABLE rollups (
        component TEXT NOT NULL, minute INTEGER NOT NULL, ok INTEGER NOT NULL,
        failed INTEGER NOT NULL, latency_min REAL, latency_max REAL,
        latency_sum REAL NOT NULL, latency_count INTEGER NOT NULL,
        PRIMARY KEY (component, minute)
    );
    """,
    # 2: a digest of each batch's rows, to tell a resent batch from another one under its id
    "ALTER TABLE batches ADD COLUMN digest TEXT;",
    # 3: an incident whose downtime turned out to be maintenance is voided, not deleted
    "ALTER TABLE incidents ADD COLUMN voided TEXT;",
]

_FAR = 2**62  # "until forever" for open intervals in range queries


# -- rows ↔ records: one mapping per record type, used by every query that reads or writes it.
# Each table's row is a NamedTuple whose fields are its columns as `_MIGRATIONS` made them
# (a migration only appends one); queries name these columns, never `SELECT *` or `VALUES` by
# position, rows are written by keyword and read by name (`_make` on the selected columns).
class _OutageRow(NamedTuple):
    id: str
    component: str
    kind: str
    start: Millis
    end: Millis | None
    detected_at: Millis | None
    probes: str  # JSON list
    reason: str
    detail: str


class _ExclusionRow(NamedTuple):
    outage_id: str
    reason: str
    approved_by: str
    by: str
    at: Millis


class _WindowRow(NamedTuple):
    id: str
    components: str  # JSON list
    start: Millis
    end: Millis
    reason: str
    approval_ref: str
    created_at: Millis
    created_by: str
    rrule: str | None
    tz: str


class _IncidentRow(NamedTuple):
    id: str
    components: str  # JSON list
    severity: str
    detected_at: Millis
    title: str
    opened_by: str
    first_failed_at: Millis | None
    outage_ids: str  # JSON list
    responded_at: Millis | None
    responded_by: str | None
    restored_at: Millis | None
    restored_by: str | None
    report_submitted_at: Millis | None
    report_ref: str | None
    voided: str | None  # migration 3


def _names(columns: Sequence[str], table: str = "") -> str:
    """`"id", "component", …` (quoted: `end` is a keyword), each prefixed with `table.`."""
    prefix = f"{table}." if table else ""
    return ", ".join(f'{prefix}"{c}"' for c in columns)


def _upsert(table: str, columns: Sequence[str]) -> str:
    return (
        f"INSERT OR REPLACE INTO {table} ({_names(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )


def _select(table: str, columns: Sequence[str]) -> str:
    return f"SELECT {_names(columns)} FROM {table}"


# an outage's columns, then its exclusion's (all NULL when it has none)
_OUTAGE_SELECT = (
    f"SELECT {_names(_OutageRow._fields, 'o')}, {_names(_ExclusionRow._fields, 'e')} "
    "FROM outages o LEFT JOIN exclusions e ON e.outage_id = o.id"
)
_OUTAGE_WIDTH = len(_OutageRow._fields)


def path_from_url(url: str) -> Path:
    """`sqlite:///var/lib/x.db` → /var/lib/x.db; `sqlite:///rel.db`'s three slashes keep the
    absolute path of SQLAlchemy's convention (`sqlite:////abs` also accepted)."""
    if not url.startswith("sqlite://"):
        raise StoreError(f"not a sqlite URL: {url!r}")
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or rest == "/":
        raise StoreError(
            f"sqlite URL needs a path, e.g. sqlite:///var/lib/hotline/store.db: {url!r}"
        )
    return Path("/" + rest.lstrip("/"))


class SqliteStore:
    """`Store` on one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._worker: Worker | None = None
        self.commits = 0  # sample commits so far (group commits count once)

    # -- plumbing ----------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        worker = self._worker
        if worker is None or not worker.is_open:
            raise StoreError("store is not open")
        try:
            return await worker.run(lambda _conn: fn(*args))
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"sqlite {self.path}: {exc}") from exc

    @property
    def _conn(self) -> sqlite3.Connection:
        try:
            return self._worker.connection  # type: ignore[union-attr]
        except (AttributeError, WorkerClosed):
            raise StoreError("store is not open") from None

    def _counted(self, _transactions: int) -> None:
        self.commits += 1

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
        )
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for version, script in enumerate(_MIGRATIONS, start=1):
            if version in done:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    (version, int(time.time() * 1000)),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._worker is not None and self._worker.is_open:
            return
        worker = Worker(self._connect, name="sqlite-store", after_commit=self._counted)
        try:
            await worker.open()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"sqlite {self.path}: {exc}") from exc
        self._worker = worker

    async def close(self) -> None:
        """Commit what is waiting (the callers wait for it), then close the file."""
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.close()

    async def ping(self) -> bool:
        try:
            await self._run(lambda: self._conn.execute("SELECT 1").fetchone())
        except StoreError:
            return False
        return True

    async def health(self) -> str:
        try:
            await self._run(lambda: self._conn.execute("SELECT 1").fetchone())
        except StoreError as exc:
            return str(exc)
        return ""

    async def queue_depths(self) -> dict[str, int]:
        return {}

    async def schema_version(self) -> int:
        def q() -> int:
            return self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]

        return await self._run(q)

    # -- samples -----------------------------------------------------------------------------
    async def append_samples(
        self, agent: str, batch_id: str | None, samples: Sequence[Sample]
    ) -> bool:
        rows = [
            (
                s.agent,
                s.component,
                s.system,
                s.probe,
                s.ts,
                int(s.ok),
                s.reason,
                s.detail,
                s.latency_ms,
                None if s.value is None else json.dumps(s.value),
                s.interval,
                s.count,
                s.until,
            )
            for s in samples
        ]
        first: dict[str, Sample] = {}
        for s in samples:
            if s.component not in first or s.ts < first[s.component].ts:
                first[s.component] = s
        comps = [(c, s.system, s.agent, s.ts) for c, s in first.items()]
        received = max((s.ts for s in samples), default=0)
        worker = self._worker
        if worker is None or not worker.is_open:
            raise StoreError("store is not open")

        def append(db: sqlite3.Connection) -> bool:
            # in its own savepoint: a batch id seen with other rows, or any failure of this
            # batch, undoes this batch only; the others of the group commit
            if batch_id is not None:
                digest = _digest(rows)
                cur = db.execute(
                    "INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?)",
                    (agent, batch_id, received, digest),
                )
                if cur.rowcount == 0:
                    _check_digest(db, agent, batch_id, digest)
                    return False
            db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany("INSERT OR IGNORE INTO components VALUES (?,?,?,?)", comps)
            return True

        try:
            return await worker.transaction(append)
        except BatchConflict:
            raise
        except (sqlite3.Error, OSError, ValueError, OverflowError) as exc:
            # a value the driver cannot bind raises ValueError or OverflowError
            raise StoreError(f"sqlite {self.path}: {type(exc).__name__}: {exc}") from exc

    async def read_samples(
        self, since: Millis, until: Millis, component: str | None = None
    ) -> list[Sample]:
        sql = "SELECT * FROM samples WHERE ts >= ? AND ts < ?"
        args: list[Any] = [since, until]
        if component is not None:
            sql += " AND component = ?"
            args.append(component)
        sql += " ORDER BY ts, component, probe, rowid"
        return [_sample(r) for r in await self._fetch(sql, args)]

    async def components(self) -> list[Component]:
        rows = await self._fetch("SELECT id, system, first_seen, agent FROM components ORDER BY id")
        return [Component(*r) for r in rows]

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._run(lambda: self._conn.execute(sql, args).fetchall())

    async def _write(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)

        def tx() -> None:
            with _transaction(self._conn):
                self._conn.executemany(sql, rows)

        await self._run(tx)

    # -- outages -----------------------------------------------------------------------------
    async def upsert_outages(self, outages: Iterable[Outage]) -> None:
        await self._write(_upsert("outages", _OutageRow._fields), (_outage_row(o) for o in outages))

    async def delete_outages(self, ids: Iterable[str]) -> None:
        await self._write("DELETE FROM outages WHERE id = ?", ((i,) for i in ids))

    async def read_outages(
        self,
        since: Millis | None = None,
        until: Millis | None = None,
        component: str | None = None,
        kind: IntervalKind | None = IntervalKind.DOWN,
    ) -> list[Outage]:
        where, args = [], []
        if since is not None:
            where.append('COALESCE(o."end", ?) > ?')
            args += [_FAR, since]
        if until is not None:
            where.append("o.start < ?")
            args.append(until)
        if component is not None:
            where.append("o.component = ?")
            args.append(component)
        if kind is not None:
            where.append("o.kind = ?")
            args.append(str(kind))
        sql = _OUTAGE_SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY o.start, o.component, o.id"
        return [_outage_from_row(r) for r in await self._fetch(sql, args)]

    async def get_outage(self, outage_id: str) -> Outage | None:
        found = await self._fetch(_OUTAGE_SELECT + " WHERE o.id = ?", [outage_id])
        return _outage_from_row(found[0]) if found else None

    async def open_outages(self) -> list[Outage]:
        sql = _OUTAGE_SELECT + ' WHERE o."end" IS NULL ORDER BY o.start, o.component, o.id'
        return [_outage_from_row(r) for r in await self._fetch(sql)]

    async def set_exclusion(self, outage_id: str, exclusion: Exclusion | None) -> None:
        if exclusion is None:
            await self._write("DELETE FROM exclusions WHERE outage_id = ?", [(outage_id,)])
        else:
            await self._write(
                _upsert("exclusions", _ExclusionRow._fields), [_exclusion_row(outage_id, exclusion)]
            )

    # -- windows -----------------------------------------------------------------------------
    async def upsert_window(self, window: MaintenanceWindow) -> None:
        await self._write(_upsert("windows", _WindowRow._fields), [_window_row(window)])

    async def delete_window(self, window_id: str) -> bool:
        def tx() -> bool:
            with _transaction(self._conn):
                return (
                    self._conn.execute("DELETE FROM windows WHERE id = ?", (window_id,)).rowcount
                    > 0
                )

        return await self._run(tx)

    async def windows(self) -> list[MaintenanceWindow]:
        found = await self._fetch(_select("windows", _WindowRow._fields) + " ORDER BY start, id")
        kept = []
        for r in map(_WindowRow._make, found):
            # a window stored before instants were bounded: no read may fail on it
            if in_range(r.start) and in_range(r.end):
                kept.append(_window_from_row(r))
            else:
                log.warning(
                    "window %s skipped: start %r, end %r not in 2000..2099", r.id, r.start, r.end
                )
        return kept

    # -- incidents ---------------------------------------------------------------------------
    async def upsert_incident(self, incident: Incident) -> None:
        await self._write(_upsert("incidents", _IncidentRow._fields), [_incident_row(incident)])

    async def get_incident(self, incident_id: str) -> Incident | None:
        rows = await self._fetch(
            _select("incidents", _IncidentRow._fields) + " WHERE id = ?", (incident_id,)
        )
        return _incident_from_row(rows[0]) if rows else None

    async def incidents(
        self, since: Millis | None = None, until: Millis | None = None, open_only: bool = False
    ) -> list[Incident]:
        where, args = [], []
        if since is not None:
            where.append("detected_at >= ?")
            args.append(since)
        if until is not None:
            where.append("detected_at < ?")
            args.append(until)
        if open_only:
            where.append("restored_at IS NULL AND voided IS NULL")
        sql = _select("incidents", _IncidentRow._fields)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY detected_at, id"
        return [_incident_from_row(r) for r in await self._fetch(sql, args)]

    async def append_timeline(self, entry: TimelineEntry) -> None:
        e = entry
        await self._write(
            "INSERT INTO timeline (incident_id, ts, event, actor, detail) VALUES (?,?,?,?,?)",
            [(e.incident_id, e.ts, e.event, e.actor, json.dumps(e.detail, ensure_ascii=False))],
        )

    async def timeline(self, incident_id: str) -> list[TimelineEntry]:
        rows = await self._fetch(
            "SELECT incident_id, ts, event, actor, detail FROM timeline WHERE incident_id = ? "
            "ORDER BY seq",
            (incident_id,),
        )
        return [TimelineEntry(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    # -- audit -------------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> None:
        e = entry
        await self._write(
            "INSERT INTO audit (ts, actor, action, target, detail) VALUES (?,?,?,?,?)",
            [(e.ts, e.actor, e.action, e.target, json.dumps(e.detail, ensure_ascii=False))],
        )

    async def audit(
        self, since: Millis | None = None, until: Millis | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        where, args = [], []
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if until is not None:
            where.append("ts < ?")
            args.append(until)
        if target is not None:
            where.append("target = ?")
            args.append(target)
        sql = "SELECT ts, actor, action, target, detail FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        return [
            AuditEntry(r[0], r[1], r[2], r[3], json.loads(r[4]))
            for r in await self._fetch(sql, args)
        ]

    # -- agents ------------------------------------------------------------------------------
    async def record_heartbeat(self, heartbeat: Heartbeat) -> None:
        h = heartbeat
        await self._write(
            "INSERT OR REPLACE INTO heartbeats VALUES (?,?,?,?,?,?,?)",
            [
                (
                    h.agent,
                    h.received_at,
                    h.sent_at,
                    h.interval,
                    json.dumps(h.spool),
                    json.dumps(h.health),
                    json.dumps(h.host),
                )
            ],
        )

    async def heartbeats(self) -> list[Heartbeat]:
        rows = await self._fetch("SELECT * FROM heartbeats ORDER BY agent")
        return [
            Heartbeat(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), json.loads(r[6]))
            for r in rows
        ]

    # -- retention ---------------------------------------------------------------------------
    async def apply_retention(
        self, raw_before: Millis, keep_before: Millis, now: Millis
    ) -> RetentionResult:
        def tx() -> RetentionResult:
            db = self._conn
            with _transaction(db):
                rolled = db.execute(
                    "SELECT COALESCE(SUM(count), 0) FROM samples WHERE ts < ?", (raw_before,)
                ).fetchone()[0]
                db.execute(
                    """
                    INSERT INTO rollups
                    SELECT component, ts - ts % 60000 AS minute,
                           SUM(CASE WHEN ok THEN count ELSE 0 END),
                           SUM(CASE WHEN ok THEN 0 ELSE count END),
                           MIN(latency_ms), MAX(latency_ms),
                           COALESCE(SUM(latency_ms * count), 0),
                           SUM(CASE WHEN latency_ms IS NULL THEN 0 ELSE count END)
                    FROM samples WHERE ts < ? GROUP BY component, minute
                    ON CONFLICT (component, minute) DO UPDATE SET
                        ok = ok + excluded.ok, failed = failed + excluded.failed,
                        latency_min = MIN(COALESCE(latency_min, excluded.latency_min),
                                          COALESCE(excluded.latency_min, latency_min)),
                        latency_max = MAX(COALESCE(latency_max, excluded.latency_max),
                                          COALESCE(excluded.latency_max, latency_max)),
                        latency_sum = latency_sum + excluded.latency_sum,
                        latency_count = latency_count + excluded.latency_count
                    """,
                    (raw_before,),
                )
                deleted = db.execute("DELETE FROM samples WHERE ts < ?", (raw_before,)).rowcount
                db.execute("DELETE FROM batches WHERE received_at < ?", (raw_before,))
                rollups = db.execute(
                    "DELETE FROM rollups WHERE minute < ?", (keep_before,)
                ).rowcount
                records = 0
                old_outages = [
                    r[0]
                    for r in db.execute(
                        'SELECT id FROM outages WHERE "end" IS NOT NULL AND "end" < ?',
                        (keep_before,),
                    )
                ]
                for oid in old_outages:
                    db.execute("DELETE FROM exclusions WHERE outage_id = ?", (oid,))
                    records += db.execute("DELETE FROM outages WHERE id = ?", (oid,)).rowcount
                old_incidents = [
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM incidents WHERE restored_at IS NOT NULL"
                        " AND restored_at < ?",
                        (keep_before,),
                    )
                ]
                for iid in old_incidents:
                    db.execute("DELETE FROM timeline WHERE incident_id = ?", (iid,))
                    records += db.execute("DELETE FROM incidents WHERE id = ?", (iid,)).rowcount
                records += db.execute(
                    'DELETE FROM windows WHERE rrule IS NULL AND "end" < ?', (keep_before,)
                ).rowcount
                records += db.execute("DELETE FROM audit WHERE ts < ?", (keep_before,)).rowcount
            return RetentionResult(rolled, deleted, rollups, records)

        return await self._run(tx)

    async def rollups(
        self, since: Millis, until: Millis, component: str | None = None
    ) -> list[Rollup]:
        sql = "SELECT * FROM rollups WHERE minute >= ? AND minute < ?"
        args: list[Any] = [since, until]
        if component is not None:
            sql += " AND component = ?"
            args.append(component)
        sql += " ORDER BY minute, component"
        return [Rollup(*r) for r in await self._fetch(sql, args)]

    # -- the inspection report (separate reads; see `Store.check_days`, `value_samples`) -----
    async def check_days(self, since: Millis, until: Millis) -> list[CheckDay]:
        day = f"((ts + {LOCAL_OFFSET_MS}) / {DAY_MS}) * {DAY_MS} - {LOCAL_OFFSET_MS}"
        rows = await self._fetch(
            f"SELECT component, MIN(system), probe, MIN(agent), {day} AS day, "
            "SUM(CASE WHEN ok THEN count ELSE 0 END), SUM(CASE WHEN ok THEN 0 ELSE count END), "
            "MIN(ts), MAX(COALESCE(until, ts)) FROM samples WHERE ts >= ? AND ts < ? "
            "GROUP BY day, component, probe ORDER BY day, component, probe",
            (since, until),
        )
        return [CheckDay(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows]

    async def value_samples(
        self, since: Millis, until: Millis, keys: Sequence[str]
    ) -> list[Sample]:
        if not keys:
            return []
        paths = " OR ".join("json_type(value, ?) IS NOT NULL" for _ in keys)
        rows = await self._fetch(
            "SELECT * FROM samples WHERE ts >= ? AND ts < ? AND value IS NOT NULL "
            f"AND json_valid(value) AND ({paths}) ORDER BY ts, component, probe, rowid",
            [since, until, *(f'$."{k}"' for k in keys)],
        )
        found = [_sample(r) for r in rows]
        return [s for s in found if has_any_key(s.value, keys)]


def _digest(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode("utf-8", "backslashreplace")).hexdigest()[:32]


def _check_digest(db: sqlite3.Connection, agent: str, batch_id: str, digest: str) -> None:
    """A batch id seen before: fine when its rows were the same (or stored before digests)."""
    row = db.execute(
        "SELECT digest FROM batches WHERE agent = ? AND batch_id = ?", (agent, batch_id)
    ).fetchone()
    if row is not None and row[0] is not None and row[0] != digest:
        raise BatchConflict(
            f"batch id {batch_id!r} was already stored with other results; "
            "these are not stored (send new results under a new batch id)"
        )


class _transaction:
    """BEGIN IMMEDIATE … COMMIT, ROLLBACK on error (autocommit connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _sample(r: tuple[Any, ...]) -> Sample:
    return Sample(
        agent=r[0],
        component=r[1],
        system=r[2],
        probe=r[3],
        ts=r[4],
        ok=bool(r[5]),
        reason=r[6],
        detail=r[7],
        latency_ms=r[8],
        value=None if r[9] is None else json.loads(r[9]),
        interval=r[10],
        count=r[11],
        until=r[12],
    )


def _outage_row(o: Outage) -> _OutageRow:
    return _OutageRow(
        id=o.id,
        component=o.component,
        kind=str(o.kind),
        start=o.start,
        end=o.end,
        detected_at=o.detected_at,
        probes=json.dumps(list(o.probes)),
        reason=o.reason,
        detail=o.detail,
    )


def _exclusion_row(outage_id: str, e: Exclusion) -> _ExclusionRow:
    return _ExclusionRow(
        outage_id=outage_id, reason=e.reason, approved_by=e.approved_by, by=e.by, at=e.at
    )


def _outage_from_row(row: Sequence[Any]) -> Outage:
    """A row of `_OUTAGE_SELECT`: the outage's columns, then its exclusion's."""
    o = _OutageRow._make(row[:_OUTAGE_WIDTH])
    e = _ExclusionRow._make(row[_OUTAGE_WIDTH:])
    return Outage(
        id=o.id,
        component=o.component,
        kind=IntervalKind(o.kind),
        start=o.start,
        end=o.end,
        detected_at=o.detected_at,
        probes=tuple(json.loads(o.probes)),
        reason=o.reason,
        detail=o.detail,
        excluded=None if e.outage_id is None else Exclusion(e.reason, e.approved_by, e.by, e.at),
    )


def _window_row(w: MaintenanceWindow) -> _WindowRow:
    return _WindowRow(
        id=w.id,
        components=json.dumps(list(w.components)),
        start=w.start,
        end=w.end,
        reason=w.reason,
        approval_ref=w.approval_ref,
        created_at=w.created_at,
        created_by=w.created_by,
        rrule=w.rrule,
        tz=w.tz,
    )


def _window_from_row(r: _WindowRow) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=r.id,
        components=tuple(json.loads(r.components)),
        start=r.start,
        end=r.end,
        reason=r.reason,
        approval_ref=r.approval_ref,
        created_at=r.created_at,
        created_by=r.created_by,
        rrule=r.rrule,
        tz=r.tz,
    )


def _incident_row(i: Incident) -> _IncidentRow:
    return _IncidentRow(
        id=i.id,
        components=json.dumps(list(i.components)),
        severity=i.severity,
        detected_at=i.detected_at,
        title=i.title,
        opened_by=i.opened_by,
        first_failed_at=i.first_failed_at,
        outage_ids=json.dumps(list(i.outage_ids)),
        responded_at=i.responded_at,
        responded_by=i.responded_by,
        restored_at=i.restored_at,
        restored_by=i.restored_by,
        report_submitted_at=i.report_submitted_at,
        report_ref=i.report_ref,
        voided=i.voided,
    )


def _incident_from_row(row: Sequence[Any]) -> Incident:
    """A row of `_select("incidents", _IncidentRow._fields)`."""
    r = _IncidentRow._make(row)
    return Incident(
        id=r.id,
        components=tuple(json.loads(r.components)),
        severity=r.severity,
        detected_at=r.detected_at,
        title=r.title,
        opened_by=r.opened_by,
        first_failed_at=r.first_failed_at,
        outage_ids=tuple(json.loads(r.outage_ids)),
        responded_at=r.responded_at,
        responded_by=r.responded_by,
        restored_at=r.restored_at,
        restored_by=r.restored_by,
        report_submitted_at=r.report_submitted_at,
        report_ref=r.report_ref,
        voided=r.voided,
    )
