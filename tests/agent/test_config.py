"""The agent config: what a valid one yields, and errors that name file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.config import AgentConfigError, load_config
from hotline.cli import main

HEAD = """\
agent: a1
collector: {url: "https://collector.example:8443", token_file: agent.token}
"""


def _write(tmp_path: Path, text: str, name: str = "agent.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(AgentConfigError) as caught:
        load_config(path)
    return caught.value.errors


def test_targets_get_defaults_derived_targets_and_relative_paths(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEAD
        + """\
spool: {path: state/spool.db, max_bytes: 2 MiB}
defaults: {interval: 20, timeout: 4}
targets:
  - id: acd-1
    system: acd
    host: 10.0.0.5
    probes:
      - {kind: sip}
      - {kind: tcp, name: cti, target: "{host}:7001", interval: 10}
  - id: ivr-1
    system: ivr
    host: "fd00::7"
    timeout: 2
    probes: [{kind: sip, options: {t1: 0.25}}]
""",
    )
    config = load_config(path)
    checks = {c.key: c for c in config.checks}
    sip = checks[("acd-1", "sip")]
    assert (sip.target, sip.interval, sip.timeout, sip.system) == ("sip:10.0.0.5", 20, 4, "acd")
    assert checks[("acd-1", "cti")].target == "10.0.0.5:7001"
    assert checks[("acd-1", "cti")].interval == 10
    ivr = checks[("ivr-1", "sip")]
    assert (ivr.target, ivr.timeout, ivr.options) == ("sip:[fd00::7]", 2, {"t1": 0.25})
    assert config.spool_path == str(tmp_path / "state" / "spool.db")
    assert config.spool_max_bytes == 2 * 1024**2
    assert config.token_file == str(tmp_path / "agent.token")
    assert config.verify is True


def test_includes_and_a_seat_csv_expand_to_one_target_per_seat(tmp_path: Path) -> None:
    rows = "\n".join(f"S{n:03d},10.1.0.{n},{n % 3 + 1}" for n in range(1, 301))
    _write(tmp_path, f"id,host,floor\n{rows}\n", "seats/floor.csv")
    _write(
        tmp_path,
        """\
seat_lists:
  - csv: floor.csv
    id_prefix: seat-
    interval: 60
    probes: [{kind: sip, target: "sip:{host}:5060"}, {kind: tcp, target: "{host}:{floor}"}]
