"""`hotline agent` as a real process: kill -9 and replay, SIGHUP, SIGTERM, --once."""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from hotline.cli import main
from tests.agent.conftest import (
    TOKEN,
    AgentProcess,
    TcpTarget,
    tcp_targets,
    wait_for,
    write_config,
)
from tests.agent.receiver import Receiver

StartAgent = Callable[[Path], AgentProcess]


def _spooled(db: Path) -> list[dict]:
    """What the spool holds right now, read by another process (the test)."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [json.loads(b) for (b,) in con.execute("SELECT body FROM results ORDER BY id")]
    except sqlite3.OperationalError:  # schema not created yet
        return []
    finally:
        con.close()


def _keys(results: list[dict]) -> set[tuple[str, str, str]]:
    return {(r["component"], r["probe"], r["ts"]) for r in results}


def test_kill_9_while_the_collector_is_away_loses_nothing_spooled(
    tmp_path: Path, tcp_target: TcpTarget, agent_process: StartAgent
) -> None:
    receiver = Receiver(token=TOKEN)  # not started: the collector is away
    flapping = TcpTarget().open()
    config = write_config(
        tmp_path,
        receiver.url,
        tcp_targets(("acd-1", tcp_target.port), ("ivr-1", flapping.port)),
        interval=0.1,
    )
    db = tmp_path / "spool.db"
    agent = agent_process(config)
    wait_for(lambda: len(_spooled(db)) >= 2, 10, "results spooled")
    flapping.close()
    wait_for(lambda: any(not r["ok"] for r in _spooled(db)), 5, "a failure spooled")
    flapping.open()
    wait_for(lambda: [r["ok"] for r in _spooled(db) if r["component"] == "ivr-1"][-1], 5, "up")
    before = _spooled(db)
    agent.kill9()
    flapping.close()

    receiver.start()
    try:
        agent_process(config)
        wait_for(lambda: _keys(before) <= _keys(receiver.unique_results()), 15, "replay")
    finally:
        receiver.stop()
    got = [
        r
        for r in receiver.unique_results()
        if (r["component"], r["probe"], r["ts"]) in _keys(before)
    ]
    assert [(r["component"], r["ts"]) for r in got] == [(r["component"], r["ts"]) for r in before]
    assert len(_keys(receiver.unique_results())) == len(receiver.unique_results())  # once


def test_kill_9_while_a_batch_is_in_flight_resends_it_with_the_same_id(
    tmp_path: Path, tcp_target: TcpTarget, receiver: Receiver, agent_process: StartAgent
) -> None:
    receiver.delay = 1.0  # the collector stores, then answers late: the agent dies waiting
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port)))
    agent = agent_process(config)
    wait_for(lambda: len(receiver.batches) >= 1, 10, "a batch stored")
    in_flight = receiver.batches[-1]["batch"]
    agent.kill9()
    receiver.delay = 0.0
    agent_process(config)
    wait_for(lambda: [b["batch"] for b in receiver.batches].count(in_flight) >= 2, 10, "resent")
    resent = [b for b in receiver.batches if b["batch"] == in_flight]
    assert resent[0]["results"] == resent[1]["results"]
    results = receiver.unique_results()
    assert len(_keys(results)) == len(results)  # after dedup by batch id: each result once


def test_sighup_adds_and_removes_targets_keeping_the_rest(
    tmp_path: Path, tcp_target: TcpTarget, receiver: Receiver, agent_process: StartAgent
) -> None:
    config = write_config(
        tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port), ("ivr-1", tcp_target.port))
    )
    agent = agent_process(config)
    wait_for(lambda: receiver.samples("ivr-1") >= 2, 10, "ivr-1 results")
    write_config(
        tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port), ("seat-1", tcp_target.port))
    )
    agent.signal(signal.SIGHUP)
    wait_for(lambda: receiver.samples("seat-1") >= 1, 10, "seat-1 after reload")
    ivr_after = receiver.samples("ivr-1")
    acd_after = receiver.samples("acd-1")
    wait_for(lambda: receiver.samples("seat-1") >= 6, 10, "more seat-1 results")
    assert receiver.samples("ivr-1") <= ivr_after + 1  # at most one run already under way
    assert receiver.samples("acd-1") > acd_after  # the kept target kept running
    assert "1 checks added, 1 removed" in agent.output()
    assert agent.proc is not None and agent.proc.poll() is None

    (tmp_path / "agent.yaml").write_text("agent: [broken\n", encoding="utf-8")
    agent.signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in agent.output(), 10, "reload error logged")
    seat = receiver.samples("seat-1")
    wait_for(lambda: receiver.samples("seat-1") > seat, 10, "still running the old config")


def test_sigterm_flushes_the_spool_and_exits_0(
    tmp_path: Path, tcp_target: TcpTarget, receiver: Receiver, agent_process: StartAgent
) -> None:
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port)))
    text = config.read_text().replace("batch_age: 0.1", "batch_age: 600")  # hold results back
    config.write_text(text)
    agent = agent_process(config)
    db = tmp_path / "spool.db"
    wait_for(lambda: len(_spooled(db)) >= 1, 10, "results spooled")
    assert not receiver.batches
    agent.signal(signal.SIGTERM)
    assert agent.wait(15) == 0
    assert receiver.samples("acd-1") >= 1
    assert _spooled(db) == []


def test_once_prints_one_json_line_per_check_and_exits_2_on_a_failure(
    tmp_path: Path, tcp_target: TcpTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = TcpTarget()  # never opened: refused
    config = write_config(
        tmp_path,
        "http://127.0.0.1:9",
        tcp_targets(("acd-1", tcp_target.port), ("ivr-1", closed.port)),
    )
    assert main(["agent", "--config", str(config), "--once"]) == 2
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["component"], r["ok"], r["reason"]) for r in lines] == [
        ("acd-1", True, "ok"),
        ("ivr-1", False, "refused"),
    ]
    assert not (tmp_path / "spool.db").exists()  # --once neither spools nor ships


def test_an_unusable_spool_path_exits_1_naming_it(
    tmp_path: Path,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTLINE_TEST_TOKEN", TOKEN)
    (tmp_path / "not-a-dir").write_text("")
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", 9)))
    config.write_text(config.read_text().replace("path: spool.db", "path: not-a-dir/spool.db"))
    assert main(["agent", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "cannot open the spool" in err and "not-a-dir/spool.db" in err


def test_a_missing_token_is_a_config_error(
    tmp_path: Path,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOTLINE_TEST_TOKEN", raising=False)
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", 9)))
    assert main(["agent", "--config", str(config)]) == 3
    assert "HOTLINE_TEST_TOKEN is not set" in capsys.readouterr().err
