"""The collector keeps its local files in one state directory (`state_dir`): `$STATE_DIRECTORY`,
else `$XDG_STATE_HOME/hotline`, else `~/.local/state/hotline` — never the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from collector.config import load_config
from collector.statedir import StateDirError, default_state_dir, ensure_state_dir
from tests.peers.influxd import Influxd, influxd  # noqa: F401
from tests.peers.net import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]


def test_default_state_dir_is_systemds_then_xdg_then_home() -> None:
    assert default_state_dir({"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}) == Path("/var/lib/a")
    assert default_state_dir({"XDG_STATE_HOME": "/x", "HOME": "/h"}) == Path("/x/hotline")
    assert default_state_dir({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/state/hotline"
    )
    assert default_state_dir({"HOME": "/h"}) == Path("/h/.local/state/hotline")


def test_state_dir_is_created_private_and_checked_writable(tmp_path: Path) -> None:
    made = ensure_state_dir(tmp_path / "a" / "b")
    assert made.is_dir() and made.stat().st_mode & 0o777 == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(StateDirError, match="not a writable directory"):
        ensure_state_dir(tmp_path / "file" / "sub")


def test_config_state_dir_is_relative_to_the_config_and_holds_the_default_store(
    tmp_path: Path,
) -> None:
    (tmp_path / "c.yaml").write_text("state_dir: state\n")
    config = load_config(tmp_path / "c.yaml")
    assert config.state_dir == str(tmp_path / "state")
    assert config.store == f"sqlite:///{tmp_path / 'state' / 'store.db'}"
    (tmp_path / "d.yaml").write_text("state_dir: s\nstore: sqlite:///elsewhere.db\n")
    assert load_config(tmp_path / "d.yaml").store == "sqlite:///elsewhere.db"  # still honoured


class _Run:
    """`hotline collector` in `cwd` with a controlled environment."""

    def __init__(self, tmp_path: Path, config: str, env: dict[str, str], store: str | None):
        self.cwd = tmp_path / "cwd"
        self.cwd.mkdir(exist_ok=True)
        self.config = tmp_path / "collector.yaml"
        self.config.write_text("agents: [{name: a1, token: state-dir-token}]\n" + config)
        self.port = free_port()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"STATE_DIRECTORY", "XDG_STATE_HOME", "HOME"}
        }
        self.env["PYTHONPATH"] = str(REPO)
        self.env.update(env)
        self.store = store
        self.proc: subprocess.Popen[str] | None = None

    def args(self) -> list[str]:
        args = [sys.executable, "-m", "hotline", "collector", "--config", str(self.config),
                "--listen", f"127.0.0.1:{self.port}"]  # fmt: skip
        return args + (["--store", self.store] if self.store else [])

    def run(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args(), cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=60
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args(),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=0.5).status_code:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("collector did not start")

    def post(self) -> httpx.Response:
        result = {"component": "acd-1", "system": "acd", "probe": "tcp",
                  "ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), "ok": True,
                  "reason": "ok", "latency_ms": 1.0, "detail": ""}  # fmt: skip
        return httpx.post(
            f"http://127.0.0.1:{self.port}/api/v1/results",
            json={"agent": "a1", "batch": "b1", "results": [result]},
            headers={"Authorization": "Bearer state-dir-token"},
            timeout=10,
        )

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def runs() -> Iterator[list[_Run]]:
    made: list[_Run] = []
    yield made
    for r in made:
        r.stop()


def test_influx_buffer_goes_to_the_state_dir_not_the_working_directory(
    influxd: Influxd,  # noqa: F811
    tmp_path: Path,
    runs: list[_Run],
) -> None:
    store = influxd.store_url(influxd.new_database_name("state"))  # no buffer= option
    run = _Run(tmp_path, "", {"XDG_STATE_HOME": str(tmp_path / "xdg")}, store)
    runs.append(run)
    run.start()
    assert run.post().status_code == 202
    assert list(run.cwd.iterdir()) == []  # a run from a checkout leaves nothing in it
    state = tmp_path / "xdg" / "hotline"
    assert [p.name for p in state.glob("influx-buffer-*.sqlite")] != []
    assert state.stat().st_mode & 0o777 == 0o700


def test_the_default_sqlite_store_lives_in_the_state_dir(tmp_path: Path, runs: list[_Run]) -> None:
    run = _Run(tmp_path, "", {"STATE_DIRECTORY": str(tmp_path / "systemd")}, None)
    runs.append(run)
    run.start()
    assert run.post().status_code == 202
    assert (tmp_path / "systemd" / "store.db").exists()
    assert list(run.cwd.iterdir()) == []


def test_an_unwritable_state_dir_is_a_config_error_naming_state_dir(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    blocked = tmp_path / "a-file" / "state"  # root may write anywhere, but not under a file
    from_config = _Run(tmp_path, f"state_dir: {blocked}\n", {"HOME": str(tmp_path)}, None).run()
    assert from_config.returncode == 3
    assert "state_dir" in from_config.stderr and "not a writable directory" in from_config.stderr
    from_env = _Run(tmp_path, "", {"STATE_DIRECTORY": str(blocked)}, None).run()
    assert from_env.returncode == 3
    assert "state_dir" in from_env.stderr and str(blocked) in from_env.stderr
