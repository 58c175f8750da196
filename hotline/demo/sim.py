"""The simulated hotline: SIP responders (ACDs, IVR nodes, seat phones) answering OPTIONS with
200, an HTTP service standing in for the CTI, and the HTTP sink the alerts are sent to (apprise
`json://`). One asyncio loop in a daemon thread; each device can be stopped and started again.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Callable
from typing import Any


def _header(lines: list[str], *names: str) -> list[str]:
    wanted = {n.lower() for n in names}
    return [line for line in lines if line.split(":", 1)[0].strip().lower() in wanted]


def sip_reply(request: bytes) -> bytes | None:
    """The 200 OK for a SIP request (None for anything that is not a request)."""
    try:
        text = request.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - decode with replace does not fail
        return None
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    if not lines or lines[0].startswith("SIP/2.0") or " SIP/2.0" not in lines[0]:
        return None
    to = _header(lines, "to", "t")
    if to and ";tag=" not in to[0]:
        to = [to[0] + ";tag=demo1"]
    out = [
        "SIP/2.0 200 OK",
        *_header(lines, "via", "v"),
        *_header(lines, "from", "f"),
        *to,
        *_header(lines, "call-id", "i"),
        *_header(lines, "cseq"),
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS",
        "Server: hotline-demo",
        "Content-Length: 0",
    ]
    return ("\r\n".join(out) + "\r\n\r\n").encode()


class _Sip(asyncio.DatagramProtocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = sip_reply(data)
        if reply is not None:
            self.transport.sendto(reply, addr)


async def _http(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_body: Callable[[str, bytes], None] | None,
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
        if on_body is not None:
            on_body(path, body)
        payload = b'{"status": "ok"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        pass
    finally:
        writer.close()


class Hotline:
    """Devices on 127.0.0.1, each on its own port; `stop(name)` / `start(name)` while running."""

    def __init__(self, sip_devices: list[str], http_devices: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.ports: dict[str, int] = {}
        self.kind = {**dict.fromkeys(sip_devices, "sip"), **dict.fromkeys(http_devices, "http")}
        self._servers: dict[str, Any] = {}
        self.alerts: queue.Queue[dict[str, Any]] = queue.Queue()
        self.sink_port = 0

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def __enter__(self) -> Hotline:
        self.thread.start()
        for name in self.kind:
            self.start(name)
        self.sink_port = self._call(self._open_sink())
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self._servers):
            self.stop(name)
        self._call(self._close_sink())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _open_sink(self) -> int:
        def received(path: str, body: bytes) -> None:
            try:
                alert = json.loads(body or b"{}")
            except ValueError:
                alert = {"message": body.decode("utf-8", "replace")}
            if not isinstance(alert, dict):
                alert = {"message": str(alert)}
            alert["route"] = path.strip("/")
            self.alerts.put(alert)

        self._sink = await asyncio.start_server(lambda r, w: _http(r, w, received), "127.0.0.1", 0)
        return int(self._sink.sockets[0].getsockname()[1])

    async def _close_sink(self) -> None:
        self._sink.close()
        await self._sink.wait_closed()

    async def _open(self, name: str) -> None:
        port = self.ports.get(name, 0)
        if self.kind[name] == "sip":
            transport, _ = await self.loop.create_datagram_endpoint(
                _Sip, local_addr=("127.0.0.1", port)
            )
            self._servers[name] = transport
            self.ports[name] = transport.get_extra_info("sockname")[1]
        else:
            server = await asyncio.start_server(
                lambda r, w: _http(r, w, None), "127.0.0.1", port, reuse_address=True
            )
            self._servers[name] = server
            self.ports[name] = server.sockets[0].getsockname()[1]

    async def _close(self, name: str) -> None:
        server = self._servers.pop(name, None)
        if server is None:
            return
        server.close()
        if self.kind[name] == "http":
            await server.wait_closed()

    def start(self, name: str) -> None:
        self._call(self._open(name))

    def stop(self, name: str) -> None:
        self._call(self._close(name))