""",
        "seats/list.yaml",
    )
    path = _write(
        tmp_path,
        HEAD + "include: [seats/*.yaml]\ntargets: [{id: acd-1, system: acd, host: h, probes: "
        "[{kind: icmp}]}]\n",
    )
    config = load_config(path)
    seats = [c for c in config.checks if c.system == "seat"]
    assert len(seats) == 600
    first = {c.name: c for c in seats if c.component == "seat-S001"}
    assert first["sip"].target == "sip:10.1.0.1:5060"
    assert first["tcp"].target == "10.1.0.1:2"
    assert first["sip"].interval == 60
    assert str(tmp_path / "seats" / "list.yaml") in config.files


@pytest.mark.parametrize(
    ("body", "line", "field", "words"),
    [
        (
            "targets:\n  - id: a\n    system: acd\n    probes: [{kind: tcp, target: 'h:1', "
            "interval: fast}]\n",
            4,
            "targets[0].probes[0].interval",
            "must be a number > 0",
        ),
        (
            "targets:\n  - id: a\n    sytem: acd\n    probes: []\n",
            3,
            "targets[0].sytem",
            "unknown key",
        ),
        (
            "targets:\n  - id: a\n    system: pbx\n    probes: []\n",
            3,
            "targets[0].system",
            "must be one of acd, ivr, seat, callsys, other",
        ),
        (
            "targets:\n  - id: a\n    system: acd\n    probes:\n      - {kind: telnet}\n",
            5,
            "targets[0].probes[0].kind",
            "unknown probe kind 'telnet'",
        ),
        (
            "targets:\n  - id: a\n    system: acd\n    probes:\n      - {kind: tcp}\n",
            5,
            "targets[0].probes[0]",
            "missing required key 'target'",
        ),
        (
            "targets:\n  - id: a\n    system: acd\n    probes:\n"
            "      - {kind: tcp, target: 'h:1', timeout: 9, interval: 3}\n",
            5,
            "targets[0].probes[0].timeout",
            "must not exceed the interval",
        ),
        (
            "targets:\n  - id: a\n    system: acd\n    probes:\n"
            "      - {kind: tcp, target: '{ip}:1'}\n",
            5,
            "targets[0].probes[0].target",
            "unknown placeholder {ip}",
        ),
    ],
)
def test_a_bad_value_is_named_by_file_line_and_field(
    tmp_path: Path, body: str, line: int, field: str, words: str
) -> None:
    path = _write(tmp_path, HEAD + body)
    errors = _errors(path)
    expected = f"{path}:{line + 2}: {field}: "
    assert any(e.startswith(expected) and words in e for e in errors), errors


def test_a_component_defined_twice_names_both_places(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "targets:\n  - {id: acd-1, system: acd, host: h, probes: [{kind: icmp}]}\n",
        "more.yaml",
    )
    path = _write(
        tmp_path,
        HEAD
        + "include: [more.yaml]\n"
        + "targets:\n  - {id: acd-1, system: acd, host: h, probes: [{kind: icmp}]}\n",
    )
    errors = _errors(path)
    assert any(
        e.startswith(f"{tmp_path / 'more.yaml'}:2: targets[0].id:") and f"{path}:5" in e
        for e in errors
    ), errors


def test_broken_yaml_and_duplicate_keys_name_the_line(tmp_path: Path) -> None:
    broken = _write(tmp_path, HEAD + "targets: [\n  {id: a\n", "broken.yaml")
    assert any(e.startswith(f"{broken}:") and "invalid YAML" in e for e in _errors(broken))
    dup = _write(tmp_path, HEAD + "agent: a2\ntargets: []\n", "dup.yaml")
    errors = _errors(dup)
    assert any(e.startswith(f"{dup}:3:") and "duplicate key 'agent'" in e for e in errors), errors


def test_a_seat_csv_row_error_names_the_csv_line(tmp_path: Path) -> None:
    _write(tmp_path, "id,host\nS1,10.0.0.1\nS2\nS1,10.0.0.3\n", "seats.csv")
    path = _write(tmp_path, HEAD + "seat_lists: [{csv: seats.csv, probes: [{kind: icmp}]}]\n")
    errors = _errors(path)
    assert any(e.startswith(f"{tmp_path / 'seats.csv'}:3: row 3:") for e in errors), errors
    assert any("seats.csv:4" in e and "already defined" in e for e in errors), errors


def test_inline_tokens_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'agent: a1\ncollector: {url: "http://c:1", token: secret}\ntargets: []\n',
    )
    errors = _errors(path)
    assert any("collector.token: inline tokens are not accepted" in e for e in errors), errors
    assert any("exactly one of token_file or token_env" in e for e in errors), errors
    assert all("secret" not in e for e in errors)


def test_check_exits_0_for_a_good_config_and_3_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(
        tmp_path,
        HEAD + "targets: [{id: a, system: acd, host: h, probes: [{kind: icmp}]}]\n",
        "good.yaml",
    )
    assert main(["agent", "--config", str(good), "--check"]) == 0
    assert "1 checks on 1 components" in capsys.readouterr().out
    bad = _write(
        tmp_path, HEAD + "targets: [{id: a, system: acd, probes: [{kind: icmp}]}]\n", "bad.yaml"
    )
    assert main(["agent", "--config", str(bad), "--check"]) == 3
    err = capsys.readouterr().err
    assert f"{bad}:3: targets[0].probes[0]:" in err and "'host'" in err


# The files the example's probe options name, relative to it (as installed in /etc/hotline).
EXAMPLE_FILES = ("snmp.community", "known_hosts", "id_ed25519")


def test_example_configs_are_valid(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "configs" / "agent"
    shutil.copytree(source, tmp_path / "agent")
    examples = sorted((tmp_path / "agent").glob("*.yaml"))
    assert examples, "configs/agent/*.yaml missing"
    with pytest.raises(AgentConfigError) as caught:  # the files they name are not installed yet
        load_config(tmp_path / "agent" / "example.yaml")
    assert all(any(name in e for name in EXAMPLE_FILES) for e in caught.value.errors)
    for name in EXAMPLE_FILES:
        (tmp_path / "agent" / name).write_text("secret\n", encoding="utf-8")
    for example in examples:
        load_config(example)


def test_the_systemd_unit_is_hardened_and_reloads_with_hup() -> None:
    unit = Path(__file__).resolve().parents[2] / "systemd" / "hotline-agent.service"
    settings: dict[str, list[str]] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    assert settings["User"] == ["hotline"]
    assert settings["StateDirectory"] == ["hotline-agent"]
    assert settings["ProtectSystem"] == ["strict"]
    assert settings["NoNewPrivileges"] == ["yes"]
    assert settings["Restart"] == ["on-failure"]
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert settings["CapabilityBoundingSet"] == [""]  # CAP_NET_RAW only if icmp needs it
    assert int(settings["TimeoutStopSec"][0]) > 10 + 5  # flush_timeout + running checks
