"""Faults with a real influxd: stopped, hung, and the writer killed with a backlog."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.domain.model import Sample
from collector.store import StoreError
from collector.store.influx.store import InfluxStore
from tests.peers.influxd import Influxd, influxd_factory  # noqa: F401

T0 = 1_792_999_980_000
ROOT = Path(__file__).resolve().parents[2]


def batch(i: int, n: int = 100) -> list[Sample]:
    return [
        Sample(
            "a1",
            f"seat-{k % 7}",
            "seat",
            "sip",
            T0 + i * 1000 + k,
            k % 5 != 0,
            "ok" if k % 5 else "timeout",
            "" if k % 5 else f"no answer, batch {i}",
            latency_ms=float(k) if k % 5 else None,
        )
        for k in range(n)
    ]


def make_store(server: Influxd, tmp_path: Path, **kw: object) -> InfluxStore:
    url = server.store_url("faults", rp_raw_days="0", rp_keep_days="0", timeout="1")
    return InfluxStore.from_url(url, state_dir=tmp_path, backoff_max=0.1, **kw)


async def test_results_flowing_while_influxd_stops_and_starts_are_all_stored_once(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = influxd_factory()
    store = make_store(server, tmp_path)
    await store.open()
    sent: list[Sample] = []
    backlog_while_down = []
    for i in range(30):
        if i == 10:
            await asyncio.to_thread(server.stop)
        if i == 20:
            assert not await store.ping()
            await asyncio.to_thread(server.start)
        samples = batch(i)
        assert await store.append_samples("a1", f"b{i}", samples)  # 202 all along
        sent += samples
        if i:  # the agent re-sends the previous batch: acknowledged, stored once
            assert not await store.append_samples("a1", f"b{i - 1}", batch(i - 1))
        if 10 <= i < 20:
            backlog_while_down.append((await store.queue_depths())["influx_buffer"])
    assert backlog_while_down[-1] >= 1000 and backlog_while_down == sorted(backlog_while_down)
    got = await store.read_samples(T0, T0 + 10**6)
    assert got == sorted(sent, key=lambda s: (s.ts, s.component, s.probe))
    depths = await store.queue_depths()
    assert depths["influx_buffer"] == depths["influx_rejected_lines"] == 0
    assert depths["influx_failing"] == 0
    await store.close()


async def test_a_hung_influxd_delays_nothing_but_reads(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = influxd_factory()
    store = make_store(server, tmp_path, read_timeout=0.5)
    await store.open()
    server.pause()  # accepts connections, never answers
    try:
        for i in range(3):
            assert await store.append_samples("a1", f"b{i}", batch(i, 10))
        with pytest.raises(StoreError, match="not reachable"):
            await store.read_samples(T0, T0 + 10**6)
        assert store.buffer_stats().pending_lines >= 30
    finally:
        server.resume()
    got = await store.read_samples(T0, T0 + 10**6)
    assert len(got) == 30
    await store.close()


_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from collector.domain.model import Sample
    from collector.store.influx.store import InfluxStore

    async def main():
        store = InfluxStore.from_url(sys.argv[1], state_dir=sys.argv[2])
        await store.open()
        for i in range(20):
            samples = [Sample("a1", "ivr-1", "ivr", "sip", int(sys.argv[3]) + i * 10 + k, True,
                              "ok") for k in range(10)]
            assert await store.append_samples("a1", f"b{i}", samples)
        print("acknowledged", store.buffer_stats().pending_lines, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


async def test_backlog_of_a_killed_writer_drains_after_restart(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = influxd_factory()
    url = server.store_url("faults", rp_raw_days="0", rp_keep_days="0", timeout="1")
    server.stop()  # InfluxDB is down while the writer acknowledges 200 results
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, url, str(tmp_path), str(T0)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.split() == ["acknowledged", "201"]  # 200 samples + 1 component
    server.start()
    store = InfluxStore.from_url(url, state_dir=tmp_path)
    await store.open()
    got = await store.read_samples(T0, T0 + 10**6)
    assert [s.ts for s in got] == [T0 + n for n in range(200)]
    assert [c.id for c in await store.components()] == ["ivr-1"]
    await store.close()
