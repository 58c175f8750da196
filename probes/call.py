"""call: does a call get through and hear the prompt? A synthetic SIP call (RFC 3261 INVITE,
SDP offer/answer per RFC 3264, RTP per RFC 3550, DTMF per RFC 4733).

Target: `sip:[USER@]HOST[:PORT][;transport=udp|tcp]`, the IVR access number or a test
extension (`sip:12345@10.20.0.21`); UDP by default, port 5060.

One check is one call: INVITE offering PCMU (0), PCMA (8) and telephone-event (101) at 20 ms;
on 200 OK the ACK goes to the Contact of the 200 (through its Record-Route, reversed, if any);
then RTP is received for `seconds` while a silence frame is sent every 20 ms (so an SBC or NAT
latches onto us) and, if asked, DTMF digits; then BYE, again to the Contact of the 200, and its
answer awaited. The received G.711 is decoded and its RMS taken: digital silence fails. Every
dialog ends with BYE or CANCEL, also when the check times out or is cancelled: what is still
owed (CANCEL of a ringing call, ACK + BYE of a late 200, retransmissions) carries on for a few
seconds after the result, outside the probe's time. An unanswered call is CANCELled shortly
before the timeout (10% of it, 0.2-1 s), so the result still comes within the timeout.

Each call has its own SIP socket (UDP) or connection (TCP) and one RTP port, an even one, from
`rtp_ports`; the agent runs at most `concurrency.call` calls at once (default 4).

Options:
- `seconds`: how long to listen after the answer (default 3). Give the timeout room for the
  set-up and the BYE too (`seconds: 8` with `timeout: 12`): listening stops in time for the
  BYE to be answered within the timeout, and the detail says when it was cut short.
- `username`, `password` (or `password_file` / `password_env`): answer a 401/407 Digest
  challenge to the INVITE (and to the BYE). A second challenge, or a 403 after answering one,
  is `auth_failed`.
- `dtmf`: digits to send (0-9 * # A-D) as RFC 4733 events, 100 ms each with 100 ms gaps,
  `dtmf_at` seconds after the answer (default 1) — one IVR menu step; listening goes on.
- `codecs`: the G.711 codecs offered, in order (default `PCMU,PCMA`).
- `min_rms`: the RMS (16-bit linear) below which the audio counts as silence (default 100,
  about -50 dBov; digital silence is 0 in μ-law, 8 in A-law); `max_loss`: the largest
  fraction of packets lost (default 0.1); `min_rate`: the least audio per second of wall clock
  since the first packet, as a fraction of real time (default 0.8).
- `rtp_ports`: the local RTP port range, `LOW-HIGH` (default `20000-20999`).
- `from_uri` (default `sip:hotline@LOCAL_IP`), `user_agent` (default `hotline-probe`), `t1`
  (Timer A/E start, default 0.5 s).

`value` holds the call's figures as numbers: `setup_ms` (INVITE to 200), `first_audio_ms`
(200 to the first RTP packet; null if none), `packets`, `expected` (by sequence numbers),
`lost`, `loss` (fraction), `rms`, `rate`, `listened_s`, `dtmf_sent`; `status` (the INVITE's
final status) and `codec` go alongside. `latency_ms` is the setup time.

Reasons: `ok`; `timeout` (no final answer: the detail says whether it rang, e.g. "180
Ringing, unanswered; CANCELled"); `error_response` (a final status like 486 Busy Here, 404,
503: the detail and `status` name it); `auth_failed`; `check_failed` (no RTP, silence, too
much loss, too slow a rate, no common codec, no telephone-event for `dtmf`, the far end hung
up while we listened); `unexpected_response` (a 200 without a Contact or a usable SDP answer,
a TCP peer not speaking SIP); `refused`; `unreachable`; `dns_error`; `config_error` (also: no
free port in `rtp_ports`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from probes import options as opt
from probes import rtp
from probes.errors import describe, reason_for
from probes.result import ProbeResult, Reason
from probes.sip import SipTarget, parse_target
from probes.sipdialog import Call, Message, parse_message, response_to
from probes.sipmsg import (
    SipParseError,
    digest_authorization,
    new_branch,
    new_token,
    parse_challenge,
    split_message,
)
from probes.spec import KindSpec

log = logging.getLogger(__name__)

_KNOWN = {
    "seconds",
    "username",
    *opt.secret_names("password"),
    "dtmf",
    "dtmf_at",
    "codecs",
    "min_rms",
    "max_loss",
    "min_rate",
    "rtp_ports",
    "from_uri",
    "user_agent",
    "t1",
}
DEFAULT_SECONDS = 3.0
DEFAULT_PORTS = "20000-20999"
T2 = 4.0
# After the result, what the call still owes (CANCEL/BYE retransmissions, ACK of a late final
# answer) goes on for at most this long.
LINGER = 8.0
_MAX_STREAM_BUFFER = 256 * 1024
_IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)


@dataclass(frozen=True, slots=True)
class CallCheck:
    """One parsed call check (see the module's documentation for the options)."""

    target: SipTarget
    seconds: float
    username: str | None
    password: str | None = field(repr=False)
    dtmf: str = ""
    dtmf_at: float = 1.0
    codecs: tuple[int, ...] = (rtp.PCMU, rtp.PCMA)
    min_rms: float = 100.0
    max_loss: float = 0.1
    min_rate: float = 0.8
    ports: tuple[int, int] = (20000, 20999)
    from_uri: str | None = None
    user_agent: str = "hotline-probe"
    t1: float = 0.5


def _port_range(options: Mapping[str, Any]) -> tuple[int, int]:
    text = (opt.text(options, "rtp_ports", DEFAULT_PORTS) or DEFAULT_PORTS).replace(" ", "")
    low, dash, high = text.partition("-")
    if not (dash and low.isdigit() and high.isdigit()):
        raise opt.OptionError(f"option 'rtp_ports' must be LOW-HIGH, got {text!r}", "rtp_ports")
    first, last = int(low), int(high)
    if not 1024 <= first < last <= 65535:
        raise opt.OptionError(
            f"option 'rtp_ports': {text!r} must lie within 1024-65535, low below high", "rtp_ports"
        )
    if first + (first & 1) > last - 1:
        raise opt.OptionError(f"option 'rtp_ports': {text!r} holds no even port", "rtp_ports")
    return first, last


def parse(target: str, options: Mapping[str, Any]) -> CallCheck:
    """The check `target` and `options` describe; OptionError naming what is wrong."""
    opt.check_known(options, _KNOWN)
    sip_target = parse_target(target)
    if sip_target.transport == "tls":
        raise opt.OptionError(f"target {target!r}: call supports udp and tcp, not TLS (sips:)")
    seconds = opt.number(options, "seconds", DEFAULT_SECONDS, minimum=0.2)
    assert seconds is not None
    if seconds > 300:
        raise opt.OptionError(f"option 'seconds' must be at most 300, got {seconds:g}", "seconds")
    username = opt.text(options, "username")
    password = opt.secret(options, "password")
    if (username is None) != (password is None):
        raise opt.OptionError(
            "options 'username' and 'password' go together",
            "password" if username is not None else "username",
        )
    dtmf = (opt.text(options, "dtmf", "") or "").replace(" ", "").upper()
    bad = [d for d in dtmf if d not in rtp.DTMF_EVENTS]
    if bad:
        raise opt.OptionError(f"option 'dtmf': {bad[0]!r} is not a DTMF digit (0-9*#A-D)", "dtmf")
    if len(dtmf) > 32:
        raise opt.OptionError("option 'dtmf' holds more than 32 digits", "dtmf")
    dtmf_at = opt.number(options, "dtmf_at", 1.0, minimum=0.0)
    codec_text = opt.text(options, "codecs", "PCMU,PCMA") or "PCMU,PCMA"
    codecs: list[int] = []
    for name in codec_text.replace(" ", "").upper().split(","):
        if name not in rtp.CODECS:
            raise opt.OptionError(f"option 'codecs': {name!r} is not PCMU or PCMA", "codecs")
        if rtp.CODECS[name] not in codecs:
            codecs.append(rtp.CODECS[name])
    max_loss = opt.number(options, "max_loss", 0.1, minimum=0.0)
    min_rate = opt.number(options, "min_rate", 0.8, minimum=0.0)
    for name, value in (("max_loss", max_loss), ("min_rate", min_rate)):
        if value is not None and value > 1:
            raise opt.OptionError(f"option {name!r} is a fraction, at most 1", name)
    t1 = opt.number(options, "t1", 0.5, minimum=0.01)
    min_rms = opt.number(options, "min_rms", 100.0, minimum=0.0)
    assert dtmf_at is not None and max_loss is not None and min_rate is not None
    assert t1 is not None and min_rms is not None
    return CallCheck(
        target=sip_target,
        seconds=seconds,
        username=username,
        password=password,
        dtmf=dtmf,
        dtmf_at=dtmf_at,
        codecs=tuple(codecs),
        min_rms=min_rms,
        max_loss=max_loss,
        min_rate=min_rate,
        ports=_port_range(options),
        from_uri=opt.text(options, "from_uri"),
        user_agent=opt.text(options, "user_agent", "hotline-probe") or "hotline-probe",
        t1=t1,
    )


# --- ports -------------------------------------------------------------------------------

_PORTS_IN_USE: set[int] = set()


class _NoPort(Exception):
    pass


def _bind_rtp(family: int, ip: str, first: int, last: int) -> socket.socket:
    """A UDP socket on a free even port of first-last (RTCP's odd neighbour is left free)."""
    evens = range(first + (first & 1), last, 2)
    start = random.randrange(len(evens))
    for i in range(len(evens)):
        port = evens[(start + i) % len(evens)]
        if port in _PORTS_IN_USE:
            continue
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise
        sock.setblocking(False)
        _PORTS_IN_USE.add(port)
        return sock
    raise _NoPort(f"no free RTP port in {first}-{last} ({len(_PORTS_IN_USE)} in use by calls)")


# --- transports --------------------------------------------------------------------------

OnMessage = Callable[[Message, Any], None]
OnError = Callable[[BaseException], None]


class _UdpChannel(asyncio.DatagramProtocol):
    """The call's own UDP socket: its requests go out and every reply or request comes in."""

    def __init__(self, sock: socket.socket, on_message: OnMessage, on_error: OnError) -> None:
        self.sock = sock
        self.on_message = on_message
        self.on_error = on_error
        self.transport: asyncio.DatagramTransport | None = None
        self.port = sock.getsockname()[1]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            message = parse_message(data)
        except SipParseError:
            return
        self.on_message(message, addr)

    def error_received(self, exc: Exception) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.sock.recvmsg(1, 1024, socket.MSG_ERRQUEUE)
        if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) in (
            errno.ECONNREFUSED,
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
        ):
            self.on_error(exc)

    def send(self, data: bytes, addr: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _TcpConnection(asyncio.Protocol):
    def __init__(self, channel: _TcpChannel, addr: Any) -> None:
        self.channel = channel
        self.addr = addr
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
                if split is None:
                    if len(self.buffer) > _MAX_STREAM_BUFFER:
                        raise SipParseError("oversized message")
                    return
                raw, self.buffer = split
                message = parse_message(raw)
            except SipParseError as exc:
                self.closed = True
                self.channel.on_error(_ProtocolViolation(f"peer does not speak SIP: {exc}"))
                if self.transport is not None:
                    self.transport.abort()
                return
            self.channel.on_message(message, self.addr)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.channel.lost(self.addr)


class _TcpChannel:
    """The call's TCP connections, one per peer address (target, Contact, first Route)."""

    def __init__(self, on_message: OnMessage, on_error: OnError) -> None:
        self.on_message = on_message
        self.on_error = on_error
        self.conns: dict[Any, _TcpConnection] = {}
        self.tasks: set[asyncio.Task] = set()
        self.first: Any = None
        self.port = 0

    async def open(self, addr: Any) -> str:
        """Connect to the target; the local IP the connection uses."""
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: _TcpConnection(self, addr), *addr[:2])
        self.conns[addr] = conn
        self.first = addr
        assert conn.transport is not None
        local = conn.transport.get_extra_info("sockname")
        self.port = local[1]
        return local[0]

    def send(self, data: bytes, addr: Any) -> None:
        conn = self.conns.get(addr)
        if conn is not None and not conn.closed and conn.transport is not None:
            conn.transport.write(data)
            return
        task = asyncio.get_running_loop().create_task(self._connect_and_send(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect_and_send(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _TcpConnection(self, addr), *addr[:2])
        except OSError as exc:
            log.debug("call: cannot connect to %s: %s", addr, exc)
            return
        self.conns[addr] = conn
        assert conn.transport is not None
        conn.transport.write(data)

    def lost(self, addr: Any) -> None:
        if addr == self.first:
            self.on_error(ConnectionResetError("connection closed by the peer"))

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for conn in self.conns.values():
            if conn.transport is not None:
                conn.transport.close()


class _ProtocolViolation(Exception):
    pass


class _RtpEndpoint(asyncio.DatagramProtocol):
    """Our RTP port: counts and measures what arrives once the call is answered."""

    def __init__(self, meter: rtp.AudioMeter) -> None:
        self.meter = meter
        self.transport: asyncio.DatagramTransport | None = None
        self.answered = False
        self.early = 0
        self._time = asyncio.get_running_loop().time

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.answered:
            self.meter.feed(data, self._time())
        else:
            self.early += 1

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP for our silence frames: the peer's RTP port is closed; the figures tell


# --- the call ----------------------------------------------------------------------------


def _literal(host: str) -> tuple[int, str] | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), str(ip)


async def _resolve(host: str, port: int) -> tuple[int, tuple]:
    literal = _literal(host)
    if literal is not None:
        return literal[0], (literal[1], port)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _, _, _, sockaddr = infos[0]
    return family, (sockaddr[0], sockaddr[1])


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


_LINGERING: set[asyncio.Task] = set()


class _Session:
    """One call's state. Messages are handled as they come (the ACK of a final answer, the
    CANCEL owed once a provisional comes, the 200 to a BYE from the peer); `run` drives the
    call and `finish` ends whatever is still up."""

    def __init__(self, check: CallCheck, timeout: float) -> None:
        self.check = check
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.udp = check.target.transport == "udp"
        self.channel: _UdpChannel | _TcpChannel | None = None
        self.rtp_sock: socket.socket | None = None
        self.rtp: _RtpEndpoint | None = None
        self.meter = rtp.AudioMeter()
        self.call: Call | None = None
        self.dest: Any = None  # where INVITE and CANCEL go
        self.dialog_dest: Any = None  # where ACK and BYE go (the Contact, or the first Route)
        self.state = "idle"  # idle | calling | early | confirmed | terminated
        self.want_end = False  # tear down whatever comes next (timed out, cancelled)
        self.invite_branch = ""
        self.invite_final: asyncio.Future | None = None
        self.provisional: Message | None = None
        self.cancel_branch: str | None = None
        self.bye_branch: str | None = None
        self.ack_bytes: bytes | None = None
        self.txns: dict[str, asyncio.Future] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.error: BaseException | None = None
        self.peer_bye = asyncio.Event()
        self.peer_bye_at: float | None = None
        self.sender: asyncio.Task | None = None
        self.tasks: set[asyncio.Task] = set()
        self.sdp_offer = b""
        self.answered_at: float | None = None
        self.dtmf_sent = 0
        self.closed = False

    # ---- sending ----

    def _send(self, data: bytes, addr: Any) -> None:
        if self.channel is not None and not self.closed:
            self.channel.send(data, addr)

    def _send_dialog(self, data: bytes) -> None:
        if self.dialog_dest is not None:
            self._send(data, self.dialog_dest)
            return
        task = self.loop.create_task(self._resolve_and_send(data))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _resolve_and_send(self, data: bytes) -> None:
        with contextlib.suppress(OSError, opt.OptionError):
            await self._find_dialog_dest()
            self._send(data, self.dialog_dest)

    async def _find_dialog_dest(self) -> None:
        if self.dialog_dest is not None or self.call is None:
            return
        _, _, hop = self.call.next_hop()
        target = parse_target(hop)
        _, self.dialog_dest = await _resolve(target.host, target.port)

    def _dialog_dest_now(self) -> None:
        """The in-dialog destination when the hop is an IP literal (no lookup needed)."""
        if self.call is None or self.dialog_dest is not None:
            return
        try:
            target = parse_target(self.call.next_hop()[2])
        except opt.OptionError:
            return
        literal = _literal(target.host)
        if literal is not None:
            self.dialog_dest = (literal[1], target.port)

    def _transaction(self, branch: str, data: bytes, in_dialog: bool, invite: bool = False):
        """Send a request and retransmit it over UDP (Timer A for INVITE until a provisional,
        Timer E for the rest) until its final answer; the future gets that answer."""
        future = self.loop.create_future()
        self.txns[branch] = future
        send = self._send_dialog if in_dialog else (lambda d: self._send(d, self.dest))
        send(data)
        if self.udp:
            interval = self.check.t1

            def tick() -> None:
                nonlocal interval
                self.timers.pop(branch, None)
                if future.done() or self.closed:
                    return
                if invite and self.state != "calling":
                    return  # a provisional came: the INVITE is no longer retransmitted
                send(data)
                interval = interval * 2 if invite else min(interval * 2, T2)
                self.timers[branch] = self.loop.call_later(interval, tick)

            self.timers[branch] = self.loop.call_later(interval, tick)
        return future

    def _settle(self, branch: str, response: Message) -> None:
        timer = self.timers.pop(branch, None)
        if timer is not None:
            timer.cancel()
        future = self.txns.pop(branch, None)
        if future is not None and not future.done():
            future.set_result(response)

    def _start_bye(self, authorization: tuple[str, str] | None = None) -> asyncio.Future:
        assert self.call is not None
        if authorization is not None:
            self.call.local_cseq_bye += 1
        self.bye_branch = new_branch()
        return self._transaction(
            self.bye_branch, self.call.bye(self.bye_branch, authorization), in_dialog=True
        )

    def _start_cancel(self) -> None:
        assert self.call is not None
        if self.cancel_branch is None:
            self.cancel_branch = self.invite_branch
            cancel = self.call.cancel(self.invite_branch)
            self._transaction("cancel:" + self.invite_branch, cancel, in_dialog=False)

    # ---- receiving ----

    def on_message(self, message: Message, addr: Any) -> None:
        if message.is_request:
            self._on_request(message, addr)
            return
        call = self.call
        cseq = message.cseq
        if call is None or cseq is None or message.call_id != call.call_id:
            return
        number, method = cseq
        if method == "INVITE" and number == call.cseq and message.branch == self.invite_branch:
            self._on_invite_response(message)
        elif method == "CANCEL" and message.status >= 200:
            self._settle("cancel:" + (message.branch or ""), message)
        elif method == "BYE" and message.status >= 200 and message.branch:
            self._settle(message.branch, message)
            if message.status not in (401, 407) and self.state == "confirmed":
                self.state = "terminated"

    def _on_invite_response(self, message: Message) -> None:
        assert self.call is not None
        status = message.status
        if status < 200:
            if self.state == "calling":
                self.state = "early"
            self.provisional = message
            if self.want_end:
                self._start_cancel()
            return
        timer = self.timers.pop(self.invite_branch, None)
        if timer is not None:
            timer.cancel()
        if status < 300:
            if self.state in ("calling", "early"):
                self.call.confirm(message)
                self._dialog_dest_now()
                self.ack_bytes = self.call.ack()
                self.state = "confirmed"
                if self.want_end:  # a 200 after we gave up: ACK and hang up at once
                    self._send_dialog(self.ack_bytes)
                    self._start_bye()
            elif self.ack_bytes is not None:
                self._send_dialog(self.ack_bytes)  # a retransmitted 200: ACK it again
        else:
            self._send(self.call.ack_failure(self.invite_branch, message.to_tag), self.dest)
            if self.state in ("calling", "early"):
                self.state = "terminated"
        if self.invite_final is not None and not self.invite_final.done():
            self.invite_final.set_result(message)

    def _on_request(self, request: Message, addr: Any) -> None:
        method = request.method
        if method == "ACK":
            return
        call = self.call
        if call is None or request.call_id != call.call_id:
            self._send(response_to(request, 481, "Call/Transaction Does Not Exist"), addr)
            return
        if method == "BYE":
            self._send(response_to(request, 200, "OK"), addr)
            if self.state == "confirmed":
                self.state = "terminated"
                self.peer_bye_at = self.loop.time()
                self.peer_bye.set()
        elif method == "INVITE":  # a re-INVITE (session refresh): the same media
            contact = (("Contact", f"<{call.contact}>"),)
            self._send(
                response_to(request, 200, "OK", contact, self.sdp_offer, "application/sdp"), addr
            )
        elif method in ("OPTIONS", "INFO", "NOTIFY", "UPDATE"):
            self._send(response_to(request, 200, "OK"), addr)
        else:
            self._send(response_to(request, 501, "Not Implemented"), addr)

    def on_error(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if self.state in ("confirmed", "terminated"):
            return  # the call is up or over: an ICMP for a late retransmission changes nothing
        for future in (self.invite_final, *self.txns.values()):
            if future is not None and not future.done():
                future.set_exception(exc)
                future.exception()

    # ---- the media we send ----

    async def _send_media(self, answer: rtp.Answer, addr: Any) -> None:
        """A silence frame every 20 ms (DTMF events in their place when due)."""
        assert self.rtp is not None and self.rtp.transport is not None
        transport = self.rtp.transport
        codec = answer.codec
        assert codec is not None
        silence = bytes([rtp.SILENCE_BYTE[codec]]) * rtp.SAMPLES_PER_PACKET
        ssrc = random.getrandbits(32)
        seq = random.getrandbits(16)
        timestamp = random.getrandbits(32)
        # Frame by frame: None for audio, else (payload, marker, event timestamp offset).
        plan: dict[int, tuple[bytes, bool, int]] = {}
        if self.check.dtmf and answer.event_pt is not None:
            frame = round(self.check.dtmf_at * 1000 / rtp.PTIME_MS)
            for digit in self.check.dtmf:
                payloads = rtp.dtmf_payloads(digit)
                for i, payload in enumerate(payloads):
                    plan[frame + i] = (payload, i == 0, frame)
                frame += len(payloads) + 100 // rtp.PTIME_MS
        start = self.loop.time()
        frame = 0
        while not transport.is_closing():
            event = plan.get(frame)
            if event is None:
                packet = rtp.build_rtp(codec, seq, timestamp + frame * 160, ssrc, silence)
            else:
                payload, marker, first = event
                assert answer.event_pt is not None
                packet = rtp.build_rtp(
                    answer.event_pt, seq, timestamp + first * 160, ssrc, payload, marker
                )
                if marker:
                    self.dtmf_sent += 1
            transport.sendto(packet, addr)
            seq += 1
            frame += 1
            await asyncio.sleep(max(0.0, start + frame * rtp.PTIME_MS / 1000 - self.loop.time()))

    # ---- the call ----

    async def run(self) -> ProbeResult:
        check, target = self.check, self.check.target
        where = f"{target.host}:{target.port}/{target.transport}"
        start = self.loop.time()
        deadline = start + self.timeout
        try:
            family, self.dest = await _resolve(target.host, target.port)
            with socket.socket(family, socket.SOCK_DGRAM) as route:
                route.connect(self.dest)
                local_ip = route.getsockname()[0]
            if self.udp:
                sock = socket.socket(family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                if family == socket.AF_INET:
                    sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
                sock.bind((local_ip, 0))
                _, self.channel = await self.loop.create_datagram_endpoint(
                    lambda: _UdpChannel(sock, self.on_message, self.on_error), sock=sock
                )
            else:
                self.channel = _TcpChannel(self.on_message, self.on_error)
                async with asyncio.timeout(max(0.0, deadline - self.loop.time())):
                    local_ip = await self.channel.open(self.dest)
            try:
                self.rtp_sock = _bind_rtp(family, local_ip, *check.ports)
            except _NoPort as exc:
                return ProbeResult(Reason.CONFIG_ERROR, f"option 'rtp_ports': {exc}")
            _, self.rtp = await self.loop.create_datagram_endpoint(
                lambda: _RtpEndpoint(self.meter), sock=self.rtp_sock
            )
        except TimeoutError:
            return ProbeResult(Reason.TIMEOUT, f"no connection to {where} in {self.timeout:g} s")
        except OSError as exc:
            return ProbeResult(reason_for(exc), f"{where}: {describe(exc)}")

        rtp_port = self.rtp_sock.getsockname()[1]
        self.sdp_offer = rtp.build_offer(local_ip, rtp_port, check.codecs, random.getrandbits(31))
        host = _bracket(local_ip)
        transport = "UDP" if self.udp else "TCP"
        self.call = Call(
            request_uri=target.request_uri + ("" if self.udp else ";transport=tcp"),
            from_uri=check.from_uri or f"sip:hotline@{host}",
            contact=f"sip:hotline@{host}:{self.channel.port};transport={transport.lower()}",
            transport=transport,
            sent_by=f"{host}:{self.channel.port}",
            user_agent=check.user_agent,
        )

        # INVITE, and again with credentials after a challenge.
        invite_deadline = deadline - min(1.0, max(0.2, 0.1 * self.timeout))
        sent_at = self.loop.time()
        authorization: tuple[str, str] | None = None
        try:
            while True:
                final = await self._invite(authorization, invite_deadline)
                if final is None:
                    return await self._unanswered(where, deadline)
                status = final.status
                if status in (401, 407) and authorization is None and check.username:
                    assert check.password is not None
                    authorization = _answer(
                        final, "INVITE", self.call.request_uri, check.username, check.password
                    )
                    self.call.cseq += 1
                    continue
                break
        except _ChallengeError as exc:
            return ProbeResult(Reason.AUTH_FAILED, f"{where}: {exc}")
        except _ProtocolViolation as exc:
            return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{where}: {exc}")
        except OSError as exc:
            return ProbeResult(reason_for(exc), f"{where}: {describe(exc)}")

        status_text = f"{final.status} {final.phrase}".strip()
        extra: dict[str, Any] = {"status": final.status}
        setup_ms = round((self.loop.time() - sent_at) * 1000, 3)
        if final.status >= 300:
            if authorization is not None and final.status in (401, 403, 407):
                detail = f"{where} refused our credentials: {status_text}"
                return ProbeResult(Reason.AUTH_FAILED, detail, setup_ms, extra=extra)
            return ProbeResult(
                Reason.ERROR_RESPONSE, f"{where} answered {status_text}", setup_ms, extra=extra
            )

        # Answered: ACK to the Contact of the 200, then the media.
        self.answered_at = self.loop.time()
        assert self.ack_bytes is not None
        if self.call.remote_target is None:
            self.want_end = True
            return ProbeResult(
                Reason.UNEXPECTED_RESPONSE, f"{where}: 200 without a Contact", setup_ms, extra=extra
            )
        try:
            async with asyncio.timeout(max(0.0, deadline - self.loop.time())):
                await self._find_dialog_dest()
        except (OSError, TimeoutError, opt.OptionError) as exc:
            self.want_end = True
            detail = f"{where}: cannot reach the Contact {self.call.remote_target}: {exc}"
            return ProbeResult(Reason.UNEXPECTED_RESPONSE, detail, setup_ms, extra=extra)
        self._send_dialog(self.ack_bytes)
        try:
            answer = rtp.parse_answer(final.body, check.codecs)
        except rtp.SdpError as exc:
            return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{where}: {exc}", setup_ms, extra=extra)
        if answer.port == 0 or answer.codec is None:
            offered = ", ".join(rtp.CODEC_NAMES[c] for c in check.codecs)
            detail = f"{where}: the answer accepts none of {offered} (formats {answer.formats})"
            return ProbeResult(Reason.CHECK_FAILED, detail, setup_ms, extra=extra)
        extra["codec"] = rtp.CODEC_NAMES[answer.codec]
        if check.dtmf and answer.event_pt is None:
            detail = f"{where}: the answer has no telephone-event, so DTMF cannot be sent"
            return ProbeResult(Reason.CHECK_FAILED, detail, setup_ms, extra=extra)

        assert self.rtp is not None
        self.rtp.answered = True
        media_family, media_addr = await _resolve(answer.ip, answer.port)
        if media_family == family and answer.direction in ("sendrecv", "recvonly"):
            self.sender = self.loop.create_task(self._send_media(answer, media_addr))
        bye_reserve = min(0.5, max(0.1, 0.05 * self.timeout))
        listen_end = min(self.answered_at + check.seconds, deadline - bye_reserve)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, listen_end - self.loop.time())):
                await self.peer_bye.wait()
        heard_until = self.peer_bye_at or self.loop.time()
        if self.sender is not None:
            self.sender.cancel()

        # BYE to the Contact of the 200, and its answer.
        bye_status: int | None = None
        if self.state == "confirmed":
            bye_status = await self._bye(deadline)
        return self._verdict(where, setup_ms, heard_until, bye_status, extra)

    async def _invite(self, authorization: tuple[str, str] | None, until: float) -> Message | None:
        """One INVITE transaction; its final answer, or None if none came by `until`."""
        assert self.call is not None
        self.invite_branch = new_branch()
        self.state = "calling"
        self.invite_final = self.loop.create_future()
        self._transaction(
            self.invite_branch,
            self.call.invite(self.invite_branch, self.sdp_offer, authorization),
            in_dialog=False,
            invite=True,
        )
        self.txns.pop(self.invite_branch, None)  # answered through invite_final
        done, _ = await asyncio.wait(
            (self.invite_final,), timeout=max(0.0, until - self.loop.time())
        )
        if not done:
            return None
        return self.invite_final.result()

    async def _unanswered(self, where: str, deadline: float) -> ProbeResult:
        """No final answer in time: CANCEL if it rang, and say so."""
        self.want_end = True
        provisional = self.provisional
        if provisional is None:
            return ProbeResult(Reason.TIMEOUT, f"no reply from {where} in {self.timeout:g} s")
        self._start_cancel()
        assert self.invite_final is not None
        await asyncio.wait((self.invite_final,), timeout=max(0.0, deadline - self.loop.time()))
        done = self.invite_final.done() and self.invite_final.exception() is None
        final = self.invite_final.result() if done else None
        heard = f"{provisional.status} {provisional.phrase}".strip()
        if final is not None and final.status < 300:
            detail = f"{where}: {heard}, answered only after the CANCEL; hung up"
        else:
            after = f" ({final.status} {final.phrase.strip()})" if final is not None else ""
            detail = f"{where}: {heard}, unanswered in {self.timeout:g} s; CANCELled{after}"
        return ProbeResult(Reason.TIMEOUT, detail, extra={"status": provisional.status})

    async def _bye(self, deadline: float) -> int | None:
        check = self.check
        future = self._start_bye()
        done, _ = await asyncio.wait((future,), timeout=max(0.0, deadline - self.loop.time()))
        if not done or future.exception() is not None:
            return None
        response: Message = future.result()
        if response.status in (401, 407) and check.username and self.call is not None:
            assert check.password is not None
            uri = self.call.next_hop()[0]
            try:
                auth = _answer(response, "BYE", uri, check.username, check.password)
            except _ChallengeError:
                return response.status
            future = self._start_bye(auth)
            done, _ = await asyncio.wait((future,), timeout=max(0.0, deadline - self.loop.time()))
            if not done or future.exception() is not None:
                return None
            response = future.result()
        self.state = "terminated"
        return response.status

    def _verdict(
        self,
        where: str,
        setup_ms: float,
        heard_until: float,
        bye_status: int | None,
        extra: dict[str, Any],
    ) -> ProbeResult:
        meter, check = self.meter, self.check
        assert self.answered_at is not None
        listened = max(0.0, heard_until - self.answered_at)
        first_audio = (
            None if meter.first_at is None else round((meter.first_at - self.answered_at) * 1000, 3)
        )
        rate = meter.rate(heard_until)
        value = {
            "setup_ms": setup_ms,
            "first_audio_ms": first_audio,
            "packets": meter.packets,
            "expected": meter.expected,
            "lost": meter.lost,
            "loss": round(meter.loss, 6),
            "rms": round(meter.rms, 1),
            "rate": round(rate, 4),
            "listened_s": round(listened, 3),
            "dtmf_sent": self.dtmf_sent,
        }
        extra["bye_status"] = bye_status
        problems = []
        if self.peer_bye_at is not None:
            problems.append(f"the far end hung up after {listened:.1f} s")
        codec = extra.get("codec", "audio")
        if meter.packets == 0:
            problems.append(f"no RTP arrived in {listened:.1f} s")
        elif meter.square_sum == 0 or (meter.samples and meter.rms <= 8.0):
            problems.append(f"the {codec} audio is digital silence (RMS {meter.rms:.0f})")
        elif meter.rms < check.min_rms:
            problems.append(f"the audio is near silence (RMS {meter.rms:.0f} < {check.min_rms:g})")
        if meter.packets and meter.loss > check.max_loss:
            problems.append(f"{meter.loss:.1%} of RTP packets lost (max {check.max_loss:.0%})")
        if meter.packets and rate < check.min_rate:
            problems.append(f"audio arrives at {rate:.0%} of real time")
        summary = (
            f"{meter.packets} {codec} packets in {listened:.1f} s, RMS {meter.rms:.0f}, "
            f"loss {meter.loss:.1%}"
            + ("" if first_audio is None else f", first audio after {first_audio:.0f} ms")
        )
        if self.dtmf_sent:
            summary += f", DTMF {check.dtmf} sent"
        if self.peer_bye_at is None and listened < check.seconds - 0.05:
            summary += f" (of the {check.seconds:g} s asked: the timeout cut it short)"
        if bye_status is None and self.peer_bye_at is None:
            summary += "; the BYE got no answer"
        if problems:
            detail = f"{where} answered in {setup_ms:.0f} ms but " + "; ".join(problems)
            return ProbeResult(Reason.CHECK_FAILED, f"{detail} ({summary})", setup_ms, value, extra)
        detail = f"{where} answered in {setup_ms:.0f} ms; {summary}"
        return ProbeResult(Reason.OK, detail, setup_ms, value, extra)

    # ---- the end ----

    def finish(self) -> None:
        """End the dialog if it is still up (even when the probe was cancelled) and release
        the RTP port; what is still owed lingers as a task for a few seconds."""
        self.want_end = True
        if self.sender is not None:
            self.sender.cancel()
        if self.rtp is not None and self.rtp.transport is not None:
            self.rtp.transport.close()
        if self.rtp_sock is not None:
            _PORTS_IN_USE.discard(self.rtp_sock.getsockname()[1])
            self.rtp_sock.close()
            self.rtp_sock = None
        if self.state == "confirmed" and self.bye_branch is None:
            if self.ack_bytes is not None:
                self._send_dialog(self.ack_bytes)
            self._start_bye()
        elif self.state == "early" and self.cancel_branch is None:
            self._start_cancel()
        if self.state == "terminated" and not self.txns:
            self._close()
            return
        task = self.loop.create_task(self._linger())
        _LINGERING.add(task)
        task.add_done_callback(_LINGERING.discard)

    async def _linger(self) -> None:
        try:
            end = self.loop.time() + LINGER
            while self.loop.time() < end:
                if self.state == "terminated" and not self.txns:
                    return
                if self.state == "idle":
                    return
                await asyncio.sleep(0.05)
        finally:
            self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for future in self.txns.values():
            if not future.done():
                future.cancel()
        self.txns.clear()
        for task in self.tasks:
            task.cancel()
        if self.channel is not None:
            self.channel.close()


class _ChallengeError(Exception):
    pass


def _answer(
    response: Message, method: str, uri: str, username: str, password: str
) -> tuple[str, str]:
    wanted = "www-authenticate" if response.status == 401 else "proxy-authenticate"
    for value in response.get_all(wanted):
        params = parse_challenge(value)
        if params:
            try:
                authorization = digest_authorization(
                    params, method, uri, username, password, new_token()
                )
            except ValueError as exc:
                raise _ChallengeError(str(exc)) from None
            header = "Authorization" if response.status == 401 else "Proxy-Authorization"
            return header, authorization
    raise _ChallengeError(f"{response.status} without a Digest challenge")


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    check = parse(target, options)
    session = _Session(check, timeout)
    started = time.perf_counter()
    try:
        return await session.run()
    finally:
        session.finish()
        log.debug("call %s took %.0f ms", target, (time.perf_counter() - started) * 1000)


SPEC = KindSpec(
    kind="call",
    probe=probe,
    parse=parse,
    default_target="sip:{host_uri}",
    concurrency=4,
)
