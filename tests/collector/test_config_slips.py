"""Operator slips in the collector config: each is `FILE:LINE: key: problem`, exit 3 from
`hotline collector`, no traceback — duplicate keys, alias bombs, a port out of range, a file
that is not UTF-8, a SQLite URL without a path, a SQLite path that cannot be written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collector.config import CollectorConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "collector.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def run_collector(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", "collector", "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "STATE_DIRECTORY": str(path.parent / "state")},
    )


def test_a_duplicate_top_level_key_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "agents: [{name: a1, token: t1}]\ndown_after: 3\nagents: [{name: a2, token: t2}]\n",
    )
    with pytest.raises(
        CollectorConfigError, match=rf"^{path}:3: agents: duplicate key \(first on line 1\)"
    ):
        load_config(path)


def test_a_duplicate_nested_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "agents:\n  - name: a1\n    token: t1\n    name: a2\n")
    with pytest.raises(CollectorConfigError, match=rf"^{path}:4: name: duplicate key"):
        load_config(path)


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "agents:\n  - &a1 {name: a1, token: t1}\n  - {<<: *a1, name: a2, token: t2}\n",
    )
    assert [p.name for p in load_config(path).principals] == ["a1", "a2"]


def test_an_alias_bomb_is_refused_within_a_second(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("agents: *a9")
    path = write(tmp_path, "\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(
        CollectorConfigError, match=rf"^{path}:\d+: \(top\): aliases expand to over"
    ):
        load_config(path)
    assert time.monotonic() - started < 10  # refused before expanding (it ran 60 s, 4.4 GB)


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "dependencies: &d {x: *d}\n")
    with pytest.raises(CollectorConfigError, match=rf"^{path}:\d+: \(top\): "):
        load_config(path)


def test_deep_nesting_is_refused_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "alerts: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(CollectorConfigError, match=rf"^{path}:\d+: "):
        load_config(path)


def test_a_port_out_of_range_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "down_after: 3\nlisten: 127.0.0.1:99999\n")
    with pytest.raises(CollectorConfigError, match=rf"^{path}:2: listen: .*1 to 65535"):
        load_config(path)


def test_a_file_that_is_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"down_after: 3\n# caf\xe9\n")
    with pytest.raises(CollectorConfigError, match=rf"^{path}:2: \(top\): not UTF-8"):
        load_config(path)


def test_a_sqlite_url_without_a_path_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "down_after: 3\nstore: sqlite:///\n")
    with pytest.raises(CollectorConfigError, match=rf"^{path}:2: store: sqlite URL needs a path"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("listen: 127.0.0.1:99999\n", ":1: listen:"),
        (b"listen: 127.0.0.1:8080\n# \xff\n", ":2: (top): not UTF-8"),
        ("store: sqlite:///\n", ":1: store: sqlite URL needs a path"),
        ("agents: []\nagents: []\n", ":2: agents: duplicate key"),
    ],
)
def test_hotline_collector_exits_3_without_a_traceback(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    path = write(tmp_path, text)
    proc = run_collector(path)
    assert proc.returncode == 3, proc.stderr
    assert f"{path}{expected}" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_sqlite_directory_is_exit_3_naming_the_key(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        path = write(tmp_path, f"listen: 127.0.0.1:1\nstore: sqlite:///{locked}/sub/store.db\n")
        proc = run_collector(path)
    finally:
        locked.chmod(0o700)
    assert proc.returncode == 3, proc.stderr
    assert f"{path}:2: store: cannot open the SQLite store" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unwritable_sqlite_file_is_exit_3_naming_the_key(tmp_path: Path) -> None:
    """A directory where the database file should be: not even root can open it."""
    (tmp_path / "store.db").mkdir()
    path = write(tmp_path, f"listen: 127.0.0.1:1\nstore: sqlite:///{tmp_path}/store.db\n")
    proc = run_collector(path)
    assert proc.returncode == 3, proc.stderr
    assert f"{path}:2: store: cannot open the SQLite store" in proc.stderr
    assert "Traceback" not in proc.stderr
