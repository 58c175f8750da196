"""sip: does a SIP stack answer OPTIONS (RFC 3261 §11)?

Target: `sip:[USER@]HOST[:PORT][;transport=udp|tcp]` or `sips:…` (TLS, default port 5061);
the default port is 5060 and the default transport UDP. `USER@` lands in the Request-URI, so a
proxy can route the probe to a particular account or service.

Each probe is one non-INVITE transaction: a fresh Via branch (`z9hG4bK…`), From tag, Call-ID
and CSeq, all checked on the reply. Over UDP the request is retransmitted per RFC 3261 Timer E
(T1, doubling to T2 = 4 s; every T2 after a provisional reply) until the timeout. All probes of
one event loop share one UDP socket per address family and one connection per TCP/TLS peer.

Options:
- `alive_codes`: final status codes that mean "a working SIP stack answered", as a list of codes
  and ranges (default `200-299,401,403,404,405,407,481`).
- `username`, `password` (or `password_file` / `password_env`): answer a 401/407 Digest challenge
  (MD5 or SHA-256, qop=auth). A second challenge, or a 403 after answering, is `auth_failed`.
- `from_uri` (default `sip:hotline@LOCAL_IP`), `user_agent` (default `hotline-probe`).
- `t1`: Timer A/E start interval in seconds (default 0.5).
- `tls_verify` (default true), `ca_file`: certificate checks for `sips:`.

Reasons: `ok` (final status in `alive_codes`; `status` in the result); `error_response` (any
other final status, e.g. 503); `auth_failed`; `timeout` (no final reply; the detail says whether
a provisional came); `refused` (TCP RST, or ICMP port unreachable over UDP); `unreachable`;
`dns_error`; `tls_error`; `unexpected_response` (a reply to our branch with the wrong Call-ID,
From tag or CSeq, or a TCP peer speaking something other than SIP); `config_error`.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import ssl
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes import options as opt
from probes.address import split_host_port
from probes.errors import describe, reason_for
from probes.result import ProbeResult, Reason
from probes.sipmsg import (
    Dialog,
    Response,
    SipParseError,
    build_options,
    digest_authorization,
    new_branch,
    new_dialog,
    new_token,
    parse_challenge,
    parse_response,
    split_message,
)
from probes.spec import KindSpec

log = logging.getLogger(__name__)

_KNOWN = {
    "alive_codes",
    "username",
    *opt.secret_names("password"),
    "from_uri",
    "user_agent",
    "t1",
    "tls_verify",
    "ca_file",
}
DEFAULT_ALIVE = "200-299,401,403,404,405,407,481"
T2 = 4.0
_MAX_STREAM_BUFFER = 256 * 1024
# Linux values; the socket module names them only from Python 3.12 on.
_IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)


@dataclass(frozen=True, slots=True)
class SipTarget:
    scheme: str  # sip | sips
    user: str | None
    host: str
    port: int
    transport: str  # udp | tcp | tls

    @property
    def request_uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}:{user}{host}:{self.port}"


@functools.lru_cache(maxsize=4096)
def parse_target(target: str) -> SipTarget:
    text = target.strip()
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in ("sip", "sips"):
        raise opt.OptionError(f"target {target!r}: expected sip:HOST[:PORT][;transport=tcp]")
    hostport, *params = rest.split(";")
    transport = "tls" if scheme == "sips" else "udp"
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "transport":
            transport = value.strip().lower()
    if scheme == "sips" and transport in ("tcp", "tls"):
        transport = "tls"
    if transport not in ("udp", "tcp", "tls"):
        raise opt.OptionError(f"target {target!r}: transport must be udp, tcp or tls")
    user, at, hostpart = hostport.rpartition("@")
    if not at:
        user, hostpart = "", hostport
    default_port = 5061 if transport == "tls" else 5060
    host, port = split_host_port(hostpart, default_port)
    return SipTarget(scheme, user or None, host, port, transport)


class _Txn:
    """One client transaction waiting for its final response."""

    __slots__ = ("addr", "future", "provisional")

    def __init__(self, future: asyncio.Future, addr: Any) -> None:
        self.future = future
        self.addr = addr
        self.provisional = False


class _Dispatcher:
    """Routes replies to transactions by Via branch."""

    def __init__(self) -> None:
        self.txns: dict[str, _Txn] = {}

    def deliver(self, data: bytes) -> None:
        try:
            response = parse_response(data)
        except SipParseError:
            return  # stray datagram: not ours to judge
        txn = self.txns.get(response.branch or "")
        if txn is None or txn.future.done():
            return
        if response.status < 200:
            txn.provisional = True
        else:
            txn.future.set_result(response)

    def fail(self, exc: BaseException, addr: Any = None) -> None:
        for txn in list(self.txns.values()):
            if (addr is None or txn.addr == addr) and not txn.future.done():
                txn.future.set_exception(exc)


class _UdpEndpoint(asyncio.DatagramProtocol, _Dispatcher):
    """One unconnected UDP socket per family, shared by every probe of the loop.

    IP_RECVERR makes the kernel report ICMP port unreachable on it; the error queue names the
    destination, so only that peer's transactions end `refused`.
    """

    def __init__(self, sock: socket.socket) -> None:
        _Dispatcher.__init__(self)
        self.sock = sock
        self.transport: asyncio.DatagramTransport | None = None
        self.port = sock.getsockname()[1]
        self._source: dict[str, str] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.deliver(data)

    def error_received(self, exc: Exception) -> None:
        while True:
            try:
                _, _, _, addr = self.sock.recvmsg(1, 1024, socket.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            key = (addr[0], addr[1])
            self.fail(ConnectionRefusedError(exc.errno, "ICMP port unreachable"), key)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ConnectionError("UDP socket closed"))

    def source_ip(self, dest_ip: str) -> str:
        """The local address the kernel routes to `dest_ip` from (for Via sent-by)."""
        found = self._source.get(dest_ip)
        if found is None:
            with socket.socket(self.sock.family, socket.SOCK_DGRAM) as probe_sock:
                probe_sock.connect((dest_ip, 9))
                found = probe_sock.getsockname()[0]
            self._source[dest_ip] = found
        return found


class _StreamConnection(asyncio.Protocol, _Dispatcher):
    """One TCP or TLS connection to a peer, shared by the loop's probes of that peer."""

    def __init__(self) -> None:
        _Dispatcher.__init__(self)
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            try:
                split = split_message(self.buffer)
            except SipParseError as exc:
                self._broken(f"peer sent a malformed SIP message: {exc}")
                return
            if split is None:
                if len(self.buffer) > _MAX_STREAM_BUFFER:
                    self._broken("peer sent an oversized message")
                return
            message, self.buffer = split
            if not message.startswith(b"SIP/2.0 "):
                if message.split(b" ", 1)[0].isalpha() and b"SIP/2.0" in message[:200]:
                    continue  # a request from the peer (keep-alive etc.): not ours
                self._broken(f"peer does not speak SIP: {message[:40]!r}")
                return
            self.deliver(message)

    def _broken(self, why: str) -> None:
        self.closed = True
        self.fail(_ProtocolViolation(why))
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(ConnectionResetError("connection closed by the peer"))


