"""The durable write buffer: order, batching, backoff, refusals, flush, and kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collector.store.influx.buffer import BufferTimeout, DurableBuffer, Record


class Down(Exception):
    retryable = True


class Refused(Exception):
    retryable = False


class Sink:
    """A sink that records what it takes; it can be down, or refuse payloads containing
    `poison` for good, or report lines as expired."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, bytes, int]] = []
        self.down = False
        self.attempts = 0
        self.poison: bytes | None = None
        self.expire = 0

    async def __call__(self, key: str, body: bytes, lines: int) -> int:
        self.attempts += 1
        if self.down:
            raise Down("connection refused")
        if self.poison is not None and self.poison in body:
            raise Refused("400: field type conflict")
        self.taken.append((key, body, lines))
        return min(self.expire, lines)

    def lines(self) -> list[bytes]:
        return [line for _, body, _ in self.taken for line in body.splitlines()]


def rec(key: str, *items: str) -> Record:
    return Record(key, "".join(f"{i}\n" for i in items).encode(), len(items))


async def test_records_are_delivered_in_order_in_batches_per_key(tmp_path: Path) -> None:
    sink = Sink()
    sink.down = True  # everything queues first, so the batches do not depend on timing
    buf = DurableBuffer(tmp_path / "b.db", sink, max_batch_lines=4, backoff_max=0.02)
    await buf.open()
    for i in range(5):
        await buf.put([rec("raw", f"r{i}a", f"r{i}b")])
    await buf.put([rec("keep", "k0"), rec("raw", "r5")])
    sink.down = False
    await buf.flush(5)
    assert sink.lines() == [f"r{i}{x}".encode() for i in range(5) for x in "ab"] + [b"k0", b"r5"]
    assert all(lines <= 4 for _, _, lines in sink.taken)
    assert [k for k, _, _ in sink.taken] == ["raw", "raw", "raw", "keep", "raw"]
    stats = buf.stats()
    assert (stats.pending_lines, stats.delivered_lines, stats.sink_failing) == (0, 12, False)
    assert stats.last_error == ""
    await buf.close()


async def test_backlog_waits_while_the_sink_is_down_and_drains_when_it_returns(
    tmp_path: Path,
) -> None:
    sink = Sink()
    sink.down = True
    buf = DurableBuffer(tmp_path / "b.db", sink, backoff_initial=0.01, backoff_max=0.05)
    await buf.open()
    await buf.put([rec("raw", "a", "b")])
    await buf.put([rec("raw", "c")])
    with pytest.raises(BufferTimeout, match=r"3 line\(s\) in 2 batch.*connection refused"):
        await buf.flush(0.3)
    stats = buf.stats()
    assert stats.sink_failing and stats.pending_lines == 3 and sink.attempts >= 2
    assert "connection refused" in stats.last_error
    sink.down = False
    await buf.flush(5)
    assert sink.lines() == [b"a", b"b", b"c"]
    assert not buf.stats().sink_failing and buf.stats().last_error == ""
    await buf.close()


async def test_backlog_survives_a_restart_and_drains_after_it(tmp_path: Path) -> None:
    sink = Sink()
    sink.down = True
    buf = DurableBuffer(tmp_path / "b.db", sink, backoff_max=0.05)
    await buf.open()
    await buf.put([rec("raw", "a"), rec("keep", "b")])
    await buf.close()
    sink.down = False
    again = DurableBuffer(tmp_path / "b.db", sink)
    await again.open()
    assert again.stats().pending_lines == 2
    await again.flush(5)
    assert sink.lines() == [b"a", b"b"]
    await again.close()


async def test_refused_records_are_set_aside_and_the_rest_delivered(tmp_path: Path) -> None:
    sink = Sink()
    sink.poison = b"bad"
    buf = DurableBuffer(tmp_path / "b.db", sink)
    await buf.open()
    sink.down = True  # let three records queue up, so they go out as one batch
    await buf.put([rec("raw", "ok1")])
    await buf.put([rec("raw", "bad", "x")])
    await buf.put([rec("raw", "ok2")])
    sink.down = False
    await buf.flush(5)
    assert sink.lines() == [b"ok1", b"ok2"]
    assert buf.stats().rejected_lines == 2
    [(key, lines, error)] = await buf.run(buf.rejected)
    assert (key, lines) == ("raw", 2) and "field type conflict" in error
    await buf.close()


