"""Runbooks: real local commands, a real sshd, a loopback webhook sink; config errors; limits."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from collector.domain.engine import Event, EventType
from collector.domain.model import Outage
from collector.notify.runbooks import (
    OUTPUT_LINES,
    RunbookConfigError,
    RunbookRunner,
    Status,
    check_files,
    parse_runbooks,
)
from tests.peers.net import free_port
from tests.peers.runbook_sink import runbook_sink  # noqa: F401
from tests.peers.sshd import sshd  # noqa: F401

T0 = 1_793_500_000_000  # 2026-11-01T10:26:40+08:00
NASTY = "acd-1; rm -rf / $(touch PWNED) `touch PWNED2` | tee x > y && echo '\"\\n"


def outage_event(component: str = "acd-1", reason: str = "refused") -> Event:
    outage = Outage("o-1", component, T0, None, detected_at=T0 + 20_000, reason=reason)
    return Event(EventType.OUTAGE_STARTED, T0 + 20_000, component, outage, "INC-20261101-1")


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def one(config: dict, base_dir: Path | None = None):
    config = {"name": "rb", "when": {"event": "outage_started"}, **config}
    return parse_runbooks([config], base_dir)[0]


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"


# ---------------------------------------------------------------------------- local commands


async def test_local_command_gets_the_event_as_variables_verbatim(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_INFLUX_TOKEN", "secret-token")
    dump = tmp_path / "env.json"
    code = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
    book = one({"run": [sys.executable, "-c", code, str(dump)]}, tmp_path)
    event = outage_event(NASTY)
    outcome = await RunbookRunner([book]).run(book, event, "acd")
    assert outcome.status is Status.OK, outcome
    assert outcome.exit_status == 0
    env = json.loads(dump.read_text())
    assert env["HOTLINE_EVENT"] == "outage_started"
    assert env["HOTLINE_COMPONENT"] == NASTY
    assert env["HOTLINE_SYSTEM"] == "acd"
    assert env["HOTLINE_INCIDENT"] == event.incident_id
    assert env["HOTLINE_REASON"] == "refused"
    assert env["HOTLINE_TS"] == "2026-11-01T10:27:00+08:00"
    assert env["HOTLINE_RUNBOOK"] == "rb"
    assert "HOTLINE_INFLUX_TOKEN" not in env  # the collector's environment stays out
    assert env["PATH"].startswith("/usr/local/sbin")
    assert not list(tmp_path.glob("PWNED*"))  # nothing was interpreted by a shell
    assert not list(Path.cwd().glob("PWNED*"))


async def test_failing_command_is_failed_with_its_exit_status_and_output(tmp_path):
    prog = script(tmp_path, "fail", "echo restarting ivr\necho 'no such unit' >&2\nexit 3\n")
    book = one({"run": [prog]})
    outcome = await RunbookRunner([book]).run(book, outage_event(), "acd")
    assert outcome.status is Status.FAILED
    assert outcome.exit_status == 3
    assert outcome.stdout == "restarting ivr\n"
    assert outcome.stderr == "no such unit\n"
    detail = outcome.timeline_detail()
    assert detail["runbook"] == "rb" and detail["action"] == "run"
    assert detail["status"] == "failed" and detail["exit_status"] == 3
    assert detail["duration_ms"] >= 0


async def test_output_keeps_only_the_first_lines(tmp_path):
    prog = script(tmp_path, "chatty", "seq 1 100000\n")
    book = one({"run": [prog]})
    outcome = await RunbookRunner([book]).run(book, outage_event(), None)
    assert outcome.status is Status.OK
    assert outcome.stdout.splitlines()[:OUTPUT_LINES] == [str(i) for i in range(1, 21)]
    assert outcome.stdout.endswith("…")


async def test_missing_program_is_failed_saying_why(tmp_path):
    book = one({"run": ["bin/nowhere"]}, tmp_path)
    outcome = await RunbookRunner([book]).run(book, outage_event(), None)
    assert outcome.status is Status.FAILED
    assert "cannot start" in outcome.error and str(tmp_path / "bin/nowhere") in outcome.error
    with pytest.raises(RunbookConfigError) as caught:
        check_files([book])
    assert caught.value.field == "runbooks[0].run[0]"


async def test_hanging_command_is_killed_at_its_timeout_with_its_children(tmp_path):
    pids = tmp_path / "pids"
    prog = script(tmp_path, "hang", f"sleep 300 &\necho $! > {pids}\nsleep 300\n")
    book = one({"run": [prog], "timeout": 1})
    started = time.monotonic()
    outcome = await RunbookRunner([book], kill_grace=2).run(book, outage_event(), None)
    assert outcome.status is Status.TIMEOUT
    assert 1.0 <= time.monotonic() - started < 30  # at its 1 s timeout, not the 300 s sleep
    assert outcome.exit_status == -15  # SIGTERM
    grandchild = int(pids.read_text())
    deadline = time.monotonic() + 2
    while not gone(grandchild) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert gone(grandchild)
    assert outcome.timeline_detail()["status"] == "timeout"


async def test_command_ignoring_sigterm_is_killed_after_the_grace(tmp_path):
    pids = tmp_path / "pids"
    body = f"trap '' TERM\nsleep 300 &\necho $! > {pids}\nsleep 300\n"
    book = one({"run": [script(tmp_path, "stubborn", body)], "timeout": 0.5})
    started = time.monotonic()
    outcome = await RunbookRunner([book], kill_grace=0.5).run(book, outage_event(), None)
    assert outcome.status is Status.TIMEOUT
    assert outcome.exit_status == -9
    assert time.monotonic() - started < 30  # killed, not the 300 s sleep
    assert gone(int(pids.read_text()))


async def test_processes_left_behind_are_terminated_when_the_command_exits(tmp_path):
    pids = tmp_path / "pids"
    body = f"sleep 300 > /dev/null 2>&1 &\necho $! > {pids}\nexit 0\n"
    book = one({"run": [script(tmp_path, "leaves", body)]})
    outcome = await RunbookRunner([book], kill_grace=1).run(book, outage_event(), None)
    assert outcome.status is Status.OK
    assert "left processes behind" in outcome.error
    assert gone(int(pids.read_text()))


async def test_closing_the_runner_stops_runs_in_flight_with_their_children(tmp_path):
    pids = tmp_path / "pids"
    prog = script(tmp_path, "hang", f"sleep 300 &\necho $! > {pids}\nsleep 300\n")
    book = one({"run": [prog], "timeout": 60})
    runner = RunbookRunner([book], kill_grace=1)
    [task] = runner.submit(outage_event())
    while not pids.exists() or not pids.read_text().strip():
        await asyncio.sleep(0.05)
    await runner.aclose(timeout=0.1)
    assert task.cancelled()
    assert gone(int(pids.read_text()))


# ---------------------------------------------------------------------------- limits


async def test_rate_limit_counts_starts_within_the_window(tmp_path):
    now = [1000.0]
    book = one({"run": ["true"], "max_runs": 2, "per": 60})
    runner = RunbookRunner([book], clock=lambda: now[0])
    first = await runner.run(book, outage_event(), None)
    now[0] += 10
    second = await runner.run(book, outage_event(), None)
    now[0] += 10
    third = await runner.run(book, outage_event(), None)
    assert [first.status, second.status, third.status] == [
        Status.OK,
        Status.OK,
        Status.SKIPPED_RATE_LIMITED,
    ]
    assert "2 run(s) within 60 s" in third.error
    now[0] += 41  # the first start is now more than 60 s ago
    assert (await runner.run(book, outage_event(), None)).status is Status.OK
    assert (await runner.run(book, outage_event(), None)).status is Status.SKIPPED_RATE_LIMITED


async def test_concurrency_cap_skips_runs_beyond_it(tmp_path):
    prog = script(tmp_path, "slow", "sleep 0.5\n")
    book = one({"run": [prog], "max_concurrent": 2, "max_runs": 100})
    runner = RunbookRunner([book], clock=lambda: 0.0)
    outcomes = await asyncio.gather(*(runner.run(book, outage_event(), None) for _ in range(3)))
    assert sorted(o.status.value for o in outcomes) == ["ok", "ok", "skipped_busy"]
    assert (await runner.run(book, outage_event(), None)).status is Status.OK  # freed again


async def test_submit_does_not_block_and_reports_each_outcome(tmp_path):
    prog = script(tmp_path, "slow", "sleep 0.3\n")
    books = parse_runbooks(
        [
            {
                "name": "acd-fix",
                "when": {"event": "outage_started", "systems": ["acd"]},
                "run": [prog],
            },
            {
                "name": "ivr-fix",
                "when": {"event": "outage_started", "systems": ["ivr"]},
                "run": [prog],
            },
            {"name": "any-fix", "when": {"event": "outage_started"}, "run": ["false"]},
        ]
    )
    seen = []

    async def record(outcome):
        seen.append(outcome)

    runner = RunbookRunner(books, system_of={"acd-1": "acd"}.get, on_outcome=record)
    tasks = runner.submit(outage_event())
    assert not any(t.done() for t in tasks)  # submit returns before the runs end
    assert len(tasks) == 2
    outcomes = await asyncio.gather(*tasks)
    assert {o.runbook: o.status.value for o in outcomes} == {"acd-fix": "ok", "any-fix": "failed"}
    assert sorted(o.runbook for o in seen) == ["acd-fix", "any-fix"]
    assert all(o.incident_id == "INC-20261101-1" for o in seen)


def test_matches_filters_by_event_system_component_and_reason():
    books = parse_runbooks(
        [
            {
                "name": "a",
                "when": {"event": "outage_started", "components": ["acd-1"]},
                "run": ["true"],
            },
            {
                "name": "b",
                "when": {"event": "outage_started", "reasons": ["timeout"]},
                "run": ["true"],
            },
            {"name": "c", "when": {"event": "outage_ended"}, "run": ["true"]},
            {"name": "d", "when": {"event": "outage_started", "systems": ["ivr"]}, "run": ["true"]},
        ]
    )
    runner = RunbookRunner(books)
    system_of = {"acd-1": "acd", "ivr-2": "ivr"}.get
    assert [b.name for b in runner.matches(outage_event("acd-1"), system_of)] == ["a"]
    assert [b.name for b in runner.matches(outage_event("ivr-2", "timeout"), system_of)] == [
        "b",
        "d",
    ]
    restored = Event(EventType.INCIDENT_RESTORED, T0, incident_id="INC-1")
    assert runner.matches(restored, system_of) == []


# ---------------------------------------------------------------------------- dry run


async def test_dry_run_shows_what_would_run_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    book = one({"run": ["touch", str(marker)]})
    outcome = await RunbookRunner([book], dry_run=True).run(book, outage_event(NASTY), "acd")
    assert outcome.status is Status.DRY_RUN
    assert not marker.exists()
    assert outcome.plan["argv"] == ["touch", str(marker)]
    assert outcome.plan["env"]["HOTLINE_COMPONENT"] == NASTY
    hook = one({"webhook": {"url": "http://127.0.0.1:9/x", "headers": {"X-Token": "s3cret"}}})
    planned = (await RunbookRunner([hook], dry_run=True).run(hook, outage_event(), "acd")).plan
    assert planned["url"] == "http://127.0.0.1:9/x"
    assert planned["headers"] == ["X-Token"] and "s3cret" not in json.dumps(planned)
    assert planned["body"]["component"] == "acd-1"


# ---------------------------------------------------------------------------- webhook


async def test_webhook_posts_the_event_as_json(runbook_sink):  # noqa: F811
    book = one({"webhook": {"url": runbook_sink.url + "/hook", "headers": {"X-Token": "t1"}}})
    outcome = await RunbookRunner([book]).run(book, outage_event(NASTY), "acd")
    assert outcome.status is Status.OK, outcome
    assert outcome.http_status == 200
    [got] = runbook_sink.received
    assert got.path == "/hook" and got.headers["X-Token"] == "t1"
    assert got.body["event"] == "outage_started"
    assert got.body["component"] == NASTY
    assert got.body["system"] == "acd"
    assert got.body["incident"] == "INC-20261101-1"
    assert got.body["reason"] == "refused"
    assert got.body["ts"] == "2026-11-01T10:27:00+08:00"
    assert got.body["outage"]["start"] == "2026-11-01T10:26:40+08:00"
    assert outcome.timeline_detail()["action"] == "webhook"


async def test_webhook_error_status_timeout_and_refusal_are_outcomes(runbook_sink):  # noqa: F811
    fail = one({"webhook": {"url": runbook_sink.url + "/fail"}})
    outcome = await RunbookRunner([fail]).run(fail, outage_event(), None)
    assert (outcome.status, outcome.http_status, outcome.error) == (Status.FAILED, 500, "HTTP 500")
    slow = one({"webhook": {"url": runbook_sink.url + "/slow", "timeout": 0.5}})
    assert (await RunbookRunner([slow]).run(slow, outage_event(), None)).status is Status.TIMEOUT
    closed = one({"webhook": {"url": f"http://127.0.0.1:{free_port()}/"}})
    outcome = await RunbookRunner([closed]).run(closed, outage_event(), None)
    assert outcome.status is Status.FAILED and outcome.error


# ---------------------------------------------------------------------------- ssh


def ssh_book(sshd, command: str, **extra):  # noqa: F811
    action = {
        "host": sshd.host, "port": sshd.port, "user": sshd.user, "command": command,
        "known_hosts": sshd.known_hosts, "key": sshd.client_key, **extra,
    }  # fmt: skip
    return one({"ssh": action})


async def test_ssh_command_runs_with_the_event_on_stdin(sshd, tmp_path):  # noqa: F811
    got = tmp_path / "stdin.json"
    book = ssh_book(sshd, f"cat > {got}; echo restarted; exit 0")
    outcome = await RunbookRunner([book]).run(book, outage_event(NASTY), "acd")
    assert outcome.status is Status.OK, outcome
    assert outcome.exit_status == 0 and outcome.stdout == "restarted\n"
    document = json.loads(got.read_text())
    assert document["component"] == NASTY
    assert document["event"] == "outage_started" and document["system"] == "acd"
    assert document["incident"] == "INC-20261101-1" and document["reason"] == "refused"
    assert not list(tmp_path.glob("PWNED*"))


async def test_ssh_command_exit_status_is_reported(sshd):  # noqa: F811
    book = ssh_book(sshd, "echo nope >&2; exit 4")
    outcome = await RunbookRunner([book]).run(book, outage_event(), None)
    assert (outcome.status, outcome.exit_status, outcome.stderr) == (Status.FAILED, 4, "nope\n")


async def test_ssh_changed_host_key_is_refused(sshd):  # noqa: F811
    book = ssh_book(sshd, "true", known_hosts=sshd.wrong_known_hosts)
    outcome = await RunbookRunner([book]).run(book, outage_event(), None)
    assert outcome.status is Status.FAILED
    assert "host key" in outcome.error.lower()


async def test_ssh_command_is_stopped_at_its_timeout(sshd):  # noqa: F811
    book = replace(ssh_book(sshd, "sleep 30"), timeout=1.0)
    started = time.monotonic()
    outcome = await RunbookRunner([book]).run(book, outage_event(), None)
    assert outcome.status is Status.TIMEOUT
    assert time.monotonic() - started < 25  # stopped, not the remote 30 s sleep


# ---------------------------------------------------------------------------- config


def test_relative_paths_are_relative_to_the_config_directory(tmp_path):
    [run, ssh] = parse_runbooks(
        [
            {"name": "a", "when": {"event": "outage_started"}, "run": ["bin/fix", "--now"]},
            {"name": "b", "when": {"event": "incident_opened"}, "ssh": {
                "host": "127.0.0.1", "command": "true", "known_hosts": "keys/kh", "key": "keys/k",
            }},
        ],
        tmp_path,
    )  # fmt: skip
    assert run.action.argv == (str(tmp_path / "bin/fix"), "--now")
    assert run.action.cwd == str(tmp_path)
    assert ssh.action.known_hosts == str(tmp_path / "keys/kh")
    assert ssh.action.keys == (str(tmp_path / "keys/k"),)
    assert (run.timeout, run.max_concurrent, run.max_runs, run.per) == (30.0, 1, 10, 3600.0)


def test_systemctl_by_name_is_looked_up_on_the_safe_path(tmp_path):
    [book] = parse_runbooks(
        [{"name": "a", "when": {"event": "outage_started"}, "run": ["systemctl"]}], tmp_path
    )
    assert book.action.argv == ("systemctl",)


GOOD = {"name": "ok", "when": {"event": "outage_started"}, "run": ["true"]}
SSH = {"host": "h", "command": "true", "known_hosts": "kh", "key": "k"}


def rb(**changes):
    """One runbook: GOOD with `changes` (a None value removes the key)."""
    return [{k: v for k, v in {**GOOD, **changes}.items() if v is not None}]


def on(**when):
    return rb(when={"event": "outage_started", **when})


def ssh(**changes):
    return rb(run=None, ssh={k: v for k, v in {**SSH, **changes}.items() if v is not None})


def hook(**webhook):
    return rb(run=None, webhook=webhook)


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ("x", "runbooks", "list"),
        ([GOOD, *rb(when={"event": "x"})], "runbooks[1].when.event", "unknown event 'x' (one of"),
        (rb(when={}), "runbooks[0].when.event", "required"),
        (rb(when=None), "runbooks[0].when", "required"),
        (on(systems=["ivrr"]), "runbooks[0].when.systems[0]", "unknown system 'ivrr'"),
        (on(reasons=["down"]), "runbooks[0].when.reasons[0]", "unknown reason"),
        (on(sistems=["ivr"]), "runbooks[0].when.sistems", "unknown key"),
        ([GOOD, GOOD], "runbooks[1].name", "duplicate name 'ok'"),
        (rb(name=""), "runbooks[0].name", "non-empty"),
        (rb(run="/usr/sbin/restart-ivr --now"), "runbooks[0].run", "never a shell string"),
        (rb(run=["x", 3]), "runbooks[0].run[1]", "expected a string"),
        (rb(run=[]), "runbooks[0].run", "non-empty"),
        (rb(run=None), "runbooks[0]", "exactly one action"),
        (rb(webhook={"url": "http://x/"}), "runbooks[0]", "got run and webhook"),
        (rb(timeout=0), "runbooks[0].timeout", "> 0"),
        (rb(timeout="30s"), "runbooks[0].timeout", "number"),
        (rb(max_concurrent=0), "runbooks[0].max_concurrent", ">= 1"),
        (rb(max_runs=1.5), "runbooks[0].max_runs", "integer"),
        (rb(per=-1), "runbooks[0].per", "> 0"),
        (rb(retry=3), "runbooks[0].retry", "unknown key"),
        (ssh(known_hosts=None), "runbooks[0].ssh.known_hosts", "always verified"),
        (ssh(command=None), "runbooks[0].ssh.command", "required"),
        (ssh(command=["ls"]), "runbooks[0].ssh.command", "required"),
        (ssh(port=70000), "runbooks[0].ssh.port", "port"),
        (ssh(key=None), "runbooks[0].ssh.key", "needs a key"),
        (ssh(host_key_check=False), "runbooks[0].ssh.host_key_check", "unknown key"),
        (hook(url="ftp://x"), "runbooks[0].webhook.url", "http"),
        (hook(url="http://x", headers={"A": 1}), "runbooks[0].webhook.headers.A", "string"),
    ],
)
def test_config_errors_name_their_field(raw, field, words):
    with pytest.raises(RunbookConfigError) as caught:
        parse_runbooks(raw)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).startswith(field + ": ")


def test_no_runbooks_is_an_empty_list():
    assert parse_runbooks(None) == []
    assert parse_runbooks([]) == []


def test_unreadable_ssh_files_are_refused_at_start(tmp_path):
    [book] = parse_runbooks(
        [{"name": "n", "when": {"event": "outage_started"}, "ssh": SSH}], tmp_path
    )
    with pytest.raises(RunbookConfigError) as caught:
        check_files([book])
    assert caught.value.field == "runbooks[0].ssh.known_hosts"
    (tmp_path / "kh").write_text("")
    with pytest.raises(RunbookConfigError) as caught:
        check_files([book])
    assert caught.value.field == "runbooks[0].ssh.key"
    os.close(os.open(tmp_path / "k", os.O_CREAT | os.O_WRONLY))
    check_files([book])
