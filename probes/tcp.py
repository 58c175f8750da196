"""tcp: can a TCP connection be opened to HOST:PORT?

Target: `HOST:PORT` (`[v6]:PORT` for IPv6).

Options:
- `send` (text, optional): bytes to send after connecting (`\\r\\n` escapes allowed).
- `expect` (regex, optional): the first bytes read (up to 4 KiB) must match it.

Reasons: `ok`; `refused` (RST); `timeout` (no SYN-ACK, or no answer matching `expect`);
`unreachable`; `dns_error`; `check_failed` (answer did not match `expect`);
`unexpected_response` (connection closed or reset before an answer);
`config_error` (bad target or option).
Latency is the time to connect (plus the exchange when `expect` is given).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any

from probes import options as opt
from probes.address import split_host_port
from probes.errors import describe, reason_for
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec

_KNOWN = {"send", "expect"}


def parse(
    target: str, options: Mapping[str, Any]
) -> tuple[str, int, str | None, re.Pattern[bytes] | None]:
    """(host, port, send, expect) of the check; OptionError naming what is wrong."""
    opt.check_known(options, _KNOWN)
    host, port = split_host_port(target)
    send = opt.text(options, "send")
    expect_text = opt.text(options, "expect")
    try:
        expect = re.compile(expect_text.encode()) if expect_text else None
    except re.error as exc:
        raise opt.OptionError(f"option 'expect' is not a valid regex: {exc}", "expect") from None
    return host, port, send, expect


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    host, port, send, expect = parse(target, options)

    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return ProbeResult(Reason.TIMEOUT, f"no connection to {host}:{port} within {timeout:g} s")
    except OSError as exc:
        return ProbeResult(reason_for(exc), f"connect to {host}:{port}: {describe(exc)}")
    try:
        latency = (time.perf_counter() - start) * 1000
        if send is None and expect is None:
            return ProbeResult(Reason.OK, f"connected to {host}:{port}", latency)
        return await _exchange(reader, writer, send, expect, start, timeout)
    finally:
        writer.transport.abort()  # no FIN dance: a probe must not leave TIME_WAIT work behind


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    send: str | None,
    expect: re.Pattern[bytes] | None,
    start: float,
    timeout: float,
) -> ProbeResult:
    remaining = max(0.0, timeout - (time.perf_counter() - start))
    received = b""
    try:
        async with asyncio.timeout(remaining):
            if send is not None:
                writer.write(send.encode().decode("unicode_escape").encode("latin-1"))
                await writer.drain()
            if expect is None:
                return ProbeResult(Reason.OK, "sent", (time.perf_counter() - start) * 1000)
            while len(received) < 4096:
                chunk = await reader.read(4096 - len(received))
                if not chunk:
                    break
                received += chunk
                if expect.search(received):
                    latency = (time.perf_counter() - start) * 1000
                    return ProbeResult(Reason.OK, "answer matched", latency)
    except TimeoutError:
        if received:  # it answered, just not what we expect
            return ProbeResult(
                Reason.CHECK_FAILED, f"answer {received[:80]!r} does not match 'expect'"
            )
        return ProbeResult(Reason.TIMEOUT, f"no answer within {timeout:g} s")
    except OSError as exc:
        return ProbeResult(reason_for(exc), f"exchange: {describe(exc)}")
    latency = (time.perf_counter() - start) * 1000
    if not received:
        detail = "connection closed without an answer"
        return ProbeResult(Reason.UNEXPECTED_RESPONSE, detail, latency)
    return ProbeResult(
        Reason.CHECK_FAILED, f"answer {received[:80]!r} does not match 'expect'", latency
    )


SPEC = KindSpec(kind="tcp", probe=probe, parse=parse, concurrency=512)
