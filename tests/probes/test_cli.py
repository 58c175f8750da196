"""`hotline probe` as outside checks use it: a subprocess, one JSON object, Nagios exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.peers.kamailio import PASSWORD as SIP_PASSWORD
from tests.peers.kamailio import USERNAME as SIP_USER
from tests.peers.snmpd import COMMUNITY, V3_AUTH_KEY, V3_PRIV_KEY, V3_USER


def hotline_probe(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "hotline", "probe", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) <= 1, proc.stdout
    return proc.returncode, json.loads(lines[0]) if lines else {}, proc.stderr


def test_cli_sip_ok_exits_0_with_json(kamailio):
    code, out, _ = hotline_probe("sip", f"sip:127.0.0.1:{kamailio.port}")
    assert code == 0
    assert out["ok"] is True and out["reason"] == "ok" and out["status"] == 200
    assert isinstance(out["latency_ms"], float)
    assert out["detail"]


def test_cli_sip_tcp_503_exits_2(kamailio):
    code, out, _ = hotline_probe("sip", f"sip:busy@127.0.0.1:{kamailio.port};transport=tcp")
    assert code == 2
    assert out == {**out, "ok": False, "reason": "error_response", "status": 503}


def test_cli_sip_password_from_env_never_printed(kamailio):
    code, out, err = hotline_probe(
        "sip",
        f"sip:secure@127.0.0.1:{kamailio.port}",
        "--opt",
        f"username={SIP_USER}",
        "--opt",
        "password_env=HOTLINE_TEST_SIP_PASSWORD",
        env={"HOTLINE_TEST_SIP_PASSWORD": SIP_PASSWORD},
    )
    assert code == 0, out
    assert SIP_PASSWORD not in json.dumps(out) + err


def test_cli_snmp_v2c_value(snmpd):
    code, out, _ = hotline_probe(
        "snmp", snmpd.target, "--opt", "oid=sysName.0", "--opt", f"community={COMMUNITY}"
    )
    assert code == 0
    assert out["value"] == "hotline-test-acd"


def test_cli_snmp_v3_wrong_key_exits_2_without_leaking_it(snmpd):
    args = ["--opt", "oid=sysName.0", "--opt", f"user={V3_USER}"]
    args += ["--opt", "auth_key=leaky-wrong-key", "--opt", f"priv_key={V3_PRIV_KEY}"]
    code, out, err = hotline_probe("snmp", snmpd.target, *args, "--timeout", "2")
    assert code == 2
    assert out["reason"] == "auth_failed"
    assert "leaky-wrong-key" not in json.dumps(out) + err
    assert V3_AUTH_KEY not in json.dumps(out)


def test_cli_ssh_command_exit_1_exits_2(sshd):
    code, out, _ = hotline_probe(
        "ssh",
        sshd.target,
        "--opt",
        "command=exit 1",
        "--opt",
        f"known_hosts={sshd.known_hosts}",
        "--opt",
        f"key={sshd.client_key}",
    )
    assert code == 2
    assert out["reason"] == "check_failed" and out["value"] == 1


def test_cli_http_404_exits_2(http_server):
    code, out, _ = hotline_probe("http", http_server.url + "/missing")
    assert code == 2
    assert out["reason"] == "error_response" and out["status"] == 404


def test_cli_tcp_refused_exits_2(closed_port):
    code, out, _ = hotline_probe("tcp", f"127.0.0.1:{closed_port}")
    assert code == 2
    assert out["reason"] == "refused"
    assert out["latency_ms"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["gopher", "127.0.0.1:70"],
        ["tcp", "127.0.0.1"],
        ["tcp", "127.0.0.1:1", "--opt", "novalue"],
        ["tcp", "127.0.0.1:1", "--opt", "nosuch=1"],
        ["snmp", "127.0.0.1:1", "--opt", "oid=sysName.0"],
        ["tcp", "127.0.0.1:1", "--timeout", "0"],
    ],
)
def test_cli_config_errors_exit_3_with_json(args):
    code, out, _ = hotline_probe(*args)
    assert code == 3
    assert out["ok"] is False and out["reason"] == "config_error" and out["detail"]


def test_cli_usage_error_exits_3():
    code, out, _ = hotline_probe("tcp")
    assert code == 3
    assert out == {}
