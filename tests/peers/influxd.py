"""A real InfluxDB (Debian's `influxd` 1.6.7) on 127.0.0.1, for the InfluxDB store's tests.

`Influxd(workdir).start()` writes a config with meta, data and WAL directories under `workdir`,
the HTTP API on a free loopback port and the RPC (backup/restore) service on another (the
default 8088 may be taken), usage reporting and the ifql service off, and waits until `/ping`
answers 204. `stop()` (SIGTERM), `kill()` (SIGKILL) and `start()` again keep the same ports and
data, for fault tests. Fixtures: `influxd` (one per session; tests use their own database) and
`influxd_factory` (fresh servers a test may stop and kill).
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.peers.net import LOOPBACK, free_port, stop_process

PROGRAM = "/usr/bin/influxd"
WHY = "the InfluxDB store's tests run against a real influxd (Debian package influxdb)"

_CONFIG = """\
# written by tests/peers/influxd.py
reporting-enabled = false   # Debian's name for the setting
reporting-disabled = true   # upstream's name; influxd ignores the one it does not know
bind-address = "{host}:{rpc_port}"

[meta]
  dir = "{dir}/meta"

[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false

[http]
  bind-address = "{host}:{http_port}"
  log-enabled = false
  auth-enabled = {auth}
  https-enabled = {tls}
  https-certificate = "{dir}/cert.pem"
  https-private-key = "{dir}/key.pem"

[ifql]
  enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
"""


class Influxd:
    """One influxd process with its own directories and ports."""

    def __init__(
        self, workdir: str | Path, program: str = PROGRAM, *, auth: bool = False, tls: bool = False
    ) -> None:
        self.workdir = Path(workdir)
        self.program = program
        self.auth = auth  # [http] auth-enabled: create the first admin user before anything
        self.tls = tls  # HTTPS with a self-signed certificate for 127.0.0.1 (`ca_file`)
        self.http_port = 0
        self.rpc_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._databases = itertools.count(1)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.http_port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "cert.pem"

    def store_url(self, database: str, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        scheme = "influxdb+https" if self.tls else "influxdb"
        return f"{scheme}://{LOOPBACK}:{self.http_port}/{database}" + (f"?{query}" if query else "")

    def new_database_name(self, prefix: str = "t") -> str:
        """A database name no other test on this server uses."""
        return f"{prefix}{os.getpid()}_{next(self._databases)}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "influxdb.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "influxd.log"

    def start(self, timeout: float = 15.0) -> Influxd:
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.http_port:
            self.http_port = free_port()
            self.rpc_port = free_port()
            while self.rpc_port == self.http_port:
                self.rpc_port = free_port()
        self.config_path.write_text(
            _CONFIG.format(
                host=LOOPBACK,
                rpc_port=self.rpc_port,
                http_port=self.http_port,
                dir=self.workdir,
                auth="true" if self.auth else "false",
                tls="true" if self.tls else "false",
            )
        )
        if self.tls and not self.ca_file.exists():
            _self_signed(self.workdir)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.program, "run", "-config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"influxd exited with {self.proc.returncode}: {self._log_tail()}"
                )
            if self.ping():
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"influxd not answering /ping after {timeout:g} s: {self._log_tail()}")

    def ping(self) -> bool:
        conn: http.client.HTTPConnection
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            conn = http.client.HTTPSConnection(LOOPBACK, self.http_port, timeout=1, context=context)
        else:
            conn = http.client.HTTPConnection(LOOPBACK, self.http_port, timeout=1)
        try:
            conn.request("GET", "/ping")
            return conn.getresponse().status == 204
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        """SIGTERM and wait (data is kept; `start()` brings it back on the same ports)."""
        stop_process(self.proc, timeout=10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: influxd hangs (accepts connections, never answers) until `resume()`."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def _log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Influxd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.resume()
        self.stop()


def _self_signed(directory: Path) -> None:
    """cert.pem (also the CA to trust) and key.pem for 127.0.0.1, valid for a day."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotline influxd test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """One influxd for the session; each test makes its own database on it."""
    program = require_program(PROGRAM, WHY)
    server = Influxd(tmp_path_factory.mktemp("influxd"), program).start()
    yield server
    server.resume()
    server.stop()


@pytest.fixture
def influxd_factory(tmp_path: Path) -> Iterator[Callable[..., Influxd]]:
    """Make fresh influxd servers (for tests that stop, pause or kill them)."""
    program = require_program(PROGRAM, WHY)
    servers: list[Influxd] = []

    def make(auth: bool = False, tls: bool = False) -> Influxd:
        server = Influxd(tmp_path / f"influxd{len(servers)}", program, auth=auth, tls=tls).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.resume()
        server.stop()
