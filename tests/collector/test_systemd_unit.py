"""The collector's systemd unit keeps the hardening the issue asks for."""

from __future__ import annotations

import configparser
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "systemd/hotline-collector.service"


def test_unit_runs_hardened_as_its_own_user_with_a_state_directory() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["User"] == "hotline-collector"
    assert service["StateDirectory"] == "hotline-collector"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["RestartPreventExitStatus"] == "3"
    assert service["ExecStart"].endswith("hotline collector --config /etc/hotline/collector.yaml")