async def test_lines_the_sink_drops_as_expired_are_counted(tmp_path: Path) -> None:
    sink = Sink()
    sink.expire = 1
    buf = DurableBuffer(tmp_path / "b.db", sink)
    await buf.open()
    await buf.put([rec("raw", "old", "new")])
    await buf.flush(5)
    assert (buf.stats().expired_lines, buf.stats().delivered_lines) == (1, 1)
    await buf.close()


async def test_concurrent_transactions_commit_together_and_each_gets_its_answer(
    tmp_path: Path,
) -> None:
    sink = Sink()
    buf = DurableBuffer(tmp_path / "b.db", sink)
    await buf.open()
    await buf.run(lambda: buf.connection.execute("CREATE TABLE seen (id TEXT PRIMARY KEY)"))

    def build(i: int):
        def run(db):
            if i == 3:
                raise ValueError("bad record 3")
            if db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (str(i % 5),)).rowcount == 0:
                return None
            return [rec("raw", f"x{i}")]

        return run

    outcomes = await asyncio.gather(
        *(buf.transaction(build(i)) for i in range(8)), return_exceptions=True
    )
    assert outcomes[:3] == [True, True, True] and isinstance(outcomes[3], ValueError)
    assert outcomes[4:] == [True, False, False, False]  # 5, 6, 7 were seen as 0, 1, 2
    await buf.flush(5)
    assert sorted(sink.lines()) == [b"x0", b"x1", b"x2", b"x4"]
    await buf.close()


async def test_a_transaction_that_declines_queues_nothing(tmp_path: Path) -> None:
    sink = Sink()
    buf = DurableBuffer(tmp_path / "b.db", sink)
    await buf.open()
    await buf.run(lambda: buf.connection.execute("CREATE TABLE seen (id TEXT PRIMARY KEY)"))

    def build(db):
        if db.execute("INSERT OR IGNORE INTO seen VALUES ('b1')").rowcount == 0:
            return None
        return [rec("raw", "x")]

    assert await buf.transaction(build)
    assert not await buf.transaction(build)
    await buf.flush(5)
    assert sink.lines() == [b"x"]
    await buf.close()


async def test_exclusive_holds_the_drain_still(tmp_path: Path) -> None:
    sink = Sink()
    buf = DurableBuffer(tmp_path / "b.db", sink)
    await buf.open()
    await buf.put([rec("raw", "before")])
    async with buf.exclusive(5):
        assert sink.lines() == [b"before"]
        await buf.put([rec("raw", "during")])
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert sink.lines() == [b"before"]
    await buf.flush(5)
    assert sink.lines() == [b"before", b"during"]
    await buf.close()


_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from collector.store.influx.buffer import DurableBuffer, Record

    async def sink(key, body, lines):
        raise ConnectionError("down")

    async def main():
        buf = DurableBuffer(sys.argv[1], sink, backoff_max=60)
        await buf.open()
        for i in range(50):
            await buf.put([Record("raw", f"line{i}\\n".encode(), 1)])
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


async def test_acknowledged_records_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.returncode == -signal.SIGKILL and "acknowledged" in proc.stdout, proc.stderr
    sink = Sink()
    buf = DurableBuffer(path, sink)
    await buf.open()
    await buf.flush(5)
    assert sink.lines() == [f"line{i}".encode() for i in range(50)]
    await buf.close()


async def test_closing_and_opening_again_counts_the_backlog_once(tmp_path: Path) -> None:
    sink = Sink()
    sink.down = True
    buf = DurableBuffer(tmp_path / "b.db", sink, backoff_max=0.02)
    await buf.open()
    await buf.put([rec("raw", "a", "b")])
    await buf.close()
    await buf.open()
    assert buf.stats().pending_lines == 2
    sink.down = False
    await buf.flush(5)
    assert sink.lines() == [b"a", b"b"] and buf.stats().pending_lines == 0
    await buf.close()
