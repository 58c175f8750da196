"""`Worker`: one sqlite3 connection, one thread, every call in submission order.

`run(fn)` calls `fn(conn)` on the thread (reads, or work that manages its own transaction).
`transaction(fn)` calls `fn(conn)` inside `BEGIN IMMEDIATE … COMMIT`, shared with the other
transactions waiting at that moment (group commit, at most `group_max`), each inside its own
SAVEPOINT:

- `fn` raises: its savepoint is rolled back, its `undo(exc)` runs, and only its caller gets the
  exception; the others of the group commit.
- SQLite ends the whole transaction (SQLITE_FULL, SQLITE_IOERR… roll it back by themselves), or
  `before_commit` or COMMIT fails: nothing of the group is on disk. Every transaction already
  run gets the error (their `undo` runs, newest first); those not yet run go back to the head
  of the queue and run in the next group. The worker keeps going: once the disk takes writes
  again, so does the worker.

`linger` (seconds): a transaction waits that long after it was queued for others to share its
commit (the spool's 50 ms window); `run` calls queued meanwhile go first. With `linger=0` a
transaction waits only for the commit before it, which is when others pile up anyway.

Hooks, all called on the worker's thread: `before_commit(conn)` inside the group's transaction
after every savepoint (the spool enforces its size cap there, in the same commit);
`after_commit(n)` after each group commit of `n` transactions (tests count commits with it).

`close()` wakes the thread, which finishes every queued call (committing, not lingering) and
closes the connection; nobody polls.

The futures `run` and `transaction` return are settled on the event loop that made the call.
Cancelling one does not stop the work: a transaction already queued may still commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
GROUP_MAX = 256  # transactions per group commit, by default

Connect = Callable[[], sqlite3.Connection]
Undo = Callable[[BaseException], None]


class WorkerClosed(RuntimeError):
    """The worker is not open (never opened, or closed)."""


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    tx: bool
    undo: Undo | None = None
    queued: float = field(default_factory=time.monotonic)


# future, loop, result, exception
_Outcome = tuple[asyncio.Future[Any], asyncio.AbstractEventLoop, Any, BaseException | None]


class Worker:
    """One SQLite connection owned by one thread; see the module doc."""

    def __init__(
        self,
        connect: Connect,
        *,
        name: str = "durable",
        linger: float = 0.0,
        group_max: int = GROUP_MAX,
        before_commit: Callable[[sqlite3.Connection], None] | None = None,
        after_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self.linger = linger
        self.group_max = group_max
        self.commits = 0  # group commits so far (each may hold many transactions)
        self._connect = connect
        self._before_commit = before_commit
        self._after_commit = after_commit
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._queued_tx = 0
        self._closing = False
        self._exited = False  # the thread has ended (set under the lock)
        self._closed: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None

    # ---- the event loop's side ----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._conn is not None and not self._closing

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection; use it only inside `run` or `transaction` (on the worker's thread)."""
        if self._conn is None:
            raise WorkerClosed(f"{self.name} is not open")
        return self._conn

    async def open(self) -> None:
        """Start the thread and connect on it (`connect`'s exception is raised here)."""
        if self._thread is not None:
            return
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        self._closing = self._exited = False
        self._thread = threading.Thread(
            target=self._main, args=(loop, opened), name=self.name, daemon=True
        )
        self._thread.start()
        try:
            await opened
        except BaseException:
            self._thread = None  # it has ended
            raise

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """`fn(conn)` on the thread, after everything queued before (but see `linger`)."""
        return self._submit(fn, tx=False, undo=None)

    def transaction(
        self, fn: Callable[[sqlite3.Connection], T], *, undo: Undo | None = None
    ) -> asyncio.Future[T]:
        """`fn(conn)` in its own savepoint of a group transaction; the future is settled once
        the group committed (fn's result) or failed. `undo(exc)` runs on the thread when fn's
        work did not reach the disk, so the caller can take back what fn did in memory."""
        return self._submit(fn, tx=True, undo=undo)

    async def close(self) -> None:
        """Finish every queued call, close the connection, end the thread."""
        thread = self._thread
        if thread is None:
            return
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()
        with self._cond:
            self._closing = True
            exited = self._exited
            if not exited:
                self._closed = (loop, closed)
            self._cond.notify_all()
        if not exited:
            await closed
        self._thread = None

    def _submit(
        self, fn: Callable[[sqlite3.Connection], Any], *, tx: bool, undo: Undo | None
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop.create_future(), loop, tx, undo)
        with self._cond:
            if self._conn is None or self._closing:
                raise WorkerClosed(f"{self.name} is not open")
            self._queue.append(job)
            self._queued_tx += tx
            self._cond.notify()
        return job.future

    # ---- the worker's thread -------------------------------------------------------------------

    def _main(self, loop: asyncio.AbstractEventLoop, opened: asyncio.Future[None]) -> None:
        try:
            self._conn = self._connect()
        except BaseException as exc:
            with self._cond:
                self._exited = True
            _call_soon(loop, _settle, [(opened, loop, None, exc)])
            return
        _call_soon(loop, _settle, [(opened, loop, None, None)])
        try:
            while (jobs := self._next()) is not None:
                if jobs[0].tx:
                    self._commit(jobs)
                else:
                    self._run_one(jobs[0])
        finally:
            conn, self._conn = self._conn, None
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            with self._cond:
                closed, self._closed = self._closed, None
                self._exited = True
            if closed is not None:
                _call_soon(closed[0], _settle, [(closed[1], closed[0], None, None)])

    def _next(self) -> list[_Job] | None:
        """The next call to make, or the next group of transactions; None once closed."""
        with self._cond:
            while True:
                if not self._queue:
                    if self._closing:
                        return None
                    self._cond.wait()
                    continue
                head = self._queue[0]
                if not head.tx:
                    return [self._queue.popleft()]
                wait = head.queued + self.linger - time.monotonic()
                if wait > 0 and not self._closing and self._queued_tx < self.group_max:
                    for job in self._queue:  # calls go first while transactions linger
                        if not job.tx:
                            self._queue.remove(job)
                            return [job]
                    self._cond.wait(wait)
                    continue
                group: list[_Job] = []
                while self._queue and self._queue[0].tx and len(group) < self.group_max:
                    group.append(self._queue.popleft())
                self._queued_tx -= len(group)
                return group

    def _run_one(self, job: _Job) -> None:
        conn = self.connection
        try:
            result = job.fn(conn)
            if conn.in_transaction:  # never leave the next call inside someone's transaction
                _rollback(conn)
                raise RuntimeError(f"{self.name}: a run() call left a transaction open")
        except BaseException as exc:
            _rollback(conn)
            _call_soon(job.loop, _settle, [(job.future, job.loop, None, exc)])
            return
        _call_soon(job.loop, _settle, [(job.future, job.loop, result, None)])

    def _commit(self, group: list[_Job]) -> None:
        conn = self.connection
        outcomes: list[_Outcome] = []
        done: list[tuple[_Job, Any]] = []
        aborted: BaseException | None = None
        rest: list[_Job] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            aborted, rest = exc, group[1:]
            self._undo(group[0], exc, outcomes)
        else:
            for index, job in enumerate(group):
                try:
                    conn.execute("SAVEPOINT tx")
                    result = job.fn(conn)
                except BaseException as exc:
                    if conn.in_transaction and _rolled_back_to_savepoint(conn):
                        self._undo(job, exc, outcomes)  # this one only; the others go on
                        continue
                    aborted, rest = exc, group[index + 1 :]  # SQLite ended the transaction
                    self._undo(job, exc, outcomes)
                    break
                try:
                    conn.execute("RELEASE tx")
                except BaseException as exc:
                    aborted, rest = exc, group[index + 1 :]
                    self._undo(job, exc, outcomes)
                    break
                done.append((job, result))
            if aborted is None:
                try:
                    if self._before_commit is not None:
                        self._before_commit(conn)
                    conn.execute("COMMIT")
                except BaseException as exc:
                    aborted = exc
        if aborted is not None:
            _rollback(conn)
            for job, _ in reversed(done):
                self._undo(job, aborted, outcomes)
            if rest:
                with self._cond:  # not run: they go first in the next group
                    self._queue.extendleft(reversed(rest))
                    self._queued_tx += len(rest)
        else:
            self.commits += 1
            if self._after_commit is not None:
                try:
                    self._after_commit(len(done) + len(outcomes))
                except Exception:
                    log.exception("%s: after_commit failed", self.name)
            outcomes.extend((job.future, job.loop, result, None) for job, result in done)
        _settle_all(outcomes)

    def _undo(self, job: _Job, exc: BaseException, outcomes: list[_Outcome]) -> None:
        if job.undo is not None:
            try:
                job.undo(exc)
            except Exception:
                log.exception("%s: undo failed", self.name)
        outcomes.append((job.future, job.loop, None, exc))


def _rolled_back_to_savepoint(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("ROLLBACK TO tx")
        conn.execute("RELEASE tx")
    except sqlite3.Error:
        return False
    return True


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite rolls back by itself on some errors
    (SQLITE_FULL, SQLITE_IOERR…), and ROLLBACK then raises "no transaction is active"."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _settle_all(outcomes: list[_Outcome]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[1], []).append(outcome)
    for loop, items in by_loop.items():
        _call_soon(loop, _settle, items)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(fn, *args)


def _settle(outcomes: list[_Outcome]) -> None:
    for future, _, result, exc in outcomes:
        if future.done():
            continue
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)
