"""The collector serves HTTPS itself (`tls_cert_file`, `tls_key_file`): a real `hotline
collector` with a certificate from a CA made here, and a real `hotline agent` shipping to it
with `ca_file` — and refused, its spool kept, when it trusts another CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.collector.process import AGENT_TOKEN, OPERATOR_TOKEN, REPO, CollectorProcess
from tests.peers.net import free_port, stop_process

_CA_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True,
    crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip


def make_ca(directory: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Name]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, subject


def make_server_cert(
    directory: Path, ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "collector")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


@pytest.fixture
def tls_collector(tmp_path: Path) -> Any:
    """A collector on https with a certificate from CA `hotline-test-ca`; the other CA's file
    (`other-ca.pem`) trusts nothing it serves."""
    ca, ca_key, ca_name = make_ca(tmp_path, "hotline-test-ca")
    make_ca(tmp_path, "other-ca")
    make_server_cert(tmp_path, ca_key, ca_name)
    # relative paths: taken from the config file's directory
    collector = CollectorProcess(
        tmp_path, extra_config="tls_cert_file: server.pem\ntls_key_file: server.key\n", ca_file=ca
    )
    collector.start()
    try:
        yield collector
    finally:
        collector.stop()


def start_agent(tmp_path: Path, collector: CollectorProcess, ca_file: Path) -> Any:
    agent_dir = tmp_path / f"agent-{ca_file.stem}"
    agent_dir.mkdir()
    (agent_dir / "agent.token").write_text(AGENT_TOKEN + "\n")
    config = agent_dir / "agent.yaml"
    config.write_text(
        "agent: a1\n"
        f"collector: {{url: '{collector.url}', token_file: agent.token, timeout: 2,"
        f" ca_file: '{ca_file}'}}\n"
        f"spool: {{path: '{agent_dir}/spool.db'}}\n"
        "shipping: {batch_age: 0.1, backoff_initial: 0.2, backoff_max: 1}\n"
        "heartbeat: {interval: 1}\n"
        "defaults: {interval: 0.3, timeout: 0.2}\n"
        "targets:\n"
        "  - id: acd-1\n    system: acd\n    host: 127.0.0.1\n"
        f"    probes: [{{kind: tcp, target: '127.0.0.1:{collector.port}'}}]\n"
    )
    log = agent_dir / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline", "agent", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
        )  # fmt: skip
    return proc, agent_dir, log


def stored(collector: CollectorProcess) -> int:
    db = sqlite3.connect(f"file:{collector.dir}/store.db?mode=ro", uri=True)
    try:
        row = db.execute("SELECT count(*) FROM samples WHERE component = 'acd-1'").fetchone()
        return int(row[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def spooled(agent_dir: Path) -> int:
    db = sqlite3.connect(f"file:{agent_dir}/spool.db?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT coalesce(sum(count), 0) FROM results").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_agent_ships_over_https_trusting_the_collectors_ca(
    tmp_path: Path, tls_collector: CollectorProcess
) -> None:
    collector = tls_collector
    assert collector.url.startswith("https://")
    health = httpx.get(f"{collector.url}/healthz", verify=collector.verify, timeout=5)
    assert health.status_code == 200
    with pytest.raises(httpx.TransportError):  # plain http on the TLS port: no http answer
        httpx.get(f"http://127.0.0.1:{collector.port}/healthz", timeout=2).raise_for_status()
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{collector.url}/healthz", timeout=2)  # the system's CAs do not know it
    proc, _, log = start_agent(tmp_path, collector, collector.dir / "hotline-test-ca.pem")
    try:
        wait_for("results over https", lambda: stored(collector) >= 3)
        api = httpx.Client(
            base_url=collector.url,
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            verify=collector.verify,
            timeout=5,
        )
        with api:
            wait_for(
                "acd-1 up",
                lambda: any(
                    c["id"] == "acd-1" and c["state"] == "up"
                    for c in api.get("/api/v1/status").json()["components"]
                ),
            )
    finally:
        stop_process(proc)
        print(log.read_text()[-2000:])


def test_agent_trusting_another_ca_is_refused_and_keeps_its_spool(
    tmp_path: Path, tls_collector: CollectorProcess
) -> None:
    collector = tls_collector
    proc, agent_dir, log = start_agent(tmp_path, collector, collector.dir / "other-ca.pem")
    try:
        wait_for("a TLS error logged", lambda: "CERTIFICATE_VERIFY_FAILED" in log.read_text())
        wait_for("results spooled", lambda: spooled(agent_dir) >= 3)
        time.sleep(1)
    finally:
        stop_process(proc)
    text = log.read_text()
    assert "unreachable" in text, text[-2000:]
    assert stored(collector) == 0
    assert spooled(agent_dir) >= 3  # results (coalesced runs counted): none acknowledged


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("tls_cert_file: missing.pem\ntls_key_file: server.key\n", "tls_cert_file: cannot read"),
        ("tls_cert_file: server.pem\n", "give both tls_cert_file and tls_key_file"),
        ("tls_cert_file: server.pem\ntls_key_file: other.key\n", "tls_key_file: cannot use"),
        ("tls_cert_file: server.pem\ntls_key_file: collector.yaml\n", "is not a PEM file"),
    ],
)
def test_tls_files_are_checked_when_the_config_loads(
    tmp_path: Path, extra: str, message: str
) -> None:
    _, ca_key, ca_name = make_ca(tmp_path, "ca")
    make_server_cert(tmp_path, ca_key, ca_name)
    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "other.key").write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    collector = CollectorProcess(tmp_path, extra_config=extra)
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "collector", "--config", str(collector.config),
         "--listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert message in done.stderr
    assert f"{collector.config}:" in done.stderr
    assert "Traceback" not in done.stderr
