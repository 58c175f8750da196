"""A recording collector for agent tests: a real HTTP/1.1 server on 127.0.0.1.

It answers `POST /api/v1/results` with the contract's `202 {"accepted": N, "rejected": []}`
and `POST /api/v1/heartbeat` with 204, records every request, and can be switched off (the
port refuses connections, open keep-alive connections are cut), switched on again on the same
port, made to answer an error status, to reject chosen items, or to hold its answer.
The standard library's ThreadingHTTPServer is enough here and keeps the test dependency-free.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.peers.http import _self_signed  # the probes' HTTPS peer makes the same certificate
from tests.peers.net import LOOPBACK, free_port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the agent's client uses it
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if not receiver.up:
            self.close_connection = True
            self.connection.close()
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._answer(400, {"error": "not JSON"})
            return
        status, answer = receiver.handle(self.path, dict(self.headers), body)
        if receiver.delay:
            time.sleep(receiver.delay)
            if not receiver.up:
                self.close_connection = True
                self.connection.close()
                return
        self._answer(status, answer)

    def _answer(self, status: int, answer: Any) -> None:
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Receiver:
    """Records batches and heartbeats; `url` is its base URL."""

    def __init__(
        self, token: str = "test-token", port: int | None = None, tls_dir: Path | None = None
    ) -> None:
        self.token = token
        self.port = port or free_port()
        self.url = f"{'https' if tls_dir else 'http'}://{LOOPBACK}:{self.port}"
        self.ca_file: str | None = None
        self._context: ssl.SSLContext | None = None
        if tls_dir is not None:  # HTTPS with a fresh self-signed certificate for 127.0.0.1
            cert, key = _self_signed(tls_dir, 30)
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(cert, key)
            self.ca_file = str(cert)
        self.up = False
        self.status = 202  # answer for results
        self.delay = 0.0  # seconds to hold each answer
        self.max_results = 0  # answer 413 to batches with more results than this (0: no limit)
        self.reject: Callable[[dict[str, Any]], str | None] = lambda result: None
        self.batches: list[dict[str, Any]] = []  # every accepted request, retries included
        self.heartbeats: list[dict[str, Any]] = []
        self.refused: list[int] = []  # statuses answered other than 2xx
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        self._server = _Server((LOOPBACK, self.port), _Handler)
        if self._context is not None:
            self._server.socket = self._context.wrap_socket(self._server.socket, server_side=True)
        self._server.receiver = self
        self.up = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port; connections still open are cut at their next request."""
        self.up = False
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            with self._lock:
                self.refused.append(401)
            return 401, {"error": "bad token"}
        if path == "/api/v1/heartbeat":
            with self._lock:
                self.heartbeats.append(body)
            return 204, None
        if path != "/api/v1/results":
            return 404, {"error": "no such path"}
        if self.status != 202:
            with self._lock:
                self.refused.append(self.status)
            return self.status, {"error": f"test says {self.status}"}
        results = body.get("results", [])
        if self.max_results and len(results) > self.max_results:
            with self._lock:
                self.refused.append(413)
            return 413, {"error": "batch too large"}
        rejected = []
        for index, result in enumerate(results):
            error = self.reject(result)
            if error:
                rejected.append({"index": index, "field": "component", "error": error})
        with self._lock:
            self.batches.append(body)
        return 202, {"accepted": len(results) - len(rejected), "rejected": rejected}

    def unique_results(self) -> list[dict[str, Any]]:
        """Results as the collector stores them: each batch id once, in arrival order."""
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        with self._lock:
            batches = list(self.batches)
        for batch in batches:
            if batch["batch"] in seen:
                continue
            seen.add(batch["batch"])
            out.extend(batch["results"])
        return out

    def samples(self, component: str | None = None) -> int:
        """How many probe runs the unique results stand for (coalesced runs count n)."""
        return sum(
            r.get("count", 1)
            for r in self.unique_results()
            if component is None or r["component"] == component
        )
