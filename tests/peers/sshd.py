"""A real OpenSSH sshd on 127.0.0.1 (free port), its own host key, key-only login.

The current user logs in with `client_key` (authorized). `known_hosts` lists the real host
key; `wrong_known_hosts` lists another key for the same host:port (a changed host key);
`other_key` is a client key sshd does not accept. Outside pytest:
`s = Sshd().start(); …; s.stop()`.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.net import LOOPBACK, free_port, stop_process, tcp_listening

_CONFIG = """\
Port {port}
ListenAddress {host}
HostKey {dir}/host_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
UseDNS no
MaxStartups 100:30:200
MaxSessions 50
LogLevel ERROR
"""


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hotline-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


class Sshd:
    def __init__(self, port: int | None = None) -> None:
        self.host = LOOPBACK
        self.port = port or free_port()
        self.user = getpass.getuser()
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-sshd-"))
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def client_key(self) -> str:
        return str(self.dir / "client_key")

    @property
    def other_key(self) -> str:
        return str(self.dir / "other_key")

    @property
    def known_hosts(self) -> str:
        return str(self.dir / "known_hosts")

    @property
    def wrong_known_hosts(self) -> str:
        return str(self.dir / "wrong_known_hosts")

    def start(self, timeout: float = 15.0) -> Sshd:
        if os.geteuid() == 0:  # as root sshd insists on its privilege-separation directory
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for name in ("host_key", "client_key", "other_key", "wrong_host_key"):
            _keygen(self.dir / name)
        shutil.copy(self.dir / "client_key.pub", self.dir / "authorized_keys")
        hostport = f"[{self.host}]:{self.port}"
        host_pub = (self.dir / "host_key.pub").read_text().split()[:2]
        wrong_pub = (self.dir / "wrong_host_key.pub").read_text().split()[:2]
        Path(self.known_hosts).write_text(f"{hostport} {' '.join(host_pub)}\n")
        Path(self.wrong_known_hosts).write_text(f"{hostport} {' '.join(wrong_pub)}\n")
        config = self.dir / "sshd_config"
        config.write_text(_CONFIG.format(port=self.port, host=self.host, dir=self.dir))
        os.chmod(self.dir, 0o700)
        binary = "/usr/sbin/sshd"
        self._log = (self.dir / "sshd.log").open("wb")
        self._proc = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                output = (self.dir / "sshd.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"sshd exited: {output}")
            if tcp_listening(self.port, self.host):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"sshd did not listen within {timeout:g} s")

    def stop(self) -> None:
        stop_process(self._proc)
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    from tests.conftest import require_program

    require_program("/usr/sbin/sshd", "the SSH probe is tested against a real OpenSSH sshd")
    require_program("ssh-keygen", "the sshd fixture makes its keys with ssh-keygen")
    server = Sshd().start()
    yield server
    server.stop()
