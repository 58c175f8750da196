"""A real net-snmp snmpd on 127.0.0.1 (UDP, free port) with a v2c community and a v3 user.

- v2c community `COMMUNITY` (read-only).
- v3 user `V3_USER`, authPriv with SHA-1 / AES-128 (`createUser u SHA pass AES pass`),
  keys `V3_AUTH_KEY` / `V3_PRIV_KEY`.
- sysName.0 = `SYS_NAME`, sysLocation.0 = `SYS_LOCATION`, sysContact.0 = `SYS_CONTACT`.

Outside pytest: `s = Snmpd().start(); …; s.stop()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.net import LOOPBACK, free_port, stop_process

COMMUNITY = "hotline-ro"
V3_USER = "hotv3"
V3_AUTH_KEY = "authpass-123"
V3_PRIV_KEY = "privpass-456"
SYS_NAME = "hotline-test-acd"
SYS_LOCATION = "Changsha rack 7"
SYS_CONTACT = "noc@hotline.test"

_CONFIG = f"""
rocommunity {COMMUNITY} 127.0.0.1
createUser {V3_USER} SHA "{V3_AUTH_KEY}" AES "{V3_PRIV_KEY}"
rouser {V3_USER} priv
sysName {SYS_NAME}
sysLocation {SYS_LOCATION}
sysContact {SYS_CONTACT}
sysServices 72
"""


class Snmpd:
    def __init__(self, port: int | None = None) -> None:
        self.host = LOOPBACK
        self.port = port or free_port()
        self._dir: str | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> Snmpd:
        binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
        self._dir = tempfile.mkdtemp(prefix="hotline-snmpd-")
        config = Path(self._dir, "snmpd.conf")
        config.write_text(_CONFIG)
        env = {**os.environ, "SNMP_PERSISTENT_DIR": self._dir, "MIBS": ""}
        self._log = Path(self._dir, "snmpd.log").open("wb")  # noqa: SIM115 (lives with snmpd)
        self._proc = subprocess.Popen(
            [
                binary,
                "-f",
                "-Lo",
                "-C",
                "-c",
                str(config),
                "-p",
                str(Path(self._dir, "pid")),
                f"udp:{self.host}:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                output = Path(self._dir, "snmpd.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"snmpd exited: {output}")
            if self._answers():
                return self
        self.stop()
        raise RuntimeError(f"snmpd did not answer within {timeout:g} s")

    def _answers(self) -> bool:
        """One v2c GET of sysName.0 with a tiny hand-made packet (no pysnmp engine needed)."""
        import socket

        community = COMMUNITY.encode()
        oid = bytes([0x2B, 6, 1, 2, 1, 1, 5, 0])  # 1.3.6.1.2.1.1.5.0
        varbind = b"\x30" + bytes([len(oid) + 4]) + b"\x06" + bytes([len(oid)]) + oid + b"\x05\x00"
        varbinds = b"\x30" + bytes([len(varbind)]) + varbind
        pdu_body = b"\x02\x01\x01\x02\x01\x00\x02\x01\x00" + varbinds
        pdu = b"\xa0" + bytes([len(pdu_body)]) + pdu_body
        body = b"\x02\x01\x01\x04" + bytes([len(community)]) + community + pdu
        message = b"\x30" + bytes([len(body)]) + body
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            try:
                sock.sendto(message, (self.host, self.port))
                return SYS_NAME.encode() in sock.recv(4096)
            except OSError:
                return False

    def stop(self) -> None:
        stop_process(self._proc)
        if self._log is not None:
            self._log.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture(scope="session")
def snmpd() -> Iterator[Snmpd]:
    from tests.conftest import require_program

    require_program("snmpd", "the SNMP probe is tested against a real net-snmp snmpd")
    server = Snmpd().start()
    yield server
    server.stop()
