"""configs/agent/trunks.yaml: the documented carrier-trunk and synthetic-call checks load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.config import load_config
from hotline.cli import main

SOURCE = Path(__file__).resolve().parents[2] / "configs" / "agent" / "trunks.yaml"


@pytest.fixture
def trunks(tmp_path: Path) -> Path:
    path = tmp_path / "trunks.yaml"
    shutil.copy(SOURCE, path)
    (tmp_path / "snmp.community").write_text("public\n", encoding="utf-8")
    return path


def test_trunks_example_passes_agent_check(trunks, capsys):
    assert main(["agent", "--config", str(trunks), "--check"]) == 0
    assert "ok" in capsys.readouterr().out


def test_every_trunk_is_a_callsys_component_seen_by_sip_or_snmp(trunks):
    config = load_config(trunks)
    trunk_checks = [c for c in config.checks if c.component.startswith("trunk-")]
    assert trunk_checks
    assert {c.system for c in trunk_checks} == {"callsys"}
    by_trunk: dict[str, set[str]] = {}
    for check in trunk_checks:
        by_trunk.setdefault(check.component, set()).add(check.kind)
    assert all(kinds & {"sip", "snmp"} for kinds in by_trunk.values())
    assert any(kinds == {"sip", "snmp"} for kinds in by_trunk.values())


def test_the_synthetic_call_fits_its_timeout(trunks):
    config = load_config(trunks)
    (call,) = [c for c in config.checks if c.kind == "call"]
    assert call.system == "callsys"
    assert float(call.options["seconds"]) + 2 <= call.timeout <= call.interval
    assert config.concurrency["call"] <= 4
