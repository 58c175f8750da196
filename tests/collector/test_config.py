"""The collector's YAML configuration: good files load, bad ones name file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.config import CollectorConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.yaml"
    path.write_text(text)
    return path


def test_shipped_example_config_loads(tmp_path: Path) -> None:
    for name in ("agent-acd", "ops-wang"):
        (tmp_path / f"{name}.token").write_text(f"{name}-secret\n")
    text = (REPO / "configs/collector/collector.yaml").read_text()
    config = load_config(write(tmp_path, text.replace("/etc/hotline/", "")))
    assert config.engine.down_after == 3 and config.engine.up_after == 1
    assert [(p.name, p.role) for p in config.principals] == [
        ("agent-acd", "agent"),
        ("ops-wang", "operator"),
    ]
    assert config.principals[0].token == "agent-acd-secret"
    assert config.raw_days == 30 and config.keep_days == 400


def test_token_is_not_in_the_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "agents: [{name: a1, token: sekrit-123}]\n"))
    assert "sekrit-123" not in repr(config)


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "listen: 127.0.0.1:9\n\ndown_afterr: 3\n")
    with pytest.raises(CollectorConfigError, match=r"collector\.yaml:3: down_afterr: unknown key"):
        load_config(path)


def test_nested_unknown_key_names_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "agents:\n  - name: a1\n    tokn: x\n")
    with pytest.raises(CollectorConfigError, match=r":3: agents\.0\.tokn: unknown key"):
        load_config(path)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "listen: 127.0.0.1:9\nagents: [\n")
    with pytest.raises(CollectorConfigError, match=r"collector\.yaml:\d+: \(top\): broken YAML"):
        load_config(path)


def test_bad_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(CollectorConfigError, match=r"down_after: must be ≥ 1"):
        load_config(write(tmp_path, "down_after: 0\n"))
    with pytest.raises(CollectorConfigError, match=r"composite\.ivr: must be any, all or \{k: N\}"):
        load_config(write(tmp_path, "composite: {ivr: most}\n"))
    with pytest.raises(
        CollectorConfigError, match=r"agents\.0: give exactly one of token, token_file"
    ):
        load_config(write(tmp_path, "agents: [{name: a1}]\n"))
    with pytest.raises(CollectorConfigError, match=r"token_file: cannot read"):
        load_config(write(tmp_path, "agents: [{name: a1, token_file: missing.token}]\n"))


def test_composite_k_of_n_and_dependencies_load(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "composite: {ivr: {k: 2}}\ndependencies: {sw-3: [seat-001, seat-002]}\n")
    )
    assert config.engine.composite["ivr"].needed(5) == 2
    assert config.incidents.dependencies == {"sw-3": ("seat-001", "seat-002")}


def test_hotline_collector_exits_3_on_a_bad_config(tmp_path: Path) -> None:
    path = write(tmp_path, "store: sqlite:///x.db\nbogus: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "hotline", "collector", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 3
    assert f"{path}:2: bogus: unknown key" in proc.stderr


def test_store_token_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "store: influxdb://127.0.0.1:1/h\nstore_token_file: t\n"))
    assert config.store_token_file == str(tmp_path / "t")
