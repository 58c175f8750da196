"""`hotline collector` as a real subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.peers.net import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
AGENT_TOKEN = "e2e-agent-token"
OPERATOR_TOKEN = "e2e-operator-token"


class CollectorProcess:
    """A collector with a temporary config (agent `a1`, operator `ops-wang`); SQLite by default."""

    def __init__(
        self,
        tmp_path: Path,
        agent_token: str = AGENT_TOKEN,
        operator_token: str = OPERATOR_TOKEN,
        store_url: str | None = None,
        extra_config: str = "",
        ca_file: Path | None = None,
    ) -> None:
        """`extra_config` is appended to the config; with `ca_file` the collector is reached
        over https (its config giving tls_cert_file/tls_key_file) and trusted through it."""
        self.dir = tmp_path
        self.port = free_port()
        self.ca_file = ca_file
        self.url = f"{'https' if ca_file else 'http'}://127.0.0.1:{self.port}"
        self.store_url = store_url
        (tmp_path / "ops.token").write_text(operator_token + "\n")
        self.config = tmp_path / "collector.yaml"
        self.config.write_text(
            f"store: sqlite:///{tmp_path}/store.db\n"
            "agents: [{name: a1, token: " + agent_token + "}]\n"
            "operators: [{name: ops-wang, token_file: ops.token}]\n"
            "down_after: 3\nup_after: 1\ntick_seconds: 0.2\nsilence_after: 600\n" + extra_config
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp_path / "collector.log"

    def start(self, ready: bool = True) -> None:
        """Start and wait until /healthz answers (200; with `ready` False, any answer)."""
        args = [sys.executable, "-m", "hotline", "collector", "--config", str(self.config),
                "--listen", f"127.0.0.1:{self.port}"]  # fmt: skip
        if self.store_url is not None:
            args += ["--store", self.store_url]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                health = httpx.get(f"{self.url}/healthz", timeout=0.5, verify=self.verify)
                status = health.status_code
                if status == 200 or not ready:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"collector did not start: {self.log.read_text()[-3000:]}")

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What an httpx client needs to trust this collector (its CA when on https)."""
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `hotline ARGS --collector URL --token-file <operator token>`."""
        return subprocess.run(
            [sys.executable, "-m", "hotline", *args, "--collector", self.url,
             "--token-file", str(self.dir / "ops.token")],
            capture_output=True, text=True, timeout=60, cwd=REPO,
        )  # fmt: skip