class _ProtocolViolation(Exception):
    pass


class _LoopState:
    """The sockets of one event loop."""

    def __init__(self) -> None:
        self.udp: dict[int, _UdpEndpoint] = {}
        self.udp_lock = asyncio.Lock()
        self.streams: dict[tuple, _StreamConnection] = {}
        self.connecting: dict[tuple, asyncio.Future] = {}


_STATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
    weakref.WeakKeyDictionary()
)


def _state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _STATES.get(loop)
    if state is None:
        state = _STATES[loop] = _LoopState()
    return state


async def _udp_endpoint(family: int) -> _UdpEndpoint:
    state = _state()
    endpoint = state.udp.get(family)
    if endpoint is not None:
        return endpoint
    async with state.udp_lock:
        endpoint = state.udp.get(family)
        if endpoint is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
            sock.bind(("0.0.0.0" if family == socket.AF_INET else "::", 0))
            loop = asyncio.get_running_loop()
            _, endpoint = await loop.create_datagram_endpoint(lambda: _UdpEndpoint(sock), sock=sock)
            state.udp[family] = endpoint
    return endpoint


async def _stream(
    addr: tuple, tls: ssl.SSLContext | None, server_name: str
) -> tuple[_StreamConnection, bool]:
    """The loop's connection to `addr` and whether it was already open (reused)."""
    state = _state()
    key = (addr, id(tls) if tls else None)
    conn = state.streams.get(key)
    if conn is not None and not conn.closed:
        return conn, True
    pending = state.connecting.get(key)
    if pending is not None:
        return await asyncio.shield(pending), False
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()
    state.connecting[key] = future
    try:
        _, conn = await loop.create_connection(
            _StreamConnection,
            addr[0],
            addr[1],
            ssl=tls,
            server_hostname=server_name if tls else None,
        )
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters re-raise it
        raise
    else:
        state.streams[key] = conn
        future.set_result(conn)
        return conn, False
    finally:
        state.connecting.pop(key, None)


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> tuple[int, str] | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), str(ip)


async def _resolve(host: str, port: int, transport: str) -> tuple[int, tuple]:
    literal = _literal(host)
    if literal is not None:
        return literal[0], (literal[1], port)
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=kind)
    family, _, _, _, sockaddr = infos[0]
    return family, (sockaddr[0], sockaddr[1])


