from __future__ import annotations

import asyncio
import logging

import pytest

from probes import Reason, run_probe


def login(sshd, **extra):
    return {"known_hosts": sshd.known_hosts, "key": sshd.client_key, **extra}


async def test_ssh_command_exit_0_is_ok(sshd):
    result = await run_probe("ssh", sshd.target, login(sshd, command="true"))
    assert result.ok, result
    assert result.value == 0


async def test_ssh_login_only_without_command_is_ok(sshd):
    result = await run_probe("ssh", sshd.target, login(sshd))
    assert result.ok, result


async def test_ssh_command_exit_1_is_check_failed(sshd):
    result = await run_probe("ssh", sshd.target, login(sshd, command="echo broken; exit 1"))
    assert result.reason is Reason.CHECK_FAILED
    assert result.value == 1
    assert "broken" in result.detail


async def test_ssh_expected_nonzero_status_is_ok(sshd):
    result = await run_probe("ssh", sshd.target, login(sshd, command="exit 3", status="3"))
    assert result.ok, result


async def test_ssh_output_regex_decides(sshd):
    options = login(sshd, command="echo acd-queue RUNNING", expect=r"\bRUNNING\b")
    assert (await run_probe("ssh", sshd.target, options)).ok
    options = login(sshd, command="echo acd-queue STOPPED", expect=r"\bRUNNING\b")
    result = await run_probe("ssh", sshd.target, options)
    assert result.reason is Reason.CHECK_FAILED
    assert "STOPPED" in result.detail


async def test_ssh_changed_host_key_is_host_key_mismatch(sshd):
    options = {"known_hosts": sshd.wrong_known_hosts, "key": sshd.client_key, "command": "true"}
    result = await run_probe("ssh", sshd.target, options)
    assert result.reason is Reason.HOST_KEY_MISMATCH


async def test_ssh_unknown_host_is_host_key_mismatch(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    options = {"known_hosts": str(empty), "key": sshd.client_key}
    result = await run_probe("ssh", sshd.target, options)
    assert result.reason is Reason.HOST_KEY_MISMATCH


async def test_ssh_host_key_check_off_works_and_warns_every_time(sshd, caplog):
    options = {"host_key_check": "false", "key": sshd.client_key}
    with caplog.at_level(logging.WARNING, logger="probes.ssh"):
        first = await run_probe("ssh", sshd.target, options)
        second = await run_probe("ssh", sshd.target, options)
    assert first.ok and second.ok
    warnings = [r for r in caplog.records if "NOT verified" in r.getMessage()]
    assert len(warnings) == 2


async def test_ssh_unauthorized_key_is_auth_failed(sshd):
    options = {"known_hosts": sshd.known_hosts, "key": sshd.other_key, "command": "true"}
    result = await run_probe("ssh", sshd.target, options)
    assert result.reason is Reason.AUTH_FAILED


async def test_ssh_closed_port_is_refused(sshd, closed_port):
    result = await run_probe("ssh", f"{sshd.user}@127.0.0.1:{closed_port}", login(sshd))
    assert result.reason is Reason.REFUSED


async def test_ssh_peer_that_never_speaks_is_timeout(sshd, silent_tcp):
    target = f"{sshd.user}@127.0.0.1:{silent_tcp.port}"
    result = await run_probe("ssh", target, login(sshd), timeout=0.5)
    assert result.reason is Reason.TIMEOUT


async def test_ssh_command_slower_than_timeout_is_timeout(sshd):
    result = await run_probe("ssh", sshd.target, login(sshd, command="sleep 5"), timeout=0.5)
    assert result.reason is Reason.TIMEOUT


async def test_ssh_connection_is_reused_between_checks(sshd):
    from probes import ssh

    options = login(sshd, command="echo $PPID")
    first = await run_probe("ssh", sshd.target, options)
    second = await run_probe("ssh", sshd.target, options)
    assert first.ok and second.ok
    pool = ssh._pool()
    assert len([c for c in pool.connections.values() if not c.is_closed()]) == 1


async def test_ssh_reconnects_when_the_kept_connection_died(sshd):
    from probes import ssh

    options = login(sshd, command="true")
    assert (await run_probe("ssh", sshd.target, options)).ok
    for conn in ssh._pool().connections.values():
        conn.abort()
    await asyncio.sleep(0)  # let the abort land
    result = await run_probe("ssh", sshd.target, options)
    assert result.ok, result


async def test_ssh_many_concurrent_checks_of_one_host_share_a_login(sshd):
    from probes import ssh

    options = login(sshd, command="true")
    results = await asyncio.gather(*(run_probe("ssh", sshd.target, options) for _ in range(8)))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert len(ssh._pool().connections) == 1


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"known_hosts": "/nonexistent"}, "known_hosts"),
        ({"key": "/nonexistent"}, "key"),
        ({"status": "zero", "command": "true"}, "status"),
        ({"expect": "(", "command": "true"}, "expect"),
        ({"expect": "x"}, "command"),
        ({"host_key_check": "maybe"}, "host_key_check"),
    ],
)
async def test_ssh_bad_option_is_config_error_naming_it(sshd, options, named):
    result = await run_probe("ssh", sshd.target, {"known_hosts": sshd.known_hosts, **options})
    assert result.reason is Reason.CONFIG_ERROR
    assert named in result.detail
