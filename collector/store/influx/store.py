"""The InfluxDB store: `Store` over the v1-compatible API, behind a durable local buffer.

Writes (samples, outages, windows, incidents, timeline, audit, heartbeats) become line
protocol and go into `collector.store.influx.buffer.DurableBuffer` — one SQLite file in the
collector's `state_dir` — in one durable commit, so the collector answers 202 while InfluxDB is slow
or down; a background task drains the buffer to `/write` in order, in gzip batches of about
5,000 lines. The same commit keeps the store's small local tables: batch ids already seen
(exactly-once storage of a re-sent batch), registered components, and the version clock.

Reads flush the buffer first (everything written before the read is in InfluxDB), then ask
InfluxQL, so they are exact even with a backlog; while InfluxDB is down they fail after
`read_timeout` seconds with a `StoreError` naming the backlog. The database (client,
retention policies, their creation, selects, deletes) is `database.InfluxDatabase`, which this
store and `retention.Retention` share; the schema is in `schema`, the HTTP client in `client`.

On InfluxDB 1.x `open()` creates the database and both retention policies (and fixes their
durations); with a token (2.x/3.x) or `create=false` it creates nothing: the README gives
the one-time preparation.

InfluxDB is the record, not the buffer file: what the file says was written is checked
against InfluxDB on `open()`, after every failed request (InfluxDB unreachable or answering
errors: it may come back wiped, restored from a backup or as another server at the same
address) and at least every `verify_every` seconds (a server swapped between two requests).
The check (`_verify`) creates the database and policies again (1.x), writes again every
registered component InfluxDB lacks, and looks for this buffer file's marker point
(measurement `store_marker`, field `instance`): when it is gone, the database was replaced,
which is logged as a WARNING saying what was written again and what is lost (only components
are held locally; samples, outages, incidents, windows and the audit trail stored before are
gone unless the backup had them), and the rollup progress kept for InfluxDB without DELETE is
forgotten. Batch ids seen are kept: they record what the agents were told (202), an agent
never re-sends an acknowledged batch, and forgetting them would store twice a retried batch
still waiting in the buffer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

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
from collector.statedir import default_state_dir
from collector.store.base import StoreError, has_any_key, local_day
from collector.store.influx import lineproto as lp
from collector.store.influx import schema
from collector.store.influx.buffer import BufferStats, BufferTimeout, DurableBuffer, Record
from collector.store.influx.client import (
    InfluxClient,
    InfluxError,
    InfluxTarget,
    parse_url,
    quote_string,
)
from collector.store.influx.database import InfluxDatabase
from collector.store.influx.retention import Retention

log = logging.getLogger("collector.store.influx")

MS = schema.MS
_MIN_TIME, _MAX_TIME = schema.MIN_TIME, schema.MAX_TIME
_ns = schema.ns
_RETENTION_DROP = re.compile(r"^partial write: points beyond retention policy dropped=(\d+)$")

_LOCAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS influx_batches (
    agent TEXT NOT NULL, batch_id TEXT NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (agent, batch_id)
);
CREATE TABLE IF NOT EXISTS influx_components (
    id TEXT PRIMARY KEY, system TEXT NOT NULL, agent TEXT NOT NULL, first_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS influx_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)
"""


def default_buffer_path(target: InfluxTarget, state_dir: str | Path) -> Path:
    """`STATE_DIR/influx-buffer-HOST-PORT-DB-HASH.sqlite`: one buffer per InfluxDB database."""
    digest = hashlib.sha256(f"{target.base_url}/{target.database}".encode()).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", target.base_url.split("://", 1)[1])
    return Path(state_dir) / f"influx-buffer-{safe}-{target.database}-{digest}.sqlite"


