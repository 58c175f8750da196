"""icmp: does HOST answer ICMP echo (ping)? IPv4.

Target: `HOST` (a name or IPv4 address).

Uses an unprivileged ICMP datagram socket where `net.ipv4.ping_group_range` allows this
process's group, otherwise a raw socket (root or CAP_NET_RAW).

Options:
- `count` (default 1, at most 20): echo requests sent, `interval` (default 0.2 s) apart.
- `min_replies` (default 1): replies needed for ok.
- `max_rtt_ms`: the average round trip must not exceed it.

Reasons: `ok` (latency = average round trip; `sent`, `received` in the result);
`timeout` (fewer than `min_replies` replies in time); `unreachable` (an ICMP destination
unreachable or time exceeded came back for our request); `check_failed` (`max_rtt_ms`
exceeded); `dns_error`; `config_error` (bad option, IPv6 target, or neither socket kind
permitted — the detail says what to change).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import socket
import struct
import time
from collections.abc import Mapping
from typing import Any

from probes import options as opt
from probes.errors import describe, reason_for
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec

_KNOWN = {"count", "interval", "min_replies", "max_rtt_ms"}
_ECHO_REQUEST, _ECHO_REPLY, _UNREACHABLE, _TIME_EXCEEDED = 8, 0, 3, 11


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, ident, seq)
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", _ECHO_REQUEST, 0, checksum, ident, seq) + payload


def _open() -> tuple[socket.socket, bool]:
    """(socket, raw?) — datagram if the kernel lets us, raw otherwise."""
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP), False
    except PermissionError:
        pass
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), True
    except PermissionError:
        raise opt.OptionError(
            "icmp needs net.ipv4.ping_group_range to include this process's group "
            f"(gid {os.getgid()}) or root / CAP_NET_RAW"
        ) from None


def parse_reply(data: bytes, raw: bool) -> tuple[int, int | None, int | None, bytes]:
    """(type, ident, seq, payload) of an ICMP message; for errors, ident/seq of our request."""
    if raw:
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return -1, None, None, b""
    kind, _, _, ident, seq = struct.unpack("!BBHHH", data[:8])
    if kind in (_UNREACHABLE, _TIME_EXCEEDED):
        inner = data[8:]
        if len(inner) < 28:
            return kind, None, None, b""
        inner_icmp = inner[(inner[0] & 0x0F) * 4 :]
        if len(inner_icmp) < 8:
            return kind, None, None, b""
        _, _, _, ident, seq = struct.unpack("!BBHHH", inner_icmp[:8])
        return kind, ident, seq, b""
    return kind, ident, seq, data[8:]


def parse(target: str, options: Mapping[str, Any]) -> tuple[str, int, float, int, float | None]:
    """(host, count, interval, min_replies, max_rtt_ms); OptionError naming what is wrong."""
    opt.check_known(options, _KNOWN)
    count = opt.integer(options, "count", 1, minimum=1, maximum=20)
    interval = opt.number(options, "interval", 0.2, minimum=0.01)
    min_replies = opt.integer(options, "min_replies", 1, minimum=1)
    max_rtt = opt.number(options, "max_rtt_ms", minimum=0)
    assert count is not None and interval is not None and min_replies is not None
    if min_replies > count:
        raise opt.OptionError("option 'min_replies' cannot exceed 'count'", "min_replies")
    host = target.strip()
    if not host:
        raise opt.OptionError("target is empty")
    return host, count, interval, min_replies, max_rtt


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    host, count, interval, min_replies, max_rtt = parse(target, options)
    loop = asyncio.get_running_loop()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = await loop.getaddrinfo(host, None, family=socket.AF_INET)
        except OSError as exc:
            return ProbeResult(Reason.DNS_ERROR, f"{host}: {describe(exc)}")
        address = ipaddress.ip_address(infos[0][4][0])
    if address.version != 4:
        raise opt.OptionError(f"target {target!r}: only IPv4 is supported by the icmp probe")
    ip = str(address)

    sock, raw = _open()
    sock.setblocking(False)
    ident = random.getrandbits(16)
    marker = os.urandom(8)
    sent_at: dict[int, float] = {}
    rtts: list[float] = []
    unreachable: list[str] = []
    start = time.perf_counter()

    async def sender() -> None:
        for seq in range(1, count + 1):
            sent_at[seq] = time.perf_counter()
            await loop.sock_sendto(sock, echo_request(ident, seq, marker), (ip, 0))
            if seq < count:
                await asyncio.sleep(interval)

    async def receiver() -> None:
        while len(rtts) < count:
            data = await loop.sock_recv(sock, 2048)
            kind, got_ident, seq, payload = parse_reply(data, raw)
            mine = seq in sent_at and (not raw or got_ident == ident)
            if kind == _ECHO_REPLY and mine and payload == marker:
                rtts.append((time.perf_counter() - sent_at.pop(seq)) * 1000)
            elif kind in (_UNREACHABLE, _TIME_EXCEEDED) and mine:
                unreachable.append("destination unreachable" if kind == _UNREACHABLE else "ttl")
                sent_at.pop(seq, None)
                if count - len(unreachable) < min_replies:
                    return

    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(sender(), receiver())
    except TimeoutError:
        pass
    except OSError as exc:
        if not rtts:
            return ProbeResult(reason_for(exc), f"{ip}: {describe(exc)}")
    finally:
        sock.close()
    extra = {"sent": count, "received": len(rtts)}
    if len(rtts) < min_replies:
        if unreachable:
            return ProbeResult(Reason.UNREACHABLE, f"{ip}: {unreachable[0]}", extra=extra)
        detail = f"{ip}: {len(rtts)} of {count} echo replies within {timeout:g} s"
        return ProbeResult(Reason.TIMEOUT, detail, extra=extra)
    average = sum(rtts) / len(rtts)
    elapsed = (time.perf_counter() - start) * 1000
    extra["elapsed_ms"] = round(elapsed, 3)
    if max_rtt is not None and average > max_rtt:
        detail = f"{ip}: average round trip {average:.3f} ms > {max_rtt:g} ms"
        return ProbeResult(Reason.CHECK_FAILED, detail, average, extra=extra)
    return ProbeResult(Reason.OK, f"{ip}: {len(rtts)}/{count} replies", average, extra=extra)


SPEC = KindSpec(kind="icmp", probe=probe, parse=parse, default_target="{host}", concurrency=256)
