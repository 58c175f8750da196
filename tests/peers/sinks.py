"""Loopback receivers that record what arrived: an HTTP sink for apprise's `json://` and an
SMTP sink (aiosmtpd) for `mailto://`. Each runs in its own thread on 127.0.0.1.

`HttpSink().json_url("route")` is the apprise URL to post to; `.received` the JSON bodies in
arrival order (with the path under `"_path"`); `.fail_next(n)` answers the next n posts 500.
`SmtpSink().mailto_url()` is a plain (no TLS) apprise mail URL; `.received` the messages.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.peers.net import LOOPBACK, free_port


class HttpSink:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._fail = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with sink._lock:
                    failing = sink._fail > 0
                    if failing:
                        sink._fail -= 1
                    else:
                        body = json.loads(raw or b"{}")
                        body["_path"] = self.path
                        sink.received.append(body)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def json_url(self, path: str = "hook") -> str:
        return f"json://{LOOPBACK}:{self.port}/{path}"

    def fail_next(self, n: int) -> None:
        with self._lock:
            self._fail = n

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmtpSink:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[EmailMessage] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                sink.received.append(msg)  # type: ignore[arg-type]
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname=LOOPBACK, port=self.port)
        self._controller.start()

    def mailto_url(self, to: str = "oncall@example.cn") -> str:
        """Plain SMTP on loopback: `mailto://` (not `mailtos://`) is apprise's insecure mode;
        no user/pass, as the sink offers no AUTH."""
        return f"mailto://{LOOPBACK}:{self.port}?from=hotline@example.cn&to={to}"

    def texts(self) -> list[tuple[str, str]]:
        """(subject, plain-text body) of each message received."""
        out = []
        for m in self.received:
            part = m.get_body(("plain",))
            out.append((str(m["Subject"]), part.get_content() if part is not None else ""))
        return out

    def close(self) -> None:
        self._controller.stop()


def wait_for(what: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until `what()` is truthy (returned) or fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"nothing arrived within {timeout} s")


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    try:
        yield sink
    finally:
        sink.close()
