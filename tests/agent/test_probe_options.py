"""Probe options are checked when the config loads (start, --check, SIGHUP), not at run time,
and the files they name are found next to the config that names them."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent import service
from agent.config import AgentConfigError, Check, load_config
from agent.health import Health
from agent.schedule import Scheduler
from probes import ProbeResult, Reason
from tests.agent.conftest import ROOT, AgentProcess, TcpTarget, tcp_targets, wait_for, write_config
from tests.agent.receiver import Receiver

HEAD = """\
agent: a1
collector: {url: "https://collector.example:8443", token_file: agent.token}
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(AgentConfigError) as caught:
        load_config(path)
    return caught.value.errors


def test_check_process_exits_3_naming_a_misspelled_option_by_file_line_and_field(
    tmp_path: Path,
) -> None:
    config = _write(
        tmp_path / "agent.yaml",
        HEAD
        + """\
targets:
  - id: acd-1
    system: acd
    host: 127.0.0.1
    probes:
      - kind: http
        options:
          expct: RUNNING
""",
    )
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "agent", "--config", str(config), "--check"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done
    assert f"{config}:10: targets[0].probes[0].options.expct: unknown option 'expct'" in done.stderr
    assert "expect" in done.stderr  # the known options are listed


@pytest.mark.parametrize(
    ("probe", "field", "words"),
    [
        (
            "{kind: snmp, options: {oid: sysUpTime.0, change: not_decrease, community: x}}",
            "probes[0].options.change",
            "must be one of",
        ),
        (
            "{kind: ssh, options: {command: 'true', known_hosts: no/such/known_hosts}}",
            "probes[0].options.known_hosts",
            "is not a file",
        ),
        (
            "{kind: snmp, options: {oid: sysName.0, community_file: missing.community}}",
            "probes[0].options.community_file",
            "cannot read",
        ),
        ("{kind: http, options: {ca_file: nope.pem}}", "probes[0].options.ca_file", "nope.pem"),
        ("{kind: sip, options: {t1: soon}}", "probes[0].options.t1", "must be a number"),
        ("{kind: snmp, options: {community: x}}", "probes[0].options.oid", "is required"),
        ("{kind: tcp, target: '{host}:0'}", "probes[0].target", "port '0'"),
    ],
)
def test_a_bad_probe_option_or_target_fails_the_load_naming_its_field(
    tmp_path: Path, probe: str, field: str, words: str
) -> None:
    config = _write(
        tmp_path / "agent.yaml",
        HEAD + "targets:\n  - id: a\n    system: acd\n    host: 127.0.0.1\n"
        f"    probes: [{probe}]\n",
    )
    errors = _errors(config)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{config}:7: targets[0].{field}"), errors
    assert words in errors[0], errors


def test_an_unset_secret_variable_is_named_without_any_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTLINE_TEST_COMMUNITY", raising=False)
    config = _write(
        tmp_path / "agent.yaml",
        HEAD
        + "targets:\n  - id: a\n    system: acd\n    host: h\n    probes:\n"
        + "      - {kind: snmp, options: {oid: sysName.0, "
        + "community_env: HOTLINE_TEST_COMMUNITY}}\n",
    )
    (error,) = _errors(config)
    assert "targets[0].probes[0].options.community_env" in error
    assert "HOTLINE_TEST_COMMUNITY is not set" in error
    monkeypatch.setenv("HOTLINE_TEST_COMMUNITY", "s3cret-value")
    load_config(config)
    monkeypatch.setenv("HOTLINE_TEST_COMMUNITY", "")
    assert all("s3cret" not in e for e in _errors(config))