class InfluxStore:
    """`Store` on InfluxDB (see the module docstring)."""

    def __init__(
        self,
        target: InfluxTarget,
        buffer_path: str | Path,
        *,
        rp_raw: str = "hotline_raw",
        rp_keep: str = "hotline_keep",
        rp_raw_days: int | None = 32,
        rp_keep_days: int | None = 430,
        create: bool | None = None,
        read_timeout: float = 5.0,
        close_timeout: float = 2.0,
        verify_every: float = 60.0,
        backoff_max: float = 5.0,
        batch_lines: int = 5000,
        gzip_level: int = 1,
    ) -> None:
        """`rp_raw_days`/`rp_keep_days`: durations of the two retention policies created on 1.x
        (None: infinite). They must exceed the collector's own retention (raw samples 30 days,
        records ≥ 400 days) so `apply_retention` rolls samples up before InfluxDB drops them;
        `apply_retention` lengthens them itself when the collector keeps data longer.
        `create`: make the database and policies (default: yes unless a token is set).
        `read_timeout`: how long a read waits for the buffer to reach InfluxDB.
        `verify_every`: seconds between checks that InfluxDB is still the database this
        buffer wrote to (its marker point is there); see the module docstring."""
        if rp_keep_days is not None and rp_keep_days < 400:
            raise StoreError(f"rp_keep_days={rp_keep_days}: records are kept at least 400 days")
        if rp_raw_days is not None and rp_raw_days < 1:
            raise StoreError(f"rp_raw_days={rp_raw_days}: at least 1")
        self.target = target
        self.db = InfluxDatabase(
            target,
            InfluxClient(target, gzip_level=gzip_level),
            rp_raw=rp_raw,
            rp_keep=rp_keep,
            rp_raw_days=rp_raw_days,
            rp_keep_days=rp_keep_days,
            manage=(target.token is None) if create is None else create,
        )
        self.read_timeout = read_timeout
        self.close_timeout = close_timeout  # how long close() tries to deliver the backlog
        self._buffer = DurableBuffer(
            buffer_path, self._sink, max_batch_lines=batch_lines, backoff_max=backoff_max
        )
        self.retention = Retention(self.db, self._buffer, self._next_version)
        self.verify_every = verify_every
        self._prepared = False  # created and verified since the last failed request
        self._verified_at = 0.0  # time.monotonic() of the last check
        self._prepare_lock = asyncio.Lock()
        self._local_ready = asyncio.Event()  # the local tables are read (`_open_local`)
        self._instance = ""  # this buffer file's identity, written to InfluxDB as a marker
        self.replaced_count = 0  # replaced/wiped databases detected since open
        self._samples = schema.SampleWriter()
        self._version = 0  # last version-clock value handed out
        self._sample_seq = 0  # samples written so far (sub-ms disambiguator)
        # ids committed to influx_components: skips an INSERT OR IGNORE per component and batch
        # on the ingest path (a batch of 500 components paid 500 of them, ~10% of its CPU)
        self._components_stored: set[str] = set()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        state_dir: str | Path | None = None,
        token: str | None = None,
        token_file: str | None = None,
        **options: Any,
    ) -> InfluxStore:
        """A store for `influxdb://[USER:PASS@]HOST:PORT/DATABASE[?options]`. URL options:
        `buffer=PATH` (else a file in `state_dir`, by default `collector.statedir`'s: never
        the working directory), `rp_raw`, `rp_keep`, `rp_raw_days`, `rp_keep_days` (0 = infinite),
        `create=true|false`, `token_file`, `password_file`, `verify`, `timeout`."""
        target = parse_url(url, token=token, token_file=token_file)
        opts = target.options
        buffer = opts.get("buffer")
        if buffer is None:
            base = state_dir if state_dir is not None else default_state_dir()
            buffer = str(default_buffer_path(target, base))
        kwargs: dict[str, Any] = {}
        for name in ("rp_raw", "rp_keep"):
            if name in opts:
                kwargs[name] = opts[name]
        for name in ("rp_raw_days", "rp_keep_days"):
            if name in opts:
                try:
                    days = int(opts[name])
                except ValueError:
                    raise StoreError(f"store URL option {name}={opts[name]!r}: days") from None
                kwargs[name] = days or None
        if "create" in opts:
            kwargs["create"] = opts["create"].lower() not in {"0", "false", "no"}
        kwargs.update(options)
        return cls(target, buffer, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        self._prepared = False
        await self._buffer.open()
        await self._buffer.run(self._open_local)
        self._local_ready.set()
        try:
            await self._prepare()
        except InfluxError as exc:  # the buffer takes writes meanwhile; prepared on first send
            log.warning("InfluxDB %s not ready at start (%s); buffering", self.target.display, exc)

    def _open_local(self) -> None:
        db = self._buffer.connection
        db.executescript(_LOCAL_SCHEMA)
        meta = dict(db.execute("SELECT k, v FROM influx_meta"))
        self._version = max(meta.get("version", 0), time.time_ns())
        self._sample_seq = meta.get("sample_seq", 0)
        self._components_stored = {c for (c,) in db.execute("SELECT id FROM influx_components")}
        if "instance" not in meta:
            meta["instance"] = secrets.randbits(62)
            db.execute("INSERT INTO influx_meta VALUES ('instance', ?)", (meta["instance"],))
        self._instance = f"{meta['instance']:016x}"

    async def close(self) -> None:
        await self._buffer.close(flush_timeout=self.close_timeout)
        await self.db.client.aclose()

    async def ping(self) -> bool:
        return await self.db.client.ping()

    async def health(self) -> str:
        error = await self.db.client.ping_error()
        if error:
            return f"InfluxDB {self.target.display} not reachable: {error}"
        s = self._buffer.stats()
        if s.sink_failing:
            return f"writes to InfluxDB {self.target.display} failing: {s.last_error}"
        return ""

    async def queue_depths(self) -> dict[str, int]:
        """`influx_buffer`: lines waiting for InfluxDB; `…_batches`, `…_oldest_seconds`;
        `influx_rejected_lines` (refused for good, kept in the buffer file's `rejected`
        table), `influx_expired_lines` (older than the retention policy), and
        `influx_failing` (1 while deliveries fail), `influx_database_replaced` (times the
        database was found wiped or replaced since open, see `_verify`)."""
        s = self._buffer.stats()
        return {
            "influx_buffer": s.pending_lines,
            "influx_buffer_batches": s.pending_records,
            "influx_buffer_oldest_seconds": int(s.oldest_pending_age_s),
            "influx_rejected_lines": s.rejected_lines,
            "influx_expired_lines": s.expired_lines,
            "influx_failing": int(s.sink_failing),
            "influx_database_replaced": self.replaced_count,
        }

    @property
    def commits(self) -> int:
        """Durable commits of the local buffer so far (concurrent writes share one)."""
        return self._buffer.commits

    def buffer_stats(self) -> BufferStats:
        """The write buffer's backlog and counters (for /healthz and /metrics)."""
        return self._buffer.stats()

    async def _prepare(self) -> None:
        """Make sure InfluxDB is ready and still the database this buffer wrote to: after
        `open()` and every failed request a full `_verify`, else a marker check at most every
        `verify_every` seconds (cheap on the hot path: a flag and a clock read)."""
        if self._prepared and time.monotonic() - self._verified_at < self.verify_every:
            return
        async with self._prepare_lock:
            if self._prepared:
                if time.monotonic() - self._verified_at < self.verify_every:
                    return
                if await self._marker_present():
                    self._verified_at = time.monotonic()
                    return
                self._prepared = False  # replaced between two requests: check everything
            await self._local_ready.wait()
            await self.db.prepare()
            await self._verify()
            self._prepared = True
            self._verified_at = time.monotonic()

    def _unprepared(self, exc: InfluxError) -> None:
        """A request failed in a way a replaced or wiped InfluxDB would cause (unreachable,
        5xx, database or policy not found, auth): check everything again before the next."""
        if exc.retryable or "not found" in str(exc):  # not for refused points (400, 413)
            self._prepared = False

    async def _marker_present(self) -> bool:
        """Whether InfluxDB holds this buffer file's marker point (False also when the
        database or policy is missing); raises when InfluxDB cannot be asked."""
        try:
            found = await self.db.select(
                f"SELECT * {self.db.from_(self.db.rp_keep, schema.MARKER)} "
                f'WHERE "instance" = {quote_string(self._instance)}'
            )
        except InfluxError as exc:
            if "not found" in str(exc):  # database not found, retention policy not found
                return False
            raise
        return bool(found)

    async def _verify(self) -> None:
        """Check what the buffer file says is in InfluxDB against InfluxDB and write again
        what is missing (see the module docstring). Runs under `_prepare_lock`."""
        present = await self._marker_present()
        marked, components = await self._buffer.run(self._local_state)
        found = await self.db.select(f"SELECT * {self.db.from_(self.db.rp_keep, 'component')}")
        have = {r.get("component") for r in found}
        missing = [c for c in components if c.id not in have]
        if missing:  # registrations still waiting in the buffer are on their way, not lost
            queued = await self._buffer.run(self._queued_registrations, missing)
            missing = [c for c in missing if c.id not in queued]
        versions = await self._buffer.run(self._versions, len(missing) + 1)
        if missing:
            lines = [schema.component_line(c, v) for c, v in zip(missing, versions, strict=False)]
            await self.db.write(lp.lines(lines), rp=self.db.rp_keep)
        ids = ", ".join(c.id for c in missing[:20]) + (" …" if len(missing) > 20 else "")
        if not present and marked:
            self.replaced_count += 1
            self.db.deletes_work = True  # another server may run DELETE again
            await self._buffer.run(self._forget_influx_progress)
            log.warning(
                "InfluxDB %s is not the database this collector wrote to (its marker point "
                "is gone: wiped, restored from an older backup, or another server at the same "
                "address): %d registered component(s) written again (%s); samples, outages, "
                "incidents, maintenance windows and audit entries stored before are not held "
                "locally and are gone from InfluxDB unless its backup had them; rollup progress "
                "reset; batch ids seen are kept",
                self.target.display,
                len(missing),
                ids or "none missing",
            )
        elif missing:
            log.warning(
                "InfluxDB %s lacked %d registered component(s) the buffer file says were "
                "written (restored from an older backup?): written again (%s)",
                self.target.display,
                len(missing),
                ids,
            )
        if not present:
            point = schema.marker_line(self._instance, time.time_ns() // MS, versions[-1])
            await self.db.write(lp.lines([point]), rp=self.db.rp_keep)
            await self._buffer.run(self._set_marked)

    def _local_state(self) -> tuple[bool, list[Component]]:
        """(a marker was written before, the registered components) from the buffer file."""
        db = self._buffer.connection
        marked = db.execute("SELECT 1 FROM influx_meta WHERE k = 'marked'").fetchone()
        found = db.execute("SELECT id, system, agent, first_seen FROM influx_components")
        return marked is not None, [Component(i, s, f, a) for i, s, a, f in found]

    def _queued_registrations(self, components: list[Component]) -> set[str]:
        """The ids among `components` whose registration line still waits in the buffer
        (a line is its content plus the version: the content is known)."""
        heads = {c.id: schema.component_line(c, 0)[:-1].encode() for c in components}
        found: set[str] = set()
        for (payload,) in self._buffer.connection.execute(
            "SELECT payload FROM queue WHERE key = ?", (self.db.rp_keep,)
        ):
            found.update(cid for cid, head in heads.items() if head in payload)
        return found

    def _versions(self, n: int) -> list[int]:
        out = [self._next_version() for _ in range(n)]
        self._save_clock(self._buffer.connection)
        return out

    def _set_marked(self) -> None:
        self._buffer.connection.execute("INSERT OR REPLACE INTO influx_meta VALUES ('marked', 1)")

    def _forget_influx_progress(self) -> None:
        """What the buffer file remembers about a database that is gone: how far samples were
        rolled up (kept where InfluxDB refuses DELETE)."""
        self._buffer.connection.execute("DELETE FROM influx_meta WHERE k = 'rolled_until'")

    async def _sink(self, rp: str, body: bytes, lines: int) -> int:
        try:
            await self._prepare()
        except InfluxError as exc:  # never a reason to give up on the data: retry later
            raise InfluxError(str(exc), status=exc.status, retryable=True) from None
        try:
            await self.db.write(body, rp=rp)
        except InfluxError as exc:
            # unreachable, or database dropped under us (404): create and verify again
            self._unprepared(exc)
            m = _RETENTION_DROP.match(exc.server_message) if exc.status == 400 else None
            if m:
                return int(m.group(1))  # older than the policy keeps: InfluxDB's retention
            raise
        return 0

    # -- writing -----------------------------------------------------------------------------
    def _next_version(self) -> int:
        self._version = max(self._version + 1, time.time_ns())
        return self._version

    def _save_clock(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO influx_meta VALUES (?, ?)",
            [("version", self._version), ("sample_seq", self._sample_seq)],
        )

    async def _write(self, rp: str, make: Callable[[Callable[[], int]], list[str]]) -> None:
        """Queue the lines `make(next_version)` returns. The version clock is only ever used
        on the buffer's thread, inside the commit that saves it."""

        def build(db: sqlite3.Connection) -> list[Record]:
            points = make(self._next_version)
            self._save_clock(db)
            return [Record(rp, lp.lines(points), len(points))]

        try:
            await self._buffer.transaction(build)
        except lp.LineProtocolError as exc:
            raise StoreError(f"cannot store in InfluxDB: {exc}") from exc

    async def _write_keep(self, make: Callable[[Callable[[], int]], list[str]]) -> None:
        await self._write(self.db.rp_keep, make)

    async def _write_raw(self, make: Callable[[Callable[[], int]], list[str]]) -> None:
        await self._write(self.db.rp_raw, make)

    async def append_samples(
        self, agent: str, batch_id: str | None, samples: Sequence[Sample]
    ) -> bool:
        first: dict[str, Sample] = {}
        for s in samples:
            if s.component not in first or s.ts < first[s.component].ts:
                first[s.component] = s
        received = max((s.ts for s in samples), default=0)

        def build(db: sqlite3.Connection) -> list[Record] | None:
            if batch_id is not None:
                cur = db.execute(
                    "INSERT OR IGNORE INTO influx_batches VALUES (?, ?, ?)",
                    (agent, batch_id, received),
                )
                if cur.rowcount == 0:
                    return None
            seq = self._sample_seq
            writer = self._samples
            raw = [writer.line(s, seq + i) for i, s in enumerate(samples)]
            keep = []
            stored = self._components_stored
            for c, s in first.items():
                if c in stored:
                    continue  # its row is committed: INSERT OR IGNORE would change nothing
                cur = db.execute(
                    "INSERT OR IGNORE INTO influx_components VALUES (?, ?, ?, ?)",
                    (c, s.system, s.agent, s.ts),
                )
                if cur.rowcount:
                    component = Component(c, s.system, s.ts, s.agent)
                    keep.append(schema.component_line(component, self._next_version()))
            self._sample_seq = seq + len(samples)
            self._save_clock(db)
            records = [Record(self.db.rp_raw, lp.lines(raw), len(raw))]
            if keep:
                records.append(Record(self.db.rp_keep, lp.lines(keep), len(keep)))
            return records

        try:
            added = await self._buffer.transaction(build)
        except lp.LineProtocolError as exc:
            raise StoreError(f"cannot store in InfluxDB: {exc}") from exc
        if added:  # committed: every component of the batch has its row now
            self._components_stored.update(first)
        return added

    async def upsert_outages(self, outages: Iterable[Outage]) -> None:
        items = list(outages)
        if items:
            await self._write_keep(lambda v: [schema.outage_line(o, v()) for o in items])

    async def delete_outages(self, ids: Iterable[str]) -> None:
        items = list(ids)
        if items:
            await self._write_keep(
                lambda v: [schema.tombstone_line("outage", "id", i, v()) for i in items]
            )

    async def set_exclusion(self, outage_id: str, exclusion: Exclusion | None) -> None:
        await self._write_keep(lambda v: [schema.exclusion_line(outage_id, exclusion, v())])

    async def upsert_window(self, window: MaintenanceWindow) -> None:
        await self._write_keep(lambda v: [schema.window_line(window, v())])

    async def delete_window(self, window_id: str) -> bool:
        if window_id not in await self._latest("window", "id"):
            return False
        await self._write_keep(lambda v: [schema.tombstone_line("window", "id", window_id, v())])
        return True

    async def upsert_incident(self, incident: Incident) -> None:
        await self._write_keep(lambda v: [schema.incident_line(incident, v())])

    async def append_timeline(self, entry: TimelineEntry) -> None:
        await self._write_keep(lambda v: [schema.timeline_line(entry, v())])

    async def append_audit(self, entry: AuditEntry) -> None:
        await self._write_keep(lambda v: [schema.audit_line(entry, v())])

    async def record_heartbeat(self, heartbeat: Heartbeat) -> None:
        await self._write_raw(lambda v: [schema.heartbeat_line(heartbeat, v())])

    # -- reading -----------------------------------------------------------------------------
    async def _select(self, statement: str) -> list[dict[str, Any]]:
        """Flush the buffer, then run one InfluxQL SELECT and return its rows."""
        try:
            await self._buffer.flush(self.read_timeout)
        except BufferTimeout as exc:
            raise StoreError(f"InfluxDB {self.target.display} not reachable: {exc}") from None
        await self._prepare()
        try:
            return await self.db.select(statement)
        except InfluxError as exc:
            self._unprepared(exc)
            if self._prepared or "not found" not in str(exc):
                raise
            await self._prepare()  # wiped since the last check: create, verify, ask again
            return await self.db.select(statement)

    async def _latest(self, measurement: str, id_field: str) -> dict[str, dict[str, Any]]:
        found = await self._select(f"SELECT * {self.db.from_(self.db.rp_keep, measurement)}")
        return schema.latest(found, id_field)

    async def read_samples(
        self, since: Millis, until: Millis, component: str | None = None
    ) -> list[Sample]:
        where = f"time >= {_ns(since, _MIN_TIME)} AND time < {_ns(until, _MAX_TIME)}"
        if component is not None:
            where += f" AND component = {quote_string(component)}"
        found = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_raw, 'sample')} WHERE {where}"
        )
        found.sort(key=lambda r: (r["time"] // MS, r["component"], r["probe"], r["time"]))
        return [schema.sample_from_row(r) for r in found]

    async def components(self) -> list[Component]:
        found = await self._select(f"SELECT * {self.db.from_(self.db.rp_keep, 'component')}")
        first = schema.earliest(found, "component")
        return [schema.component_from_row(first[c]) for c in sorted(first)]

    async def _outages(self) -> list[Outage]:
        latest = await self._latest("outage", "id")
        exclusions = await self._latest("exclusion", "outage_id")
        return [
            schema.outage_from_row(
                row,
                schema.exclusion_from_row(exclusions[oid]) if oid in exclusions else None,
            )
            for oid, row in latest.items()
        ]

    async def read_outages(
        self,
        since: Millis | None = None,
        until: Millis | None = None,
        component: str | None = None,
        kind: IntervalKind | None = IntervalKind.DOWN,
    ) -> list[Outage]:
        found = [
            o
            for o in await self._outages()
            if (since is None or o.end is None or o.end > since)
            and (until is None or o.start < until)
            and (component is None or o.component == component)
            and (kind is None or o.kind == kind)
        ]
        return sorted(found, key=lambda o: (o.start, o.component, o.id))

    async def get_outage(self, outage_id: str) -> Outage | None:
        where = f"WHERE {{}} = {quote_string(outage_id)}"
        found = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_keep, 'outage')} " + where.format('"id"')
        )
        row = schema.latest(found).get(outage_id)
        if row is None:
            return None
        exclusions = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_keep, 'exclusion')} " + where.format('"outage_id"')
        )
        exclusion = schema.latest(exclusions, "outage_id").get(outage_id)
        return schema.outage_from_row(
            row, None if exclusion is None else schema.exclusion_from_row(exclusion)
        )

    async def open_outages(self) -> list[Outage]:
        found = [o for o in await self._outages() if o.end is None]
        return sorted(found, key=lambda o: (o.start, o.component, o.id))

    async def windows(self) -> list[MaintenanceWindow]:
        found = [schema.window_from_row(r) for r in (await self._latest("window", "id")).values()]
        return sorted(found, key=lambda w: (w.start, w.id))

    async def get_incident(self, incident_id: str) -> Incident | None:
        found = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_keep, 'incident')} "
            f'WHERE "id" = {quote_string(incident_id)}'
        )
        row = schema.latest(found).get(incident_id)
        return None if row is None else schema.incident_from_row(row)

    async def incidents(
        self, since: Millis | None = None, until: Millis | None = None, open_only: bool = False
    ) -> list[Incident]:
        found = [
            i
            for i in map(schema.incident_from_row, (await self._latest("incident", "id")).values())
            if (since is None or i.detected_at >= since)
            and (until is None or i.detected_at < until)
            and (not open_only or i.is_open)
        ]
        return sorted(found, key=lambda i: (i.detected_at, i.id))

    async def timeline(self, incident_id: str) -> list[TimelineEntry]:
        found = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_keep, 'timeline')} "
            f'WHERE "incident_id" = {quote_string(incident_id)}'
        )
        found.sort(key=lambda r: r["time"])
        return [schema.timeline_from_row(r) for r in found if not r.get("deleted")]

    async def audit(
        self, since: Millis | None = None, until: Millis | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        where = []
        if since is not None:
            where.append(f'"ts" >= {int(since)}')
        if until is not None:
            where.append(f'"ts" < {int(until)}')
        if target is not None:
            where.append(f'"target" = {quote_string(target)}')
        statement = f"SELECT * {self.db.from_(self.db.rp_keep, 'audit')}"
        if where:
            statement += " WHERE " + " AND ".join(where)
        found = await self._select(statement)
        found.sort(key=lambda r: r["time"])
        return [schema.audit_from_row(r) for r in found]

    async def heartbeats(self) -> list[Heartbeat]:
        found = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_raw, 'heartbeat')} GROUP BY agent "
            "ORDER BY time DESC LIMIT 1"
        )
        return sorted((schema.heartbeat_from_row(r) for r in found), key=lambda h: h.agent)

    async def rollups(
        self, since: Millis, until: Millis, component: str | None = None
    ) -> list[Rollup]:
        where = f"time >= {_ns(since, _MIN_TIME)} AND time < {_ns(until, _MAX_TIME)}"
        if component is not None:
            where += f" AND component = {quote_string(component)}"
        found = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_keep, 'rollup')} WHERE {where}"
        )
        return _sum_parts(map(schema.rollup_from_row, found))

    # -- retention ---------------------------------------------------------------------------
    async def apply_retention(
        self, raw_before: Millis, keep_before: Millis, now: Millis
    ) -> RetentionResult:
        """As the interface says, with the drain held still so nothing lands in between:
        roll old samples up (parts written and delivered before the samples are deleted),
        then delete the expired records' every version by its exact time."""
        try:
            async with self._buffer.exclusive(self.read_timeout):
                return await self.retention.apply(raw_before, keep_before, now)
        except BufferTimeout as exc:
            raise StoreError(f"InfluxDB {self.target.display} not reachable: {exc}") from None

    # -- the inspection report (separate reads; see `Store.check_days`, `value_samples`) -----
    async def check_days(self, since: Millis, until: Millis) -> list[CheckDay]:
        where = f"time >= {_ns(since, _MIN_TIME)} AND time < {_ns(until, _MAX_TIME)}"
        found = await self._select(
            'SELECT "ok", "count", "until", "agent", "component", "system", "probe" '
            f"{self.db.from_(self.db.rp_raw, 'sample')} WHERE {where}"
        )
        days: dict[tuple[Millis, str, str], list[Any]] = {}
        for r in found:
            ts = r["time"] // schema.MS
            n = int(r.get("count") or 1)
            last = r.get("until") or ts
            key = (local_day(ts), r.get("component") or "", r.get("probe") or "")
            entry = days.get(key)
            if entry is None:
                entry = days[key] = [r.get("system") or "", r.get("agent") or "", 0, 0, ts, last]
            entry[0] = min(entry[0], r.get("system") or "")
            entry[1] = min(entry[1], r.get("agent") or "")
            entry[2 if r["ok"] else 3] += n
            entry[4], entry[5] = min(entry[4], ts), max(entry[5], last)
        return [
            CheckDay(comp, e[0], probe, e[1], day, e[2], e[3], e[4], e[5])
            for (day, comp, probe), e in sorted(days.items())
        ]

    async def value_samples(
        self, since: Millis, until: Millis, keys: Sequence[str]
    ) -> list[Sample]:
        if not keys:
            return []
        if not all(re.fullmatch(r"[A-Za-z0-9_]+", k) for k in keys):
            raise ValueError(f"value_samples: keys must be plain names: {list(keys)!r}")
        where = f"time >= {_ns(since, _MIN_TIME)} AND time < {_ns(until, _MAX_TIME)}"
        pattern = "|".join(keys)
        found = await self._select(
            f"SELECT * {self.db.from_(self.db.rp_raw, 'sample')} WHERE {where} "
            f'AND "value" =~ /"({pattern})"/'
        )
        found.sort(key=lambda r: (r["time"] // schema.MS, r["component"], r["probe"], r["time"]))
        samples = [schema.sample_from_row(r) for r in found]
        return [s for s in samples if has_any_key(s.value, keys)]


def _sum_parts(parts: Iterable[Rollup]) -> list[Rollup]:
    merged: dict[tuple[int, str], Rollup] = {}
    for r in parts:
        k = (r.minute, r.component)
        merged[k] = schema.merge_rollups(merged[k], r) if k in merged else r
    return [merged[k] for k in sorted(merged)]
