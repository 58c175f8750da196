"""Plain network peers: free ports, a port that refuses, servers that never answer."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

LOOPBACK = "127.0.0.1"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 right now (the kernel's choice)."""
    other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as first:
            first.bind((LOOPBACK, 0))
            port = first.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, other) as second:
                    second.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both TCP and UDP")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} not ready after {timeout:g} s")


def tcp_listening(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class SilentTcpServer:
    """Accepts connections and reads what is sent, never answering: a hung peer."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> SilentTcpServer:
        self._sock = socket.create_server((LOOPBACK, 0), backlog=128)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        for conn in self._conns:
            conn.close()


class BannerTcpServer(SilentTcpServer):
    """Accepts connections, sends `banner` at once, then reads without answering."""

    def __init__(self, banner: bytes = b"SSH-2.0-hotline-test\r\n") -> None:
        super().__init__()
        self.banner = banner

    def _drain(self, conn: socket.socket) -> None:
        try:
            conn.sendall(self.banner)
        except OSError:
            return
        super()._drain(conn)


class SilentUdpSocket:
    """A bound UDP socket that never answers (no ICMP port unreachable either)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port = 0

    def start(self) -> SilentUdpSocket:
        self._sock.bind((LOOPBACK, 0))
        self.port = self._sock.getsockname()[1]
        return self

    def stop(self) -> None:
        self._sock.close()


class ClosedTcpPort:
    """A port bound but not listening: connecting gets a RST (refused), reliably."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.port = 0

    def start(self) -> ClosedTcpPort:
        self._sock.bind((LOOPBACK, 0))
        self.port = self._sock.getsockname()[1]
        return self

    def stop(self) -> None:
        self._sock.close()


@pytest.fixture(scope="session")
def silent_tcp() -> Iterator[SilentTcpServer]:
    server = SilentTcpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def banner_tcp() -> Iterator[BannerTcpServer]:
    server = BannerTcpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def silent_udp() -> Iterator[SilentUdpSocket]:
    sock = SilentUdpSocket().start()
    yield sock
    sock.stop()


@pytest.fixture(scope="session")
def closed_port() -> Iterator[int]:
    port = ClosedTcpPort().start()
    yield port.port
    port.stop()
