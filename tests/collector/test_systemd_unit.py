"""The systemd units: one install location, the hardening the issues ask for, and systemd's own
checks (`systemd-analyze verify` and `security`) pass."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_program

UNITS = Path(__file__).resolve().parents[2] / "systemd"
UNIT = UNITS / "hotline-collector.service"
AGENT = UNITS / "hotline-agent.service"
PREFIX = "/opt/hotline/venv"  # the one install location, as the README says


def _service(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser["Service"]


def _lines(path: Path, key: str) -> list[str]:
    """Every value of a key that may repeat (configparser keeps only the last)."""
    return [
        line.split("=", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


def test_unit_runs_hardened_as_its_own_user_with_a_state_directory() -> None:
    service = _service(UNIT)
    assert service["User"] == "hotline-collector"
    assert service["StateDirectory"] == "hotline-collector"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["RestartPreventExitStatus"] == "3"
    assert service["ExecStart"].endswith("hotline collector --config /etc/hotline/collector.yaml")


def test_both_units_and_the_readme_name_one_install_location() -> None:
    commands = [
        c for unit in (UNIT, AGENT) for k in ("ExecStartPre", "ExecStart") for c in _lines(unit, k)
    ]
    assert len(commands) == 3
    assert {c.split()[0] for c in commands} == {f"{PREFIX}/bin/hotline"}
    readme = (UNITS.parent / "README.md").read_text()
    assert PREFIX in readme
    assert set(re.findall(r"/opt/[\w./-]+", readme)) <= {
        PREFIX,
        f"{PREFIX}/bin/hotline",
        f"{PREFIX}/bin/pip",
    }


def test_the_agent_unit_is_hardened_reloads_with_sighup_and_does_not_loop_on_a_config_error() -> (
    None
):
    service = _service(AGENT)
    assert service["Type"] == "notify"  # the agent says READY=1: reloads wait for it
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["RestartPreventExitStatus"] == "3"
    assert service["MemoryDenyWriteExecute"] == "yes"
    assert "~@privileged @resources" in _lines(AGENT, "SystemCallFilter")
    assert service["CapabilityBoundingSet"] == ""
    assert service["ProtectSystem"] == "strict"


def _installed_copies(tmp_path: Path) -> list[Path]:
    """The units as installed under a prefix that exists here (`verify` checks that every
    command is executable): the same text, the install location replaced by a stub."""
    prefix = tmp_path / "venv"
    (prefix / "bin").mkdir(parents=True)
    stub = prefix / "bin" / "hotline"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    copies = []
    for unit in (AGENT, UNIT):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace(PREFIX, str(prefix)))
        copies.append(copy)
    return copies


def test_systemd_analyze_verify_passes_on_both_units(tmp_path: Path) -> None:
    analyze = require_program("systemd-analyze", "systemd's own check of the units")
    done = subprocess.run(
        [analyze, "verify", *map(str, _installed_copies(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize(
    ("name", "most"), [("hotline-agent.service", 1.8), ("hotline-collector.service", 1.5)]
)
def test_systemd_analyze_security_rates_both_units_well_exposed_below(
    tmp_path: Path, name: str, most: float
) -> None:
    analyze = require_program("systemd-analyze", "systemd's own check of the units")
    unit = next(u for u in _installed_copies(tmp_path) if u.name == name)
    done = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= most, (
        done.stdout
    )  # measured: agent 1.7 (2.0 before), collector 1.4


DROP_IN = UNITS / "hotline-agent-no-local-checks.conf"


def test_the_agent_unit_leaves_proc_visible_for_process_checks_and_a_drop_in_hides_it() -> None:
    """`process` checks watch other users' processes (hidden by ProtectProc=invisible) and
    `resource` checks read /proc/meminfo (hidden by ProcSubset=pid): off in the unit, on in the
    drop-in offered to agents without such checks."""
    assert not _lines(AGENT, "ProtectProc") and not _lines(AGENT, "ProcSubset")
    drop_in = configparser.ConfigParser(interpolation=None)
    drop_in.optionxform = str  # type: ignore[assignment,method-assign]
    drop_in.read_string(DROP_IN.read_text())
    assert dict(drop_in["Service"]) == {"ProtectProc": "invisible", "ProcSubset": "pid"}


def _exposure(analyze: str, unit: Path) -> float:
    done = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


def test_the_agent_unit_with_the_proc_drop_in_verifies_and_is_less_exposed(tmp_path: Path) -> None:
    analyze = require_program("systemd-analyze", "systemd's own check of the units")
    agent = next(u for u in _installed_copies(tmp_path) if u.name == AGENT.name)
    alone = _exposure(analyze, agent)
    # a drop-in's [Service] section merges into the unit's, as a repeated section does
    agent.write_text(agent.read_text() + "\n" + DROP_IN.read_text())
    done = subprocess.run(
        [analyze, "verify", str(agent)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    assert _exposure(analyze, agent) < alone
