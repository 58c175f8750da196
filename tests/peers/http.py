"""A local HTTP(S) server with canned paths, in a thread (usable outside pytest too).

Paths: `/` 200 "hotline ok", `/missing` 404, `/broken` 503, `/private` 401 unless basic auth
`USERNAME`/`PASSWORD`, `/redirect` 302 to `/`, `/slow` answers after `SLOW_SECONDS`.
`HttpServer(tls=True, cert_days=N)` serves HTTPS with a fresh self-signed certificate for
127.0.0.1 valid N days; `.ca_file` is that certificate. `.url` is the base URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.peers.net import LOOPBACK

USERNAME = "auditor"
PASSWORD = "open-sesame"
SLOW_SECONDS = 3.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, b"hotline ok: acd queue RUNNING\n")
        elif path == "/missing":
            self._send(404, b"not here\n")
        elif path == "/broken":
            self._send(503, b"maintenance\n")
        elif path == "/private":
            wanted = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {wanted}":
                self._send(200, b"secret ok\n")
            else:
                self._send(401, b"who are you\n", {"WWW-Authenticate": 'Basic realm="t"'})
        elif path == "/redirect":
            self._send(302, b"", {"Location": "/"})
        elif path == "/slow":
            time.sleep(SLOW_SECONDS)
            self._send(200, b"late\n")
        else:
            self._send(404, b"unknown\n")


def _self_signed(directory: Path, days: int) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotline test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class HttpServer:
    def __init__(self, tls: bool = False, cert_days: int = 30) -> None:
        self.tls = tls
        self.cert_days = cert_days
        self.ca_file: str | None = None
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="hotline-http-")

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}"

    def start(self) -> HttpServer:
        server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        server.daemon_threads = True
        if self.tls:
            cert, key = _self_signed(Path(self._dir.name), self.cert_days)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            self.ca_file = str(cert)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._dir.cleanup()


@pytest.fixture(scope="session")
def http_server() -> Iterator[HttpServer]:
    server = HttpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_server() -> Iterator[HttpServer]:
    server = HttpServer(tls=True, cert_days=30).start()
    yield server
    server.stop()