def _tls_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        message = f"option 'ca_file': cannot read {ca_file}: {detail}"
        raise opt.OptionError(message, "ca_file") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


_TLS_CONTEXTS: dict[tuple, ssl.SSLContext] = {}


@dataclass(frozen=True, slots=True)
class SipCheck:
    """One parsed sip check (see the module's documentation for the options)."""

    target: SipTarget
    alive: frozenset[int]
    username: str | None
    password: str | None = field(repr=False)
    t1: float = 0.5
    from_uri: str | None = None
    user_agent: str = "hotline-probe"
    ca_file: str | None = None
    tls_verify: bool = True


def parse(target: str, options: Mapping[str, Any]) -> SipCheck:
    """The check `target` and `options` describe; OptionError naming what is wrong."""
    opt.check_known(options, _KNOWN)
    sip_target = parse_target(target)
    alive = opt.codes(options, "alive_codes", DEFAULT_ALIVE)
    username = opt.text(options, "username")
    password = opt.secret(options, "password")
    if (username is None) != (password is None):
        raise opt.OptionError(
            "options 'username' and 'password' go together",
            "password" if username is not None else "username",
        )
    t1 = opt.number(options, "t1", 0.5, minimum=0.01)
    assert t1 is not None
    return SipCheck(
        target=sip_target,
        alive=alive,
        username=username,
        password=password,
        t1=t1,
        from_uri=opt.text(options, "from_uri"),
        user_agent=opt.text(options, "user_agent", "hotline-probe") or "hotline-probe",
        ca_file=opt.readable_file(options, "ca_file"),
        tls_verify=opt.flag(options, "tls_verify", True),
    )


async def prepare() -> None:
    """Open this loop's IPv4 UDP socket before the first probe is timed."""
    await _udp_endpoint(socket.AF_INET)


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    start = time.perf_counter()
    result = await _probe_once(target, options, timeout, retry_stale=True)
    if result is None:  # a kept TCP/TLS connection was closed under us: once more, fresh
        remaining = max(0.001, timeout - (time.perf_counter() - start))
        result = await _probe_once(target, options, remaining, retry_stale=False)
    assert result is not None
    return result


async def _probe_once(
    target: str, options: Mapping[str, Any], timeout: float, retry_stale: bool
) -> ProbeResult | None:
    parsed = parse(target, options)
    sip_target, alive, t1 = parsed.target, parsed.alive, parsed.t1
    username, password = parsed.username, parsed.password
    tls = None
    if sip_target.transport == "tls":
        key = (parsed.ca_file, parsed.tls_verify)
        tls = _TLS_CONTEXTS.get(key) or _TLS_CONTEXTS.setdefault(
            key, _tls_context(parsed.ca_file, parsed.tls_verify)
        )
    where = f"{sip_target.host}:{sip_target.port}/{sip_target.transport}"

    start = time.perf_counter()
    deadline = start + timeout
    reused = False
    try:
        family, addr = await _resolve(sip_target.host, sip_target.port, sip_target.transport)
        if sip_target.transport == "udp":
            endpoint: _UdpEndpoint | _StreamConnection = await _udp_endpoint(family)
            sent_by_host = endpoint.source_ip(addr[0])  # type: ignore[union-attr]
            sent_by = f"{_bracket(sent_by_host)}:{endpoint.port}"  # type: ignore[union-attr]
        else:
            async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                endpoint, reused = await _stream(addr, tls, sip_target.host)
            assert endpoint.transport is not None
            local = endpoint.transport.get_extra_info("sockname")
            sent_by_host = local[0]
            sent_by = f"{_bracket(local[0])}:{local[1]}"
    except TimeoutError:
        return ProbeResult(Reason.TIMEOUT, f"no connection to {where} within {timeout:g} s")
    except (OSError, ssl.SSLError) as exc:
        return ProbeResult(reason_for(exc), f"{where}: {describe(exc)}")

    from_uri = parsed.from_uri or f"sip:hotline@{_bracket(sent_by_host)}"
    user_agent = parsed.user_agent
    dialog = new_dialog()

    def request(dialog: Dialog, branch: str, authorization: tuple[str, str] | None) -> bytes:
        return build_options(
            sip_target.request_uri,
            "tls" if sip_target.transport == "tls" else sip_target.transport,
            sent_by,
            branch,
            dialog,
            from_uri,
            user_agent,
            authorization,
        )

    try:
        branch = new_branch()
        response = await _transact(
            endpoint, addr, request(dialog, branch, None), branch, t1, deadline
        )
        _check_echo(response, dialog)
        authenticated = False
        if response.status in (401, 407) and username is not None and password is not None:
            authorization = _answer(response, sip_target.request_uri, username, password)
            dialog = Dialog(dialog.call_id, dialog.from_tag, dialog.cseq + 1)
            branch = new_branch()
            message = request(dialog, branch, authorization)
            response = await _transact(endpoint, addr, message, branch, t1, deadline)
            _check_echo(response, dialog)
            authenticated = True
    except TimeoutError as exc:
        provisional = " (a provisional reply came, no final one)" if exc.args else ""
        return ProbeResult(
            Reason.TIMEOUT, f"no final reply from {where} in {timeout:g} s{provisional}"
        )
    except _EchoMismatch as exc:
        return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{where}: {exc}")
    except _ProtocolViolation as exc:
        return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{where}: {exc}")
    except _ChallengeError as exc:
        return ProbeResult(Reason.AUTH_FAILED, f"{where}: {exc}")
    except (OSError, ssl.SSLError) as exc:
        if reused and retry_stale and isinstance(exc, ConnectionResetError | BrokenPipeError):
            return None
        return ProbeResult(reason_for(exc), f"{where}: {describe(exc)}")

    latency = (time.perf_counter() - start) * 1000
    extra = {"status": response.status}
    status_text = f"{response.status} {response.phrase}".strip()
    if authenticated and response.status in (401, 403, 407):
        return ProbeResult(
            Reason.AUTH_FAILED,
            f"{where} refused our credentials: {status_text}",
            latency,
            extra=extra,
        )
    if response.status in alive:
        return ProbeResult(Reason.OK, f"{where} answered {status_text}", latency, extra=extra)
    return ProbeResult(
        Reason.ERROR_RESPONSE, f"{where} answered {status_text}", latency, extra=extra
    )


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _EchoMismatch(Exception):
    pass


