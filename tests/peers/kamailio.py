"""A real kamailio answering SIP OPTIONS on 127.0.0.1 (UDP and TCP, same free port).

Routing by Request-URI user, so one server covers every outcome a probe must tell apart:
- (none) or any other user: 200 OK
- `busy`: 503 Service Unavailable          - `gone`: 404 Not Found
- `slow`: 100 Trying, then nothing          - `silent`: nothing at all
- `secure`: Digest (WWW-Authenticate, realm `hotline.test`) for `alice` / `s3cret`, then 200
- `proxyauth`: the same through Proxy-Authenticate (407)

`Kamailio(port=…)` takes a fixed port (sipsak cuts 5-digit ports, so benchmarks pass a 4-digit
one). Outside pytest: `k = Kamailio().start(); …; k.stop()`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.net import LOOPBACK, free_port, stop_process

REALM = "hotline.test"
USERNAME = "alice"
PASSWORD = "s3cret"

_CONFIG = """#!KAMAILIO
debug=1
log_stderror=yes
memdbg=5
memlog=5
children={children}
tcp_children={children}
auto_aliases=no
listen=udp:{host}:{port}
listen=tcp:{host}:{port}
mpath="{mpath}"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "auth.so"
loadmodule "textops.so"

request_route {{
    if ($rU == "silent") {{
        drop;
    }}
    if ($rU == "slow") {{
        sl_send_reply("100", "Trying");
        drop;
    }}
    if ($rU == "busy") {{
        sl_send_reply("503", "Service Unavailable");
        exit;
    }}
    if ($rU == "gone") {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    if ($rU == "secure") {{
        if ($au != "{username}" || !pv_www_authenticate("{realm}", "{password}", "0")) {{
            www_challenge("{realm}", "1");
            exit;
        }}
    }}
    if ($rU == "proxyauth") {{
        if ($au != "{username}" || !pv_proxy_authenticate("{realm}", "{password}", "0")) {{
            proxy_challenge("{realm}", "1");
            exit;
        }}
    }}
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""

_MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules")


def _module_dir() -> str:
    for candidate in _MODULE_DIRS:
        if Path(candidate, "sl.so").exists():
            return candidate + "/"
    found = sorted(Path("/usr/lib").glob("**/kamailio/modules/sl.so"))
    if not found:
        raise RuntimeError("kamailio modules (sl.so) not found under /usr/lib")
    return str(found[0].parent) + "/"


def options_answered(port: int, host: str = LOOPBACK, timeout: float = 0.3) -> bool:
    """Send one OPTIONS over UDP and say whether any SIP reply came back."""
    branch = "z9hG4bK" + uuid.uuid4().hex
    message = (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:9;branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:ready@{host}>;tag=ready\r\nTo: <sip:{host}:{port}>\r\n"
        f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(message, (host, port))
            return sock.recv(4096).startswith(b"SIP/2.0 ")
        except OSError:
            return False


class Kamailio:
    def __init__(self, port: int | None = None, children: int = 2) -> None:
        self.host = LOOPBACK
        self.port = port or free_port()
        self.children = children
        self._dir: str | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def log_path(self) -> Path:
        assert self._dir is not None
        return Path(self._dir, "kamailio.log")

    def start(self, timeout: float = 15.0) -> Kamailio:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        self._dir = tempfile.mkdtemp(prefix="hotline-kamailio-")
        config = Path(self._dir, "kamailio.cfg")
        config.write_text(
            _CONFIG.format(
                host=self.host,
                port=self.port,
                children=self.children,
                mpath=_module_dir(),
                realm=REALM,
                username=USERNAME,
                password=PASSWORD,
            )
        )
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [binary, "-DD", "-E", "-Y", self._dir, "-f", str(config), "-m", "64", "-M", "8"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                output = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"kamailio exited: {output}")
            if options_answered(self.port):
                return self
        self.stop()
        raise RuntimeError(f"kamailio did not answer OPTIONS within {timeout:g} s")

    def stop(self) -> None:
        stop_process(self._proc)
        if self._log is not None:
            self._log.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Kamailio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def kamailio() -> Iterator[Kamailio]:
    from tests.conftest import require_program

    require_program("kamailio", "the SIP probe is tested against a real kamailio")
    server = Kamailio().start()
    yield server
    server.stop()
