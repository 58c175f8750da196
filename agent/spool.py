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

All SQLite work runs on one dedicated thread, in order, so the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.coalesce import RowInfo, can_extend, extend, plan_drops, state_of

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


@dataclass(frozen=True, slots=True)
class SpoolStats:
    pending: int  # rows in the spool, batched or not
    bytes: int
    dropped: int  # results dropped by the cap, ever (persisted)
    dropped_changes: int  # of those rows, how many were state changes


class Spool:
    """Durable, ordered, coalescing store of results waiting for the collector."""

    def __init__(
        self, path: str, max_bytes: int, fsync: str = "full", group_window: float = 0.05
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.group_window = group_window  # seconds a put waits for others to share its commit
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._db: sqlite3.Connection | None = None
        self._lockfile: Any = None
        self._lock = threading.Lock()
        self._queue: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._drain_scheduled = False
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
        try:
            await self._call(self._open)
        except (OSError, sqlite3.Error) as exc:
            if self._lockfile is not None:
                self._lockfile.close()
                self._lockfile = None
            raise SpoolError(f"cannot open the spool {self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._db is not None:
            await self._call(self._drain)  # what is still waiting for its group commit
            await self._call(self._close)
        self._closed = True
        self._executor.shutdown(wait=True)

    @property
    def has_batch(self) -> bool:
        """A batch is marked and waiting for its 202 (send it again, same id)."""
        return self._batch is not None

    def stats(self) -> SpoolStats:
        return SpoolStats(self._rows, self._bytes, self._dropped, self._dropped_changes)

    async def put(self, results: list[dict[str, Any]]) -> None:
        """Store results; returns once they are committed (fsynced with `fsync: full`)."""
        assert self._loop is not None, "Spool.open() first"
        future: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            self._queue.append((results, future))
            schedule = not self._drain_scheduled
            self._drain_scheduled = True
        if schedule:
            if self.group_window > 0:
                self._loop.call_later(self.group_window, self._submit_drain)
            else:
                self._submit_drain()
        await future

    def _submit_drain(self) -> None:
        if not self._closed:
            self._executor.submit(self._drain)

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
        return await self._call(self._take_batch, agent, max_items, max_bytes)

    async def ack(self, batch_id: str) -> None:
        """The collector answered 202: forget the batch's rows."""
        await self._call(self._ack, batch_id)

    async def release(self, batch_id: str) -> None:
        """Unmark a batch the collector refused as a whole without storing it (e.g. 413)."""
        await self._call(self._release, batch_id)

    # ---- the spool thread -----------------------------------------------------------------

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _open(self) -> None:
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
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=5000")  # someone reading it with the sqlite3 shell
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.fsync == 'full' else 'NORMAL'}")
        db.executescript(_SCHEMA)
        self._db = db
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

    def _close(self) -> None:
        assert self._db is not None
        self._db.close()
        self._db = None
        if self._lockfile is not None:
            self._lockfile.close()  # releases the flock
            self._lockfile = None

    def _drain(self) -> None:
        with self._lock:
            items, self._queue = self._queue, []
            self._drain_scheduled = False
        if not items:
            return
        error: BaseException | None = None
        try:
            self._write([r for results, _ in items for r in results])
        except BaseException as exc:  # the callers must hear of it; nothing was committed
            log.exception("spool write failed")
            error = exc
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._settle, [f for _, f in items], error)

    def _settle(self, futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
        for future in futures:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
        self._data.set()

    def _write(self, results: list[dict[str, Any]]) -> None:
        db = self._db
        assert db is not None
        undo = {}
        db.execute("BEGIN IMMEDIATE")
        try:
            for result in results:
                key = f"{result['component']}\x1f{result['probe']}"
                if key not in undo:
                    undo[key] = self._last.get(key)
                self._write_one(db, key, result)
            if self._bytes > self.max_bytes:
                self._enforce_cap(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            for key, last in undo.items():  # keep the index in step with what is on disk
                if last is None:
                    self._last.pop(key, None)
                else:
                    self._last[key] = last
            self._recount(db)
            raise

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
        for name, value in (("dropped", self._dropped), ("dropped_changes", self._dropped_changes)):
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
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
            db.execute("ROLLBACK")
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
            db.execute("ROLLBACK")
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
            db.execute("ROLLBACK")
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