class _ChallengeError(Exception):
    pass


def _check_echo(response: Response, dialog: Dialog) -> None:
    """The reply to our branch must carry our Call-ID, From tag and CSeq (RFC 3261 §8.1.3.3)."""
    if response.headers.get("call-id") != dialog.call_id:
        raise _EchoMismatch(f"reply Call-ID {response.headers.get('call-id')!r} is not ours")
    if response.from_tag != dialog.from_tag:
        raise _EchoMismatch(f"reply From tag {response.from_tag!r} is not ours")
    if response.cseq != (dialog.cseq, "OPTIONS"):
        raise _EchoMismatch(f"reply CSeq {response.headers.get('cseq')!r} is not ours")


def _answer(response: Response, uri: str, username: str, password: str) -> tuple[str, str]:
    wanted = "www-authenticate" if response.status == 401 else "proxy-authenticate"
    for challenge in response.challenges:
        name, _, value = challenge.partition(":")
        params = parse_challenge(value)
        if name == wanted and params:
            try:
                value = digest_authorization(
                    params, "OPTIONS", uri, username, password, new_token()
                )
            except ValueError as exc:
                raise _ChallengeError(str(exc)) from None
            header = "Authorization" if response.status == 401 else "Proxy-Authorization"
            return header, value
    raise _ChallengeError(f"{response.status} without a Digest challenge")


async def _transact(
    endpoint: _UdpEndpoint | _StreamConnection,
    addr: tuple,
    message: bytes,
    branch: str,
    t1: float,
    deadline: float,
) -> Response:
    """Send, retransmit over UDP (Timer E), and wait for the final response until `deadline`.

    One timer chain per transaction does both the retransmissions and the deadline: at
    thousands of probes per second, every extra timer costs heap work in the event loop.
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    txn = _Txn(future, addr)
    endpoint.txns[branch] = txn
    end = loop.time() + max(0.0, deadline - time.perf_counter())
    udp = endpoint.transport if isinstance(endpoint, _UdpEndpoint) else None
    interval = t1
    handle: asyncio.TimerHandle | None = None

    def tick() -> None:
        nonlocal handle, interval
        if future.done():
            return
        now = loop.time()
        if now >= end - 0.0005:
            future.set_exception(TimeoutError(*(("provisional",) if txn.provisional else ())))
            return
        if udp is not None and not udp.is_closing():
            udp.sendto(message, addr)
            interval = T2 if txn.provisional else min(interval * 2, T2)
            handle = loop.call_at(min(now + interval, end), tick)
        else:
            handle = loop.call_at(end, tick)

    try:
        assert endpoint.transport is not None
        if udp is not None:
            udp.sendto(message, addr)
            handle = loop.call_at(min(loop.time() + t1, end), tick)
        else:
            endpoint.transport.write(message)
            handle = loop.call_at(end, tick)
        return await future
    finally:
        if handle is not None:
            handle.cancel()
        endpoint.txns.pop(branch, None)


SPEC = KindSpec(
    kind="sip",
    probe=probe,
    parse=parse,
    default_target="sip:{host_uri}",
    concurrency=512,
    files=frozenset({"ca_file"}),
    prepare=prepare,
)
