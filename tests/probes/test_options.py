"""Options arrive as strings from `--opt k=v` and as YAML scalars or lists from agent configs."""

from __future__ import annotations

import pytest

from probes import OptionError, Reason, run_probe
from probes import options as opt
from probes.address import split_host_port


def test_yaml_scalars_and_strings_read_the_same():
    assert opt.integer({"n": 3}, "n") == opt.integer({"n": "3"}, "n") == 3
    assert opt.flag({"f": True}, "f") is opt.flag({"f": "yes"}, "f") is True
    assert opt.number({"x": 0.5}, "x") == opt.number({"x": "0.5"}, "x") == 0.5


def test_yaml_list_reads_as_comma_list():
    assert opt.text({"oid": ["sysName.0", "sysUpTime.0"]}, "oid") == "sysName.0,sysUpTime.0"
    assert opt.codes({"c": [200, 404]}, "c", "200") == frozenset({200, 404})


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: opt.integer({"count": "three"}, "count"), "count"),
        (lambda: opt.integer({"count": True}, "count"), "count"),
        (lambda: opt.flag({"verify": "maybe"}, "verify"), "verify"),
        (lambda: opt.text({"oid": {"a": 1}}, "oid"), "oid"),
        (lambda: opt.codes({"alive": "2xx"}, "alive", "200"), "alive"),
        (lambda: opt.secret({"password": "a", "password_file": "/x"}, "password"), "password"),
        (lambda: opt.secret({"password_env": "HOTLINE_TEST_UNSET_VAR"}, "password"), "UNSET"),
    ],
)
def test_bad_options_name_the_option(call, named):
    with pytest.raises(OptionError, match=named):
        call()


def test_secret_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_TEST_SECRET", "from-env")
    assert opt.secret({"auth_key_env": "HOTLINE_TEST_SECRET"}, "auth_key") == "from-env"
    path = tmp_path / "key"
    path.write_text("from-file\n")
    assert opt.secret({"auth_key_file": str(path)}, "auth_key") == "from-file"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("127.0.0.1:5060", ("127.0.0.1", 5060)),
        ("[::1]:161", ("::1", 161)),
        ("[::1]", ("::1", 22)),
        ("::1", ("::1", 22)),
        ("localhost", ("localhost", 22)),
    ],
)
def test_host_port_targets(target, expected):
    assert split_host_port(target, 22) == expected


@pytest.mark.parametrize("target", ["127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "[::1"])
def test_bad_ports_are_rejected(target):
    with pytest.raises(OptionError, match="target"):
        split_host_port(target, 22)


async def test_yaml_typed_options_work_end_to_end(snmpd):
    from tests.peers.snmpd import COMMUNITY

    options = {"oid": ["sysName.0", "ifOperStatus.1"], "community": COMMUNITY, "retries": 0}
    result = await run_probe("snmp", snmpd.target, options)
    assert result.ok, result
    assert len(result.value) == 2


async def test_options_must_be_a_mapping():
    result = await run_probe("tcp", "127.0.0.1:1", ["send=x"])  # type: ignore[arg-type]
    assert result.reason is Reason.CONFIG_ERROR
