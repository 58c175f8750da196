"""A durable, ordered write queue in front of a slow or absent sink (InfluxDB).

`put` (or `transaction`) returns once the records are committed to a local SQLite file in WAL
mode with `synchronous=FULL` — the point where the collector may answer 202. A background task
drains the queue in order: it joins consecutive records of the same key into batches of about
`max_batch_lines` lines, hands each batch to the sink, and deletes it only once the sink has
taken it. A failing sink is retried with exponential backoff (capped), so nothing acknowledged
is lost while the sink is down, nor across `kill -9` (the file is the queue). A replay after a
crash may deliver a batch twice; the InfluxDB store makes that harmless (same series + same
timestamp overwrite).

A batch the sink refuses for good (`exc.retryable is False`, e.g. HTTP 400) is split into its
records and each is sent alone (idempotent, so re-sending the good ones is harmless); a record
still refused is moved to the `rejected` table with the error, counted, and the queue moves on.

`flush()` waits until everything put before the call has been delivered: the InfluxDB store
calls it before every read, so reads are exact even with a backlog, and fail (after a timeout)
while the sink is down — InfluxDB could not answer them then anyway.

Hand-written rather than a queue library: persist-queue and similar are synchronous, file-per-
item or lack an atomic "enqueue together with my own tables" transaction, which the store needs
(batch ids, components and queued points in one commit). The SQLite side is the durable worker
(`durable.Worker`), shared with the agent's spool and the SQLite store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from collector.aio import cancel_and_wait
from durable import Worker

log = logging.getLogger("collector.buffer")

T = TypeVar("T")

# key, body (newline-terminated lines), number of lines -> lines the sink dropped as expired.
Sink = Callable[[str, bytes, int], Awaitable[int]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, lines INTEGER NOT NULL,
    created_ms INTEGER NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, lines INTEGER NOT NULL,
    created_ms INTEGER NOT NULL, rejected_ms INTEGER NOT NULL, error TEXT NOT NULL,
    payload BLOB NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Record:
    """One unit of queued work: `lines` newline-terminated points for `key`."""

    key: str
    payload: bytes
    lines: int


@dataclass(frozen=True, slots=True)
class BufferStats:
    """The backlog, for /healthz and /metrics."""

    pending_records: int
    pending_lines: int
    oldest_pending_age_s: float  # 0 when nothing is pending
    delivered_lines: int  # since this process opened the buffer
    expired_lines: int  # dropped by the sink as older than its retention
    rejected_lines: int  # refused for good, kept in the `rejected` table (all time)
    sink_failing: bool  # the last attempt failed and the drain is backing off
    last_error: str  # the last delivery error ("" once a delivery succeeds)


class BufferTimeout(TimeoutError):
    """`flush` gave up: the sink did not take the backlog in time. The message says why."""


class _Undone(Exception):
    """`build` returned None: its savepoint is rolled back."""


class DurableBuffer:
    def __init__(
        self,
        path: str | Path,
        sink: Sink,
        *,
        max_batch_lines: int = 5000,
        max_batch_bytes: int = 8 << 20,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self._sink = sink
        self.max_batch_lines = max_batch_lines
        self.max_batch_bytes = max_batch_bytes
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._send_lock = asyncio.Lock()
        # the next batch, read with the delete of the one before it (see `_remove_and_fetch`)
        self._prefetched: list[tuple[int, str, int, bytes]] | None = None
        self._closing = False
        # pending records' (seq, lines, created_ms), oldest first — metadata only
        self._pending: deque[tuple[int, int, int]] = deque()
        self._pending_lines = 0
        self._put_seq = 0  # highest seq committed
        self._done_seq = 0  # highest seq delivered, expired or rejected
        self._delivered_lines = 0
        self._expired_lines = 0
        self._rejected_lines = 0
        self._failing = False
        self._last_error = ""
        self.commits = 0  # group commits so far (each may hold many transactions)

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Open (or create) the file and start draining what a previous run left."""
        if self._worker is not None:
            return
        worker = Worker(self._connect, name="durable-buffer", after_commit=self._counted)
        await worker.open()
        self._worker = worker
        try:
            await self.run(self._load)
        except BaseException:
            self._worker = None
            await worker.close()
            raise
        self._closing = False
        self._task = asyncio.create_task(self._drain(), name=f"drain {self.path.name}")

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _counted(self, _transactions: int) -> None:
        self.commits += 1

    def _load(self) -> None:
        db = self.connection
        self._prefetched = None
        self._pending.clear()
        self._pending_lines = 0
        for seq, lines, created in db.execute(
            "SELECT seq, lines, created_ms FROM queue ORDER BY seq"
        ):
            self._pending.append((seq, lines, created))
            self._pending_lines += lines
        top = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'queue'").fetchone()
        self._put_seq = top[0] if top else 0
        self._done_seq = self._pending[0][0] - 1 if self._pending else self._put_seq
        self._rejected_lines = db.execute(
            "SELECT COALESCE(SUM(lines), 0) FROM rejected"
        ).fetchone()[0]

    async def close(self, flush_timeout: float | None = 0.0) -> None:
        """Stop draining (after trying to deliver the backlog for `flush_timeout` seconds);
        what is left stays in the file for the next run."""
        worker = self._worker
        if worker is None:
            return
        if flush_timeout:
            with contextlib.suppress(BufferTimeout):
                await self.flush(flush_timeout)
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        await worker.close()  # queued transactions commit first (their callers wait for them)
        self._worker = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the buffer's database thread (for a store's own local tables)."""
        if self._worker is None:
            raise RuntimeError(f"buffer {self.path} is not open")
        return await self._worker.run(lambda _conn: fn(*args))

    @property
    def connection(self) -> sqlite3.Connection:
        """The buffer's SQLite connection; use it only inside `run` or `transaction`."""
        if self._worker is None:
            raise RuntimeError(f"buffer {self.path} is not open")
        return self._worker.connection

    # -- writing -----------------------------------------------------------------------------
    async def put(self, records: Sequence[Record]) -> None:
        """Queue records durably (one commit)."""
        await self.transaction(lambda _db: list(records))

    async def transaction(
        self, build: Callable[[sqlite3.Connection], Sequence[Record] | None]
    ) -> bool:
        """Run `build(connection)` on the database thread and queue the records it returns,
        durably, in the same commit. `build` may read and write the store's own tables;
        returning None undoes what it did (and `transaction` returns False).

        Group commit: transactions that arrive while a commit is in progress share the next
        one (each inside its own SAVEPOINT), so concurrent writers pay one fsync together."""
        if self._worker is None:
            raise RuntimeError(f"buffer {self.path} is not open")
        now = int(time.time() * 1000)

        def enqueue(db: sqlite3.Connection) -> list[tuple[int, int, int]]:
            records = build(db)
            if records is None:
                raise _Undone
            added: list[tuple[int, int, int]] = []
            for r in records:
                if r.lines <= 0:
                    continue
                cur = db.execute(
                    "INSERT INTO queue (key, lines, created_ms, payload) VALUES (?, ?, ?, ?)",
                    (r.key, r.lines, now, r.payload),
                )
                added.append((cur.lastrowid, r.lines, now))
            return added

        future = self._worker.transaction(enqueue)
        future.add_done_callback(self._committed)  # even when the caller is cancelled
        try:
            await asyncio.shield(future)
        except _Undone:
            return False
        return True

    def _committed(self, future: asyncio.Future[list[tuple[int, int, int]]]) -> None:
        """A transaction's records are on disk: count them pending and wake the drain
        (futures are settled in commit order, so `_pending` stays in seq order)."""
        if future.cancelled() or future.exception() is not None:
            return
        for seq, lines, created in future.result():
            self._pending.append((seq, lines, created))
            self._pending_lines += lines
            self._put_seq = max(self._put_seq, seq)
            self._wake.set()

    # -- reading the state -------------------------------------------------------------------
    def stats(self) -> BufferStats:
        oldest = self._pending[0][2] if self._pending else None
        age = max(0.0, time.time() - oldest / 1000) if oldest is not None else 0.0
        return BufferStats(
            pending_records=len(self._pending),
            pending_lines=self._pending_lines,
            oldest_pending_age_s=age,
            delivered_lines=self._delivered_lines,
            expired_lines=self._expired_lines,
            rejected_lines=self._rejected_lines,
            sink_failing=self._failing,
            last_error=self._last_error,
        )

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every record queued before this call has left the queue (delivered,
        expired or rejected). Raises `BufferTimeout` naming the backlog and the last error."""
        target = self._put_seq
        if self._done_seq >= target:
            return
        self._wake.set()

        async def wait() -> None:
            async with self._progress:
                await self._progress.wait_for(lambda: self._done_seq >= target)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            s = self.stats()
            raise BufferTimeout(
                f"{s.pending_lines} line(s) in {s.pending_records} batch(es) not yet delivered "
                f"after {timeout:g} s (oldest {s.oldest_pending_age_s:.0f} s)"
                + (f"; last error: {s.last_error}" if s.last_error else "")
            ) from None

    @contextlib.asynccontextmanager
    async def exclusive(self, timeout: float | None = None) -> AsyncIterator[None]:
        """Flush, then hold the drain still while the caller works on the sink directly
        (e.g. read, compute and delete with nothing arriving in between)."""
        await self.flush(timeout)
        async with self._send_lock:
            yield

    def rejected(self) -> list[tuple[str, int, str]]:
        """(key, lines, error) of every rejected record (call inside `run`)."""
        return list(self.connection.execute("SELECT key, lines, error FROM rejected ORDER BY seq"))

    # -- draining ----------------------------------------------------------------------------
    def _next_batch(self) -> list[tuple[int, str, int, bytes]]:
        batch: list[tuple[int, str, int, bytes]] = []
        lines = size = 0
        cursor = self.connection.execute(
            "SELECT seq, key, lines, payload FROM queue ORDER BY seq LIMIT 512"
        )
        for seq, key, n, payload in cursor:
            if batch and (
                key != batch[0][1]
                or lines + n > self.max_batch_lines
                or size + len(payload) > self.max_batch_bytes
            ):
                break
            batch.append((seq, key, n, payload))
            lines += n
            size += len(payload)
        cursor.close()
        return batch

    def _remove(self, last_seq: int) -> None:
        # No fsync for deletes: one lost to a power cut only means a harmless re-send.
        db = self.connection
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute("DELETE FROM queue WHERE seq <= ?", (last_seq,))
        finally:
            db.execute("PRAGMA synchronous=FULL")

    def _remove_and_fetch(self, last_seq: int) -> list[tuple[int, str, int, bytes]]:
        """`_remove`, then `_next_batch`: one trip to the database thread between two
        deliveries instead of two. The thread is often busy with group commits, and waiting
        for it twice took a third of the drain's time under load (only the drain removes rows,
        so the batch read here is still the queue's head when it is sent)."""
        self._remove(last_seq)
        return self._next_batch()

    def _reject(self, seq: int, key: str, lines: int, payload: bytes, error: str) -> None:
        db = self.connection
        created = db.execute("SELECT created_ms FROM queue WHERE seq = ?", (seq,)).fetchone()
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT OR REPLACE INTO rejected VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                key,
                lines,
                created[0] if created else 0,
                int(time.time() * 1000),
                error,
                payload,
            ),
        )
        db.execute("DELETE FROM queue WHERE seq = ?", (seq,))
        db.execute("COMMIT")

    async def _done(self, last_seq: int, delivered: int, expired: int, rejected: int) -> None:
        while self._pending and self._pending[0][0] <= last_seq:
            _, lines, _ = self._pending.popleft()
            self._pending_lines -= lines
        self._delivered_lines += delivered
        self._expired_lines += expired
        self._rejected_lines += rejected
        self._done_seq = max(self._done_seq, last_seq)
        self._failing = False
        self._last_error = ""
        async with self._progress:
            self._progress.notify_all()

    async def _drain(self) -> None:
        failures = 0
        while not self._closing:
            batch, self._prefetched = self._prefetched, None
            if batch is None:
                batch = await self.run(self._next_batch) if self._pending else []
            if not batch:
                self._wake.clear()
                if not self._pending:
                    await self._wake.wait()
                continue
            try:
                async with self._send_lock:
                    await self._deliver(batch)
                failures = 0
            except Exception as exc:  # the sink failed: back off, keep everything queued
                failures += 1
                self._failing = True
                self._last_error = str(exc) or type(exc).__name__
                delay = min(self.backoff_max, self.backoff_initial * 2 ** min(failures - 1, 30))
                delay *= random.uniform(0.8, 1.0)
                if failures == 1 or failures % 20 == 0:
                    log.warning("buffer %s: delivery failed (%s); retrying", self.path.name, exc)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # (not wait_for: see collector/aio.py)
                    async with asyncio.timeout(delay):
                        await self._sleep_until_closing()

    async def _sleep_until_closing(self) -> None:
        while not self._closing:
            await asyncio.sleep(3600)

    async def _deliver(self, batch: list[tuple[int, str, int, bytes]]) -> None:
        key = batch[0][1]
        lines = sum(b[2] for b in batch)
        try:
            expired = await self._sink(key, b"".join(b[3] for b in batch), lines)
        except Exception as exc:
            if getattr(exc, "retryable", True):
                raise
            await self._deliver_one_by_one(batch, exc)
            return
        last = batch[-1][0]
        self._prefetched = await self.run(self._remove_and_fetch, last)
        await self._done(last, lines - expired, expired, 0)

    async def _deliver_one_by_one(
        self, batch: list[tuple[int, str, int, bytes]], refusal: Exception
    ) -> None:
        """The sink refused a batch for good: send its records one by one (harmless for the
        good ones: a replay overwrites) and set aside each record it still refuses."""
        for seq, key, n, payload in batch:
            error: Exception | None = refusal
            expired = 0
            if len(batch) > 1:
                try:
                    expired = await self._sink(key, payload, n)
                    error = None
                except Exception as exc:
                    if getattr(exc, "retryable", True):
                        raise
                    error = exc
            if error is None:
                await self.run(self._remove, seq)
                await self._done(seq, n - expired, expired, 0)
            else:
                log.error("buffer %s: %d line(s) rejected: %s", self.path.name, n, error)
                await self.run(self._reject, seq, key, n, payload, str(error))
                await self._done(seq, 0, 0, n)