def test_relative_secret_files_are_found_next_to_the_file_that_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    _write(etc / "snmp.community", "public\n")
    _write(etc / "seats" / "known_hosts", "")
    _write(etc / "seats" / "floor.csv", "id,host\nS1,10.0.0.1\n")
    _write(
        etc / "seats" / "floor.yaml",
        """\
seat_lists:
  - csv: floor.csv
    probes: [{kind: ssh, target: "ops@{host}", options: {known_hosts: known_hosts}}]
""",
    )
    config = _write(
        etc / "agent.yaml",
        HEAD
        + """\
include: [seats/*.yaml]
targets:
  - id: acd-1
    system: acd
    host: 10.0.0.5
    probes: [{kind: snmp, options: {oid: sysUpTime.0, community_file: snmp.community}}]
""",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # systemd sets no working directory
    checks = {c.key: c for c in load_config(config).checks}
    assert checks[("acd-1", "snmp")].options["community_file"] == str(etc / "snmp.community")
    assert checks[("S1", "ssh")].options["known_hosts"] == str(etc / "seats" / "known_hosts")


def test_a_seat_lists_bad_option_is_reported_once_not_per_row(tmp_path: Path) -> None:
    rows = "\n".join(f"S{n},10.0.0.{n}" for n in range(1, 50))
    _write(tmp_path / "floor.csv", f"id,host\n{rows}\n")
    config = _write(
        tmp_path / "agent.yaml",
        HEAD + "seat_lists:\n  - csv: floor.csv\n    probes: [{kind: sip, options: {t1: x}}]\n",
    )
    errors = _errors(config)
    assert len(errors) == 1 and "probes[0].options.t1" in errors[0], errors


def test_sighup_with_a_bad_option_keeps_the_running_config_and_says_why(
    tmp_path: Path,
    tcp_target: TcpTarget,
    receiver: Receiver,
    agent_process: Callable[[Path], AgentProcess],
) -> None:
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port)))
    agent = agent_process(config)
    wait_for(lambda: receiver.samples("acd-1") >= 1, 10, "acd-1 results")
    bad = tcp_targets(("seat-1", tcp_target.port)).replace(
        'target: "{host}:', 'options: {expct: hello}, target: "{host}:'
    )
    write_config(tmp_path, receiver.url, bad)
    agent.signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in agent.output(), 10, "reload error logged")
    assert "options.expct: unknown option 'expct'" in agent.output()
    before = receiver.samples("acd-1")
    wait_for(lambda: receiver.samples("acd-1") > before + 1, 10, "the old config still runs")
    assert receiver.samples("seat-1") == 0
    assert agent.proc is not None and agent.proc.poll() is None


async def test_a_config_error_at_run_time_is_still_sent_and_logged_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = [Reason.CONFIG_ERROR, Reason.CONFIG_ERROR, Reason.OK, Reason.CONFIG_ERROR]

    async def probe(kind: str, target: str, options: Any, timeout: float) -> ProbeResult:
        reason = answers.pop(0)
        detail = "option 'community_file': cannot read /etc/x: gone" if reason != "ok" else ""
        return ProbeResult(reason, detail)

    async def nowhere(_: list[dict[str, Any]]) -> None:
        return None

    check = Check("acd-1", "acd", "snmp", "snmp", "h", {}, 30.0, 5.0, 0.0)
    scheduler = Scheduler(nowhere, Health(), {}, 1.0, probe)
    scheduler.apply([check])
    with caplog.at_level(logging.INFO, logger="agent.schedule"):
        records = [await scheduler.run_check(check) for _ in range(4)]
    assert [r["reason"] for r in records] == ["config_error", "config_error", "ok", "config_error"]
    logged = [r.getMessage() for r in caplog.records if "acd-1/snmp" in r.getMessage()]
    assert len(logged) == 3, logged  # into config_error, out of it, into it again
    assert "cannot read /etc/x" in logged[0] and "no longer" in logged[1]


async def test_the_agent_prepares_probe_kinds_before_their_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from probes import snmp

    seen: list[bool] = []

    async def probe(kind: str, target: str, options: Any, timeout: float) -> ProbeResult:
        state = snmp._ENGINES.get(asyncio.get_running_loop())
        seen.append(state is not None and state.prepared)
        return ProbeResult(Reason.OK, "fine")

    monkeypatch.setattr(service, "_run_probe", lambda: probe)
    monkeypatch.setenv("HOTLINE_TEST_TOKEN", "t")
    _write(tmp_path / "c", "public\n")
    targets = (
        "  - {id: acd-1, system: acd, host: 127.0.0.1, probes: "
        "[{kind: snmp, options: {oid: sysName.0, community_file: c}}]}\n"
    )
    config = write_config(tmp_path, "http://127.0.0.1:9", targets, interval=0.1)
    assert await service.run_once(load_config(config)) and seen == [True]

    seen.clear()
    snmp._ENGINES.pop(asyncio.get_running_loop(), None)  # as if the process had just started
    agent = service.Agent(str(config), load_config(config))
    task = asyncio.create_task(agent.run())
    for _ in range(250):
        if seen or task.done():
            break
        await asyncio.sleep(0.02)
    agent.stop()
    await asyncio.wait_for(task, 15)
    assert seen and seen[0] is True
