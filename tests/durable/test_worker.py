"""The durable worker on real SQLite files: group commit, savepoints, close, a full disk."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from durable import Worker, WorkerClosed
from tests.peers.smallfs import fill, mount_small_fs


def _connect(path: Path) -> Callable[[], sqlite3.Connection]:
    def connect() -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v BLOB)")
        return db

    return connect


def _on_disk(path: Path) -> set[str]:
    """The keys a fresh connection (another reader) sees."""
    db = sqlite3.connect(path)
    try:
        return {k for (k,) in db.execute("SELECT k FROM t")}
    finally:
        db.close()


def _insert(key: str, size: int = 1) -> Callable[[sqlite3.Connection], str]:
    def fn(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t VALUES (?, ?)", (key, b"x" * size))
        return key

    return fn


class _Blocker:
    """A run() call that holds the worker's thread until released, so transactions queue up
    behind it deterministically (no timing)."""

    def __init__(self, worker: Worker) -> None:
        self.started = threading.Event()
        self._release = threading.Event()
        self.future = worker.run(self._hold)

    def _hold(self, _conn: sqlite3.Connection) -> None:
        self.started.set()
        self._release.wait()

    async def release(self) -> None:
        self._release.set()
        await self.future


async def _blocked(worker: Worker) -> _Blocker:
    blocker = _Blocker(worker)
    await asyncio.get_running_loop().run_in_executor(None, blocker.started.wait)
    return blocker


async def test_transactions_waiting_together_share_one_commit(tmp_path: Path) -> None:
    groups: list[int] = []
    worker = Worker(_connect(tmp_path / "w.db"), after_commit=groups.append)
    await worker.open()
    blocker = await _blocked(worker)
    futures = [worker.transaction(_insert(f"k{i}")) for i in range(50)]
    await blocker.release()
    assert await asyncio.gather(*futures) == [f"k{i}" for i in range(50)]
    assert groups == [50]  # one commit for all fifty
    assert worker.commits == 1
    assert _on_disk(tmp_path / "w.db") == {f"k{i}" for i in range(50)}
    await worker.close()


async def test_a_group_holds_at_most_group_max_transactions(tmp_path: Path) -> None:
    groups: list[int] = []
    worker = Worker(_connect(tmp_path / "w.db"), group_max=8, after_commit=groups.append)
    await worker.open()
    blocker = await _blocked(worker)
    futures = [worker.transaction(_insert(f"k{i}")) for i in range(20)]
    await blocker.release()
    await asyncio.gather(*futures)
    assert groups == [8, 8, 4]
    await worker.close()


async def test_an_error_in_one_transaction_reaches_only_its_caller(tmp_path: Path) -> None:
    undone: list[tuple[str, BaseException]] = []
    groups: list[int] = []
    worker = Worker(_connect(tmp_path / "w.db"), after_commit=groups.append)
    await worker.open()
    await worker.transaction(_insert("taken"))

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES ('half', NULL)")
        raise ValueError("a bug in one caller")

    blocker = await _blocked(worker)
    futures = [
        worker.transaction(_insert("a")),
        worker.transaction(half_then_fail, undo=lambda e: undone.append(("bug", e))),
        worker.transaction(_insert("taken"), undo=lambda e: undone.append(("dup", e))),
        worker.transaction(_insert("b")),
    ]
    await blocker.release()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[0] == "a" and outcomes[3] == "b"
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[2], sqlite3.IntegrityError)
    assert [name for name, _ in undone] == ["bug", "dup"]
    assert groups == [1, 4]  # the four shared one commit
    assert _on_disk(tmp_path / "w.db") == {"taken", "a", "b"}  # 'half' was rolled back
    await worker.close()


async def test_a_failed_commit_fails_every_transaction_of_the_group_and_undoes_newest_first(
    tmp_path: Path,
) -> None:
    refuse = True
    undone: list[str] = []

    def before_commit(_conn: sqlite3.Connection) -> None:
        if refuse:
            raise sqlite3.OperationalError("disk I/O error")

    worker = Worker(_connect(tmp_path / "w.db"), before_commit=before_commit)
    await worker.open()
    blocker = await _blocked(worker)
    futures = [worker.transaction(_insert(k), undo=lambda _e, k=k: undone.append(k)) for k in "abc"]
    await blocker.release()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(o, sqlite3.OperationalError) for o in outcomes)
    assert undone == ["c", "b", "a"]
    assert _on_disk(tmp_path / "w.db") == set()
    refuse = False  # the worker goes on once commits succeed again
    assert await worker.transaction(_insert("a")) == "a"
    assert _on_disk(tmp_path / "w.db") == {"a"}
    await worker.close()


async def test_calls_run_in_submission_order_and_a_read_sees_the_writes_before_it(
    tmp_path: Path,
) -> None:
    worker = Worker(_connect(tmp_path / "w.db"))
    await worker.open()
    blocker = await _blocked(worker)
    write = worker.transaction(_insert("a"))
    read = worker.run(lambda conn: [k for (k,) in conn.execute("SELECT k FROM t")])
    await blocker.release()
    await write
    assert await read == ["a"]
    await worker.close()


async def test_a_run_call_that_leaves_a_transaction_open_fails_and_is_rolled_back(
    tmp_path: Path,
) -> None:
    worker = Worker(_connect(tmp_path / "w.db"))
    await worker.open()

    def forgetful(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES ('x', NULL)")

    with pytest.raises(RuntimeError, match="left a transaction open"):
        await worker.run(forgetful)
    assert await worker.transaction(_insert("y")) == "y"
    assert _on_disk(tmp_path / "w.db") == {"y"}
    await worker.close()


async def test_close_wakes_a_lingering_transaction_commits_it_and_never_polls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []
    # an hour's linger: only close can end it (a close that waited would hit the test timeout)
    worker = Worker(_connect(tmp_path / "w.db"), linger=3600, after_commit=groups.append)
    await worker.open()
    futures = [worker.transaction(_insert(f"k{i}")) for i in range(3)]
    read = worker.run(lambda conn: conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])
    assert await read == 0  # a read goes ahead of lingering transactions

    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def counting_sleep(delay: float, *args: object) -> object:
        sleeps.append(delay)
        return await real_sleep(delay, *args)

    monkeypatch.setattr(asyncio, "sleep", counting_sleep)
    await worker.close()
    assert sleeps == []  # woken, not polled
    assert [f.result() for f in futures] == ["k0", "k1", "k2"]
    assert groups == [3]
    assert _on_disk(tmp_path / "w.db") == {"k0", "k1", "k2"}
    with pytest.raises(WorkerClosed):
        worker.run(lambda conn: None)


async def test_an_open_that_fails_raises_and_leaves_nothing_running(tmp_path: Path) -> None:
    def connect() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    worker = Worker(connect)
    with pytest.raises(sqlite3.OperationalError):
        await worker.open()
    assert not worker.is_open
    with pytest.raises(WorkerClosed):
        worker.transaction(_insert("a"))
    await worker.close()


async def test_a_full_database_fails_its_callers_only_truthfully_and_writes_resume(
    tmp_path: Path,
) -> None:
    """`PRAGMA max_page_count` makes the database full: whoever is told 'committed' is on
    disk, whoever is not got the error; once there is room again the worker writes."""
    path = tmp_path / "w.db"
    worker = Worker(_connect(path))
    await worker.open()
    pages = await worker.run(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
    await worker.run(lambda c: c.execute(f"PRAGMA max_page_count={pages + 2}"))
    blocker = await _blocked(worker)
    futures = {
        "small": worker.transaction(_insert("small")),
        "big": worker.transaction(_insert("big", 1 << 20)),
        "after": worker.transaction(_insert("after")),
    }
    await blocker.release()
    outcomes = dict(
        zip(futures, await asyncio.gather(*futures.values(), return_exceptions=True), strict=True)
    )
    assert isinstance(outcomes["big"], sqlite3.OperationalError)
    assert "full" in str(outcomes["big"])
    committed = {k for k, o in outcomes.items() if not isinstance(o, BaseException)}
    assert committed == _on_disk(path)  # nobody was told a lie

    await worker.run(lambda c: c.execute("PRAGMA max_page_count=1073741823"))
    assert await worker.transaction(_insert("big", 1 << 20)) == "big"
    assert "big" in _on_disk(path)
    await worker.close()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs) the test can fill to the last byte."""
    with mount_small_fs(tmp_path, "1m") as mount:
        yield mount


async def test_a_full_disk_surfaces_to_the_caller_and_the_worker_goes_on_when_space_returns(
    small_fs: Path,
) -> None:
    path = small_fs / "w.db"
    worker = Worker(_connect(path))
    await worker.open()
    await worker.transaction(_insert("before"))
    fill(small_fs / "filler")
    n = 0
    with pytest.raises(sqlite3.Error, match="full"):
        while True:  # the WAL may have some room left: write until the disk refuses
            n += 1
            await worker.transaction(_insert(f"k{n}", 4096))
            assert n < 10_000, "the disk never refused"
    refused = f"k{n}"
    (small_fs / "filler").unlink()
    assert await worker.transaction(_insert("after", 4096)) == "after"
    await worker.close()
    on_disk = _on_disk(path)
    assert {"before", "after"} <= on_disk and refused not in on_disk
    assert on_disk == {"before", "after"} | {f"k{i}" for i in range(1, n)}
