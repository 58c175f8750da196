"""The durable spool: every result is on disk before it is sent, and leaves only on a 202.

Format: one SQLite database in WAL mode. SQLite rather than a hand-written segment log
because coalescing rewrites the newest row of a run in place, the cap deletes rows from the
middle, and a batch must be marked atomically with its id; SQLite gives all of that in
transactions that survive `kill -9` and power loss, in the standard library.

What is fsynced when (`spool.fsync`):
- `full` (default, `PRAGMA synchronous=FULL`): every commit fsyncs the WAL before `put`
  returns. Commits are grouped: a put waits `group_window` (50 ms) for others, and all results
  that arrived meanwhile (or while the previous commit was being written) share one
  transaction, so 1,000 results/s cost about 20 fsyncs/s rather than 1,000 (disk wear on
  the hosts matters over months). Survives kill -9 and power loss.
- `normal` (`synchronous=NORMAL`): commits are written to the WAL without fsync; the WAL is
  fsynced at each checkpoint (every ~1000 pages). Survives kill -9 (the data is in the OS
  page cache), may lose the last commits on power loss.
A batch is marked (rows tagged with the batch id, the id recorded) in one transaction before it
is sent, so a retry after a crash sends the same id with the same results; rows are deleted in
the transaction that records the collector's 202.

All SQLite work runs on the durable worker (`durable.Worker`: one connection on one thread, in
order), so the event loop never waits on disk. Each put is a worker transaction in its own
savepoint, lingering `group_window` for others; a put that fails (a bug in one result) fails
alone, the others of its group commit. The cap is enforced in the group's transaction, before
its commit (the worker's `before_commit`).

When the disk refuses (full, I/O error, any SQLite error on write): results are held in memory,
coalesced like on disk, and written first once a write succeeds again (retried every
`retry_every` seconds); past `hold_max` rows the oldest non-changes go first, and whatever is
lost that way is counted in `dropped` (and `unwritten`). The spool logs the refusal once when
it starts and once when it ends, and `stats()` carries the error for the heartbeat. Batch
marking, acknowledgement and release raise SpoolWriteError for the shipper to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.coalesce import RowInfo, can_extend, extend, plan_drops, state_of
from agent.salvage import RESULT_COLUMNS, SpoolCorrupt, check, is_corrupt, move_aside, salvage
from durable import Worker

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: replay order is id order
    key TEXT NOT NULL,                      -- component \\x1f probe
    state TEXT NOT NULL,
    change INTEGER NOT NULL,                -- 1 when the state differs from the row before
    count INTEGER NOT NULL,
    size INTEGER NOT NULL,
    batch TEXT,                             -- set once the row is in a batch being sent
    body TEXT NOT NULL                      -- the result as sent, JSON
);
CREATE INDEX IF NOT EXISTS results_batch ON results(batch) WHERE batch IS NOT NULL;
CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Once over the cap, drop down to this share of it, so the cap is not enforced per insert.
_CAP_LOW_WATER = 0.9


class SpoolError(Exception):
    """The spool cannot be opened (unwritable directory, not a spool database, …)."""


class SpoolWriteError(Exception):
    """A batch could not be marked, acknowledged or released: the disk refused (full, I/O
    error). Nothing changed; retry later. The spool has logged it (once per episode)."""


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite rolls back by itself on some errors
    (SQLITE_FULL, SQLITE_IOERR…), and ROLLBACK then raises "no transaction is active",
    which would hide the real error."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


_DISK_ERRORS = (sqlite3.Error, OSError)


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    results_json: list[str]  # each result's JSON text, in spool order

    def __len__(self) -> int:
        return len(self.results_json)

    def body(self, agent: str) -> bytes:
        """The request body of the results contract (built without re-parsing the rows)."""
        head = json.dumps({"agent": agent, "batch": self.id})[:-1]
        return f'{head}, "results": [{",".join(self.results_json)}]}}'.encode()


@dataclass(slots=True)
class _Last:
    """The newest spooled row of one check (or, once shipped, just its state)."""

    row_id: int | None  # None once sent or dropped
    state: str
    frozen: bool
    body: dict[str, Any] | None
    size: int = 0


@dataclass(slots=True)
class _Held:
    """A result (or coalesced run) the disk refused, waiting in memory for the next write."""

    key: str
    body: dict[str, Any]
    change: bool


@dataclass(frozen=True, slots=True)
class SpoolStats:
    pending: int  # rows in the spool, batched or not
    bytes: int
    dropped: int  # results dropped by the cap or unwritable, ever (persisted)
    dropped_changes: int  # of those rows, how many were state changes
    held: int = 0  # rows held in memory while the disk refuses writes
    unwritten: int = 0  # of `dropped`, results lost because the disk refused them (this run)
    error: str | None = None  # why the disk refuses writes right now


class Spool:
    """Durable, ordered, coalescing store of results waiting for the collector."""

    def __init__(
        self,
        path: str,
        max_bytes: int,
        fsync: str = "full",
        group_window: float = 0.05,
        hold_max: int = 10_000,
        retry_every: float = 0.5,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.group_window = group_window  # seconds a put waits for others to share its commit
        self.hold_max = hold_max  # rows held in memory at most while the disk refuses
        self.retry_every = retry_every  # seconds between write attempts while it refuses
        self._held: list[_Held] = []
        self._held_last: dict[str, int] = {}  # key -> index of its newest held row
        self._unwritten = 0
        self._error: str | None = None
        self.replaced: dict[str, Any] | None = None  # set when a corrupt spool was moved aside
        self._retry_at = 0.0
        self._counters_dirty = False
        self._closed = False
        self._worker: Worker | None = None
        self._lockfile: Any = None
        # results whose write failed or was not tried (the disk refuses), by put number, until
        # `_flush_unheld` holds them (never touched as `_held` is inside a group transaction)
        self._unheld: list[tuple[int, list[dict[str, Any]]]] = []
        self._puts = 0
        self._wrote_held = 0
        self._group_wrote = False  # a put of the group being committed wrote to disk
        self._retry_pending = False
        self._retry_task: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last: dict[str, _Last] = {}
        self._batch: Batch | None = None
        self._rows = 0
        self._bytes = 0
        self._dropped = 0
        self._dropped_changes = 0
        self.unbatched = 0
        self.unbatched_since = 0.0  # monotonic time the oldest unbatched row became pending
        self._data = asyncio.Event()

    # ---- public, called on the event loop -------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the spool; SpoolError naming the file if that is impossible."""
        self._loop = asyncio.get_running_loop()
        worker = Worker(
            self._open,
            name="spool",
            linger=self.group_window,
            before_commit=self._before_commit,
            after_commit=self._after_commit,
        )
        try:
            await worker.open()
            self._worker = worker
            await worker.run(lambda _conn: self._load())
        except (OSError, sqlite3.Error, SpoolCorrupt) as exc:
            self._worker = None
            await worker.close()
            if self._lockfile is not None:
                self._lockfile.close()
                self._lockfile = None
            raise SpoolError(f"cannot open the spool {self.path}: {exc}") from exc

    @property
    def _db(self) -> sqlite3.Connection | None:
        """The spool's connection (on the worker's thread only), None when closed."""
        worker = self._worker
        return None if worker is None or not worker.is_open else worker.connection

    async def close(self) -> None:
        worker = self._worker
        if worker is not None:
            self._retry_at = 0.0  # one last attempt for what is held
            await self.put([])  # after the puts still lingering, in their group
            await worker.run(lambda _conn: self._flush_unheld())
            if self._held:
                held = self._held
                results = sum(int(h.body.get("count", 1)) for h in held)
                self._count_lost(results, sum(1 for h in held if h.change))
                self._held, self._held_last = [], {}
                log.error(
                    "spool %s still refuses writes (%s): %d results held in memory are lost",
                    self.path,
                    self._error,
                    results,
                )
            self._closed = True
            self._worker = None
            await worker.close()  # puts still lingering commit first
            if self._lockfile is not None:
                self._lockfile.close()  # releases the flock
                self._lockfile = None
        self._closed = True

    @property
    def has_batch(self) -> bool:
        """A batch is marked and waiting for its 202 (send it again, same id)."""
        return self._batch is not None

    def stats(self) -> SpoolStats:
        return SpoolStats(
            self._rows,
            self._bytes,
            self._dropped,
            self._dropped_changes,
            len(self._held),
            self._unwritten,
            self._error,
        )

    async def put(self, results: list[dict[str, Any]]) -> None:
        """Store results; returns once they are committed (fsynced with `fsync: full`), or,
        while the disk refuses writes, once they are held in memory (see the module doc)."""
        worker = self._worker
        assert worker is not None, "Spool.open() first"
        self._puts += 1
        put = _Put(self, self._puts, results)
        try:
            held = await worker.transaction(put.write, undo=put.undo)
        except _DISK_ERRORS:  # not on disk: `undo` kept them for memory
            held = True
        if held and worker.is_open:
            await worker.run(lambda _conn: self._flush_unheld())
        self._data.set()
        if self._held and not self._closed and not self._retry_pending:
            assert self._loop is not None
            self._retry_pending = True
            delay = max(0.0, self._retry_at - time.monotonic()) + 0.01
            self._loop.call_later(delay, self._retry_held)

    def _retry_held(self) -> None:
        """Try the held results again although nothing new was put."""
        self._retry_pending = False
        if self._held and not self._closed and self._worker is not None:
            self._retry_task = asyncio.ensure_future(self.put([]))

    async def wait_for_data(self, timeout: float | None) -> None:
        """Wait until something is put (or `timeout` passes)."""
        self._data.clear()
        with contextlib.suppress(TimeoutError):
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the event being set, and the shipper would never stop.
            async with asyncio.timeout(timeout):
                await self._data.wait()

    async def take_batch(self, agent: str, max_items: int, max_bytes: int) -> Batch | None:
        """The batch being sent (the same id and rows after a failure or restart), or a new one
        from the oldest unbatched rows; None when the spool is empty."""
        return await self._call(self._guarded, self._take_batch, agent, max_items, max_bytes)

    async def ack(self, batch_id: str) -> None:
        """The collector answered 202: forget the batch's rows (SpoolWriteError: retry)."""
        await self._call(self._guarded, self._ack, batch_id)

    async def release(self, batch_id: str) -> None:
        """Unmark a batch the collector refused as a whole without storing it (e.g. 413)."""
        await self._call(self._guarded, self._release, batch_id)

    # ---- the spool thread -----------------------------------------------------------------

    async def _call(self, fn: Any, *args: Any) -> Any:
        assert self._worker is not None, "Spool.open() first"
        return await self._worker.run(lambda _conn: fn(*args))

    def _open(self) -> sqlite3.Connection:
        """The worker's `connect`: lock the spool, open it (or salvage it when corrupt)."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One agent per spool: a second one (started by hand next to the service) would send
        # the same rows under other batch ids, and the collector would store them twice.
        lock = open(self.path + ".lock", "a+")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise SpoolError(f"the spool {self.path} is in use by another agent") from None
        self._lockfile = lock
        try:
            return self._connect()
        except (sqlite3.DatabaseError, SpoolCorrupt) as exc:
            if not is_corrupt(exc):
                raise
            return self._replace(exc)

    def _load(self) -> None:
        db = self._db
        assert db is not None
        for name, value in db.execute("SELECT name, value FROM counters"):
            if name == "dropped":
                self._dropped = value
            elif name == "dropped_changes":
                self._dropped_changes = value
        rows, size, unbatched = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(batch IS NULL), 0) FROM results"
        ).fetchone()
        self._rows, self._bytes, self.unbatched = rows, size, unbatched
        self.unbatched_since = time.monotonic() - 3600.0  # left over: ship without waiting
        for row_id, key, state, batch, body in db.execute(
            "SELECT r.id, r.key, r.state, r.batch, r.body FROM results r"
            " JOIN (SELECT MAX(id) AS m FROM results GROUP BY key) l ON r.id = l.m"
        ):
            self._last[key] = _Last(row_id, state, batch is not None, json.loads(body), len(body))
        found = db.execute("SELECT id FROM batches ORDER BY created LIMIT 1").fetchone()
        if found is not None:
            self._batch = Batch(found[0], self._batch_rows(found[0]))
        if rows:
            log.info("spool %s: %d results waiting (%d bytes)", self.path, rows, size)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=5000")  # someone reading it with the sqlite3 shell
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self.fsync == 'full' else 'NORMAL'}")
            db.executescript(_SCHEMA)
            check(db)
        except BaseException:
            db.close()
            raise
        return db

    def _replace(self, exc: BaseException) -> sqlite3.Connection:
        """The spool is corrupt: move it aside, start a fresh one holding what can be read."""
        now = datetime.now().astimezone()
        moved = move_aside(Path(self.path), now)
        found = salvage(moved)
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                f"INSERT INTO results ({', '.join(RESULT_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
                found.rows,
            )
            db.executemany(
                "INSERT INTO batches (id, created) VALUES (?, ?)", list(found.batches.items())
            )
            db.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?)", list(found.counters.items())
            )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            db.close()
            raise
        self.replaced = {
            "at": now.isoformat(timespec="seconds"),
            "error": str(exc),
            "moved_to": str(moved),
            "salvaged_rows": len(found.rows),
            "salvaged_results": found.results,
            "unreadable_ranges": found.unreadable,
        }
        log.error(
            "spool %s is corrupt (%s): moved aside to %s and started a fresh spool; salvaged "
            "%d rows (%d results) that SQLite could still read, %d unreadable ranges skipped%s. "
            "Results in the lost part never reach the collector.",
            self.path,
            exc,
            moved,
            len(found.rows),
            found.results,
            found.unreadable,
            f" (last error: {found.error})" if found.error else "",
        )
        return db

    def _guarded(self, fn: Any, *args: Any) -> Any:
        """Run a batch operation; a disk error becomes SpoolWriteError (logged once)."""
        db = self._db
        assert db is not None
        self._flush_unheld()
        changes = db.total_changes
        try:
            result = fn(*args)
        except _DISK_ERRORS as exc:
            _rollback(db)
            self._refused(exc)
            raise SpoolWriteError(f"spool {self.path}: {exc}") from exc
        if self._error is not None and not self._held and db.total_changes != changes:
            self._writable_again()  # it committed a write
        return result

    def _before_commit(self, db: sqlite3.Connection) -> None:
        """In the group's transaction, after its puts: the cap, and the counters."""
        if not self._group_wrote:  # held results only: no write while the disk refuses
            return
        if self._bytes > self.max_bytes:
            self._enforce_cap(db)
        if self._counters_dirty:
            self._save_counters(db)

    def _after_commit(self, _transactions: int) -> None:
        if not self._group_wrote:
            return
        self._group_wrote = False
        self._counters_dirty = False
        if self._error is not None and not self._held and not self._unheld:
            self._writable_again(self._wrote_held)  # a write reached the disk
        self._wrote_held = 0

    def _flush_unheld(self) -> None:
        """Hold, in put order, the results whose write failed or was not tried (outside any
        group transaction: `undo` may still give back what a group took from `_held`)."""
        if not self._unheld:
            return
        unheld, self._unheld = sorted(self._unheld, key=lambda u: u[0]), []
        for _, results in unheld:
            self._hold(results)

    def _refused(self, exc: BaseException) -> None:
        """The disk refused a write: log once per episode (and when the reason changes)."""
        self._retry_at = time.monotonic() + self.retry_every
        message = str(exc) or type(exc).__name__
        if message == self._error:
            return
        self._error = message
        log.error(
            "spool %s cannot write: %s — holding results in memory (at most %d rows, then the "
            "oldest are dropped and counted) and retrying every %g s; shipping is paused",
            self.path,
            message,
            self.hold_max,
            self.retry_every,
        )

    def _writable_again(self, held: int = 0) -> None:
        log.warning(
            "spool %s writable again after '%s': %d held rows written, %d results lost while "
            "it refused (counted in dropped)",
            self.path,
            self._error,
            held,
            self._unwritten,
        )
        self._error = None

    def _hold(self, results: list[dict[str, Any]]) -> None:
        """Keep results the disk refused in memory, coalesced as the spool would."""
        for result in results:
            key = f"{result['component']}\x1f{result['probe']}"
            index = self._held_last.get(key)
            if index is not None and can_extend(self._held[index].body, result):
                self._held[index].body = extend(self._held[index].body, result)
                continue
            if index is not None:
                before: str | None = state_of(self._held[index].body)
            else:
                last = self._last.get(key)
                before = None if last is None else last.state
            self._held.append(_Held(key, result, before != state_of(result)))
            self._held_last[key] = len(self._held) - 1
        if len(self._held) > self.hold_max:
            self._shed_held()

    def _shed_held(self) -> None:
        """Over `hold_max` rows in memory: drop (and count) as the cap does on disk."""
        rows = [
            RowInfo(i, 1, int(h.body.get("count", 1)), h.change) for i, h in enumerate(self._held)
        ]
        plan = plan_drops(rows, len(self._held) - int(self.hold_max * _CAP_LOW_WATER))
        gone = set(plan.ids)
        if self._unwritten == 0:
            log.error(
                "spool %s: %d rows held in memory while the disk refuses; dropping the oldest "
                "(counted in dropped, logged again when the disk takes writes)",
                self.path,
                len(self._held),
            )
        self._held = [h for i, h in enumerate(self._held) if i not in gone]
        self._held_last = {h.key: i for i, h in enumerate(self._held)}
        self._count_lost(plan.results, plan.changes)

    def _count_lost(self, results: int, changes: int) -> None:
        self._unwritten += results
        self._dropped += results
        self._dropped_changes += changes
        self._counters_dirty = True  # persisted with the next commit that succeeds

    def _save_counters(self, db: sqlite3.Connection) -> None:
        for name, value in (("dropped", self._dropped), ("dropped_changes", self._dropped_changes)):
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def _write_one(self, db: sqlite3.Connection, key: str, result: dict[str, Any]) -> None:
        state = state_of(result)
        last = self._last.get(key)
        if (
            last is not None
            and last.row_id is not None
            and not last.frozen
            and last.body is not None
            and can_extend(last.body, result)
        ):
            body = extend(last.body, result)
            text = _dumps(body)
            old_size = last.size
            db.execute(
                "UPDATE results SET body = ?, size = ?, count = ? WHERE id = ?",
                (text, len(text), body["count"], last.row_id),
            )
            self._bytes += len(text) - old_size
            self._last[key] = _Last(last.row_id, state, False, body, len(text))
            return
        change = last is None or last.state != state
        text = _dumps(result)
        cursor = db.execute(
            "INSERT INTO results (key, state, change, count, size, body) VALUES (?, ?, ?, ?, ?, ?)",
            (key, state, int(change), int(result.get("count", 1)), len(text), text),
        )
        self._last[key] = _Last(cursor.lastrowid, state, False, result, len(text))
        self._rows += 1
        self._bytes += len(text)
        if self.unbatched == 0:
            self.unbatched_since = time.monotonic()
        self.unbatched += 1

    def _enforce_cap(self, db: sqlite3.Connection) -> None:
        excess = self._bytes - int(self.max_bytes * _CAP_LOW_WATER)
        rows = [
            RowInfo(row_id, size, count, bool(change))
            for row_id, size, count, change in db.execute(
                "SELECT id, size, count, change FROM results WHERE batch IS NULL ORDER BY id"
            )
        ]
        plan = plan_drops(rows, excess)
        if not plan.ids:
            return
        dropped = set(plan.ids)
        db.executemany("DELETE FROM results WHERE id = ?", [(i,) for i in plan.ids])
        self._rows -= len(plan.ids)
        self._bytes -= plan.freed
        self.unbatched -= len(plan.ids)
        self._dropped += plan.results
        self._dropped_changes += plan.changes
        self._save_counters(db)
        for last in self._last.values():
            if last.row_id in dropped:
                last.row_id, last.body = None, None
        message = "spool over its cap of %d bytes: dropped %d results in %d rows (%d state changes)"
        level = logging.ERROR if plan.changes else logging.WARNING
        log.log(level, message, self.max_bytes, plan.results, len(plan.ids), plan.changes)

    def _recount(self, db: sqlite3.Connection) -> None:
        rows, size, unbatched = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(batch IS NULL), 0) FROM results"
        ).fetchone()
        self._rows, self._bytes, self.unbatched = rows, size, unbatched

    def _batch_rows(self, batch_id: str) -> list[str]:
        assert self._db is not None
        return [
            body
            for (body,) in self._db.execute(
                "SELECT body FROM results WHERE batch = ? ORDER BY id", (batch_id,)
            )
        ]

    def _take_batch(self, agent: str, max_items: int, max_bytes: int) -> Batch | None:
        if self._batch is not None:
            return self._batch
        db = self._db
        assert db is not None
        chosen: list[tuple[int, str, str]] = []
        total = 0
        for row_id, key, body in db.execute(
            "SELECT id, key, body FROM results WHERE batch IS NULL ORDER BY id LIMIT ?",
            (max_items,),
        ):
            if chosen and total + len(body) > max_bytes:
                break
            chosen.append((row_id, key, body))
            total += len(body)
        if not chosen:
            return None
        batch_id = f"{agent}-{uuid.uuid4().hex}"
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO batches (id, created) VALUES (?, ?)", (batch_id, time.time()))
            db.execute(
                "UPDATE results SET batch = ? WHERE batch IS NULL AND id <= ?",
                (batch_id, chosen[-1][0]),
            )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        for row_id, key, _ in chosen:
            last = self._last.get(key)
            if last is not None and last.row_id == row_id:
                last.frozen, last.body = True, None  # never extended again: free its body
        self.unbatched -= len(chosen)
        if self.unbatched:
            self.unbatched_since = time.monotonic() - 3600.0  # older rows wait: ship now
        self._batch = Batch(batch_id, [body for _, _, body in chosen])
        return self._batch

    def _ack(self, batch_id: str) -> None:
        db = self._db
        assert db is not None
        ids = [
            (row_id, key, size)
            for row_id, key, size in db.execute(
                "SELECT id, key, size FROM results WHERE batch = ?", (batch_id,)
            )
        ]
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM results WHERE batch = ?", (batch_id,))
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        for row_id, key, size in ids:
            last = self._last.get(key)
            if last is not None and last.row_id == row_id:
                last.row_id, last.body, last.frozen = None, None, False
            self._bytes -= size
        self._rows -= len(ids)
        if self._batch is not None and self._batch.id == batch_id:
            self._batch = None

    def _release(self, batch_id: str) -> None:
        db = self._db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            cursor = db.execute("UPDATE results SET batch = NULL WHERE batch = ?", (batch_id,))
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        if self.unbatched == 0:
            self.unbatched_since = time.monotonic() - 3600.0
        self.unbatched += cursor.rowcount
        # The released rows stay as they are (their bodies were freed when frozen); results
        # that follow them start new rows, which costs a little space and loses nothing.
        if self._batch is not None and self._batch.id == batch_id:
            self._batch = None


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class _Put:
    """One `put` as a worker transaction: written in its own savepoint, held results first;
    `undo` takes back what it did in memory when its work did not reach the disk."""

    def __init__(self, spool: Spool, number: int, results: list[dict[str, Any]]) -> None:
        self.spool = spool
        self.number = number
        self.results = results
        self.took: tuple[list[_Held], dict[str, int], list[Any]] | None = None
        self.before: tuple[Any, ...] = ()
        self.last: dict[str, _Last | None] = {}

    def write(self, db: sqlite3.Connection) -> bool:
        """True when the results were only kept for memory (the disk refused a moment ago)."""
        spool = self.spool
        if spool._error is not None and time.monotonic() < spool._retry_at:
            spool._unheld.append((self.number, self.results))  # do not hammer the disk
            return True
        held, unheld = spool._held, sorted(spool._unheld, key=lambda u: u[0])
        if not held and not unheld and not self.results:
            return False
        self.took = (held, spool._held_last, unheld)
        self.before = (
            spool._rows,
            spool._bytes,
            spool.unbatched,
            spool.unbatched_since,
            spool._dropped,
            spool._dropped_changes,
        )
        spool._held, spool._held_last, spool._unheld = [], {}, []
        spool._wrote_held = len(held) + sum(len(r) for _, r in unheld)
        spool._group_wrote = True
        bodies = [h.body for h in held] + [r for _, rs in unheld for r in rs] + self.results
        for result in bodies:
            key = f"{result['component']}\x1f{result['probe']}"
            if key not in self.last:
                self.last[key] = spool._last.get(key)
            spool._write_one(db, key, result)
        return False

    def undo(self, exc: BaseException) -> None:
        spool = self.spool
        spool._group_wrote = False  # whatever it wrote is gone; later puts set it again
        if self.took is None:
            if isinstance(exc, _DISK_ERRORS) and not any(
                n == self.number for n, _ in spool._unheld
            ):
                spool._refused(exc)
                spool._unheld.append((self.number, self.results))
            return
        for key, last in self.last.items():  # keep the index in step with what is on disk
            if last is None:
                spool._last.pop(key, None)
            else:
                spool._last[key] = last
        (
            spool._rows,
            spool._bytes,
            spool.unbatched,
            spool.unbatched_since,
            spool._dropped,
            spool._dropped_changes,
        ) = self.before
        held, held_last, unheld = self.took
        spool._held, spool._held_last = held, held_last  # what it took goes back
        spool._unheld.extend(unheld)
        if isinstance(exc, _DISK_ERRORS):
            spool._refused(exc)
            spool._unheld.append((self.number, self.results))
        self.took, self.last = None, {}
