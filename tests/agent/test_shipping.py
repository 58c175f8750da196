"""The agent in-process against the recording collector: order, exactly once, errors."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest

from agent import Agent, load_config
from tests.agent.conftest import TOKEN, TcpTarget, tcp_targets, write_config
from tests.agent.receiver import Receiver


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.02)


async def _more_runs(agent: Agent, n: int) -> None:
    start = agent.health.runs
    await _until(lambda: agent.health.runs >= start + n, 5, f"{n} more runs")


@asynccontextmanager
async def _running(config_path: Path) -> AsyncIterator[Agent]:
    agent = Agent(str(config_path), load_config(config_path))
    task = asyncio.create_task(agent.run())
    await _until(lambda: agent.shipper is not None or task.done(), 5, "agent start")
    try:
        yield agent
    finally:
        agent.stop()
        assert await asyncio.wait_for(task, 15) == 0


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_TEST_TOKEN", TOKEN)


def _assert_in_order_and_once(receiver: Receiver) -> None:
    seen: set[tuple[str, str, str]] = set()
    last: dict[tuple[str, str], str] = {}
    for result in receiver.unique_results():
        key = (result["component"], result["probe"])
        assert (*key, result["ts"]) not in seen, f"stored twice: {result}"
        seen.add((*key, result["ts"]))
        assert last.get(key, "") < result["ts"], f"out of order: {result}"
        last[key] = result.get("until", result["ts"])


async def test_results_arrive_in_order_and_exactly_once_after_the_collector_was_away(
    tmp_path: Path, receiver: Receiver, tcp_target: TcpTarget
) -> None:
    flapping = TcpTarget().open()
    config = write_config(
        tmp_path,
        receiver.url,
        tcp_targets(("acd-1", tcp_target.port), ("ivr-1", flapping.port)),
        interval=0.1,
    )
    async with _running(config) as agent:
        await _until(lambda: receiver.samples() >= 6, 5, "first results")
        receiver.stop()
        for _ in range(3):  # state changes while the collector is away
            flapping.close()
            await _more_runs(agent, 6)
            flapping.open()
            await _more_runs(agent, 6)
        assert agent.spool.stats().pending > 0
        receiver.start()
        await _until(lambda: agent.spool.stats().pending == 0, 10, "spool drained")
        agent.stop()
        await _until(lambda: agent.spool._db is None, 10, "agent stopped")
        runs = agent.health.runs
    flapping.close()
    _assert_in_order_and_once(receiver)
    assert receiver.samples() == runs  # every run stored once, coalesced runs counted
    ivr = [r for r in receiver.unique_results() if r["component"] == "ivr-1"]
    changes = sum(1 for a, b in itertools.pairwise(ivr) if a["ok"] != b["ok"])
    assert changes >= 6
    assert any(r.get("count", 1) > 1 for r in receiver.unique_results())  # coalesced


async def test_rejected_results_are_logged_dropped_and_counted(
    tmp_path: Path, receiver: Receiver, tcp_target: TcpTarget, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.reject = lambda r: "unknown component" if r["component"] == "ghost" else None
    config = write_config(
        tmp_path,
        receiver.url,
        tcp_targets(("acd-1", tcp_target.port), ("ghost", tcp_target.port)),
    )
    async with _running(config) as agent:
        await _until(lambda: agent.health.rejected >= 2, 5, "rejections")
        await _until(
            lambda: any(h["health"]["rejected"] >= 2 for h in receiver.heartbeats), 5, "heartbeat"
        )
    assert agent.spool.stats().pending == 0
    assert "rejected result" in caplog.text and "ghost/tcp" in caplog.text


async def test_a_refused_token_keeps_results_and_backs_off_until_fixed(
    tmp_path: Path, receiver: Receiver, tcp_target: TcpTarget, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.token = "another-token"
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port)))
    with caplog.at_level(logging.ERROR, logger="agent.shipper"):
        async with _running(config) as agent:
            await _until(lambda: len(receiver.refused) >= 3, 5, "refusals")
            await asyncio.sleep(1.0)
            # backoff 0.1 s doubling to 0.5 s: a handful of tries per second, not a spin
            assert len(receiver.refused) < 25
            assert agent.spool.stats().pending > 0 and not receiver.batches
            receiver.token = TOKEN
            await _until(lambda: receiver.samples() > 0, 5, "results after the fix")
    assert "refused batch" in caplog.text and "401" in caplog.text
    assert TOKEN not in caplog.text


async def test_a_batch_too_large_is_split_until_it_fits(
    tmp_path: Path, receiver: Receiver, tcp_target: TcpTarget
) -> None:
    receiver.stop()
    pairs = [(f"seat-{n}", tcp_target.port) for n in range(8)]
    config = write_config(tmp_path, receiver.url, tcp_targets(*pairs, system="seat"))
    async with _running(config) as agent:
        await _until(lambda: agent.spool.stats().pending >= 8, 5, "spooled")
        receiver.max_results = 2
        receiver.start()
        await _until(
            lambda: len({r["component"] for r in receiver.unique_results()}) == 8, 10, "all seats"
        )
    assert 413 in receiver.refused
    assert all(len(b["results"]) <= 2 for b in receiver.batches)
    _assert_in_order_and_once(receiver)


async def test_heartbeats_carry_clock_spool_health_and_host_metrics(
    tmp_path: Path, receiver: Receiver, tcp_target: TcpTarget
) -> None:
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port)))
    async with _running(config):
        await _until(lambda: len(receiver.heartbeats) >= 2, 5, "heartbeats")
    beat = receiver.heartbeats[0]
    assert beat["agent"] == "t1" and beat["interval"] == 0.5
    assert datetime.fromisoformat(beat["sent_at"]).utcoffset() is not None
    assert set(beat["spool"]) == {
        "pending",
        "bytes",
        "dropped",
        "dropped_changes",
        "held",
        "unwritten",
        "error",
    }
    assert beat["spool"]["error"] is None
    assert set(beat["health"]) == {"late_runs", "skipped_runs", "rejected"}
    assert set(beat["host"]) == {"cpu_percent", "mem_percent", "disk_percent", "load1"}
    assert any("host" not in b for b in receiver.heartbeats[1:])  # metrics at a slower pace


async def test_a_stalled_loop_counts_late_and_skipped_runs_and_reports_them(
    tmp_path: Path, receiver: Receiver, tcp_target: TcpTarget
) -> None:
    config = write_config(
        tmp_path,
        receiver.url,
        tcp_targets(("acd-1", tcp_target.port)),
        interval=0.5,
        extra="",
    )
    config.write_text(config.read_text().replace("timeout: 0.5}", "timeout: 0.5, late_after: 0.2}"))
    async with _running(config) as agent:
        await _more_runs(agent, 2)
        await _until(lambda: agent.scheduler.busy == 0, 5, "no run in flight")
        time.sleep(2.6)  # the loop is blocked: runs fall due and cannot start
        health = agent.health
        # later than the misfire grace (1 s): skipped, counted (reported when the job ends)
        await _until(lambda: health.skipped_runs >= 1, 5, "skipped runs counted")
        assert health.late_runs >= 1  # within the grace but late: ran, counted late
        assert max(health.lags) > 0.2
        await _until(
            lambda: any(
                h["health"]["skipped_runs"] >= 1 and h["health"]["late_runs"] >= 1
                for h in receiver.heartbeats
            ),
            5,
            "health in a heartbeat",
        )


async def test_tls_is_verified_by_default_and_a_ca_file_makes_it_trusted(
    tmp_path: Path, tcp_target: TcpTarget, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(token=TOKEN, tls_dir=tmp_path).start()
    try:
        targets = tcp_targets(("acd-1", tcp_target.port))
        untrusted = write_config(tmp_path, receiver.url, targets, name="untrusted.yaml")
        untrusted.write_text(
            untrusted.read_text().replace("flush_timeout: 5", "flush_timeout: 0.5")
        )
        async with _running(untrusted) as agent:
            await _until(lambda: "CERTIFICATE_VERIFY_FAILED" in caplog.text, 5, "TLS refusal")
            assert agent.spool.stats().pending > 0
        assert not receiver.batches and not receiver.heartbeats

        trusted = write_config(
            tmp_path,
            receiver.url,
            targets,
            name="trusted.yaml",
        )
        trusted.write_text(
            trusted.read_text().replace(
                "token_env: HOTLINE_TEST_TOKEN}",
                f"token_env: HOTLINE_TEST_TOKEN, ca_file: {receiver.ca_file}}}",
            )
        )
        async with _running(trusted):  # the same spool: what waited is sent now
            await _until(lambda: receiver.samples() >= 2, 5, "results over HTTPS")
        assert receiver.unique_results()[0]["ts"] < receiver.unique_results()[-1]["ts"]
    finally:
        receiver.stop()


async def test_a_full_spool_drops_the_oldest_and_the_heartbeat_reports_it(
    tmp_path: Path, tcp_target: TcpTarget, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(token=TOKEN)  # away at first
    pairs = [(f"seat-{n}", tcp_target.port) for n in range(12)]
    config = write_config(tmp_path, receiver.url, tcp_targets(*pairs, system="seat"))
    config.write_text(
        config.read_text().replace(
            "spool: {path: spool.db}", "spool: {path: spool.db, max_bytes: 2000}"
        )
    )
    try:
        async with _running(config) as agent:
            await _until(lambda: agent.spool.stats().dropped > 0, 5, "the cap reached")
            assert agent.spool.stats().bytes <= 2000
            receiver.start()
            await _until(
                lambda: any(h["spool"]["dropped"] > 0 for h in receiver.heartbeats),
                5,
                "dropped count in a heartbeat",
            )
    finally:
        receiver.stop()
    assert "over its cap" in caplog.text
