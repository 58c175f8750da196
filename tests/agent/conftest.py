"""Peers and helpers for agent tests: a recording collector, TCP targets, agent processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.agent.receiver import Receiver
from tests.peers.net import LOOPBACK, free_port
from tests.peers.sshd import sshd  # noqa: F401 (a fixture for the agent's SSH checks)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token"


class TcpTarget:
    """A TCP port that can be switched between listening (probe ok) and closed (refused)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock: socket.socket | None = None

    def open(self) -> TcpTarget:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        sock.listen(128)
        self._sock = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        return self

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):  # wakes the accept() thread on Linux
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def tcp_target() -> Iterator[TcpTarget]:
    target = TcpTarget().open()
    yield target
    target.close()


def write_config(
    directory: Path,
    collector_url: str,
    targets: str,
    *,
    interval: float = 0.2,
    extra: str = "",
    name: str = "agent.yaml",
) -> Path:
    """An agent config in `directory` with fast intervals; `targets` is the YAML list body."""
    path = directory / name
    path.write_text(
        f"""\
agent: t1
collector: {{url: "{collector_url}", token_env: HOTLINE_TEST_TOKEN}}
spool: {{path: spool.db}}
shipping: {{batch_age: 0.1, backoff_initial: 0.1, backoff_max: 0.5, flush_timeout: 5}}
heartbeat: {{interval: 0.5, host_metrics_interval: 1}}
defaults: {{interval: {interval}, timeout: {min(interval, 1.0)}}}
{extra}
targets:
{targets}
""",
        encoding="utf-8",
    )
    return path


def tcp_targets(*pairs: tuple[str, int], system: str = "acd") -> str:
    return "".join(
        f"  - {{id: {cid}, system: {system}, host: {LOOPBACK}, "
        f'probes: [{{kind: tcp, target: "{{host}}:{port}"}}]}}\n'
        for cid, port in pairs
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout:g} s")


class AgentProcess:
    """`hotline agent --config FILE` as a real subprocess."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: subprocess.Popen[str] | None = None
        self.log = config.parent / "agent.log"

    def start(self) -> AgentProcess:
        env = dict(os.environ, HOTLINE_TEST_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
        handle = open(self.log, "a", encoding="utf-8")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "agent", "--config", str(self.config)],
            cwd=self.config.parent,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
        handle.close()
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def wait(self, timeout: float = 15) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""


@pytest.fixture
def agent_process() -> Iterator[Callable[[Path], AgentProcess]]:
    started: list[AgentProcess] = []

    def start(config: Path) -> AgentProcess:
        process = AgentProcess(config).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
