"""A loopback HTTP sink for runbook webhooks: records each POST (path, headers, JSON body).

`RunbookSink().start()`; `.url` is its base URL; `.received` the requests so far; a POST to
`/fail` answers 500, to `/slow` after `SLOW_SECONDS`. `.stop()` when done.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.peers.net import LOOPBACK

SLOW_SECONDS = 5.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON (None if it was not JSON)


class RunbookSink:
    def __init__(self) -> None:
        self.received: list[Received] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                sink.received.append(Received(self.path, dict(self.headers.items()), body))
                if self.path == "/slow":
                    time.sleep(SLOW_SECONDS)
                status, text = (500, b"broken\n") if self.path == "/fail" else (200, b"done\n")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> RunbookSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def runbook_sink() -> Iterator[RunbookSink]:
    sink = RunbookSink().start()
    yield sink
    sink.stop()
