"""`hotline maint` and `hotline incident` without a collector: usage errors exit 3, an
unreachable collector exits 1, and the token never appears in what they print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.peers.net import free_port

REPO = Path(__file__).resolve().parents[2]


def hotline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "HOTLINE_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=full_env,
    )  # fmt: skip


def test_maint_without_a_token_is_a_usage_error() -> None:
    proc = hotline("maint", "list")
    assert proc.returncode == 3
    assert "--token-file" in proc.stderr and "HOTLINE_TOKEN" in proc.stderr


def test_maint_add_needs_end_or_duration() -> None:
    proc = hotline("maint", "add", "--components", "*", "--start", "2026-11-01T00:00+08:00",
                   "--reason", "x")  # fmt: skip
    assert proc.returncode == 3


def test_unreachable_collector_exits_1_without_printing_the_token(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("very-secret-token\n")
    url = f"http://127.0.0.1:{free_port()}"
    proc = hotline("incident", "ack", "INC-1", "--collector", url, "--token-file", str(token))
    assert proc.returncode == 1
    assert "unreachable" in proc.stderr and "very-secret-token" not in proc.stderr + proc.stdout


def test_collector_with_an_unknown_store_url_exits_3(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("agents: [{name: a1, token: x}]\n")
    proc = hotline("collector", "--config", str(config), "--store", "mysql://nope")
    assert proc.returncode == 3 and "mysql://nope" in proc.stderr
