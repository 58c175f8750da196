"""A tiny scripted SIP UAS on 127.0.0.1 (UDP) for the call outcomes baresip will not give.

Behaviour by the Request-URI user:
- `busy`: 100 Trying, 486 Busy Here (and expects the ACK)
- `ring`: 100, 180 Ringing and nothing more; a CANCEL gets 200 and the INVITE 487
- `answer`: 200 with SDP and a Contact on a *second* UDP port (so ACK and BYE must follow the
  Contact, not the target), then a 440 Hz tone (μ-law) until the BYE
- `silence`: as `answer`, sending exact digital silence in the codec the offer put first
- `hangup`: as `answer`, then a BYE of its own after 0.5 s
- `secure`: 401 Digest challenge (realm `hotline.test`, alice / s3cret), then as `answer`

Every message received is recorded in `received` as (socket, first line, message) so tests
can say where the ACK, BYE and CANCEL went.
"""

from __future__ import annotations

import math
import random
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from probes.sipdialog import Message, param, parse_message, response_to, uri_of
from probes.sipmsg import digest_authorization, parse_challenge
from tests.peers.net import LOOPBACK

REALM = "hotline.test"
USERNAME = "alice"
PASSWORD = "s3cret"
NONCE = "c2VjcmV0bm9uY2U"


def _ulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = 7
    for exp in range(7, -1, -1):
        if magnitude & (0x4000 >> (7 - exp)):
            exponent = exp
            break
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


TONE = bytes(_ulaw(round(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(160))


class ScriptedUas:
    def __init__(self) -> None:
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.contact = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.received: list[tuple[str, str, Message]] = []
        self.port = 0
        self.contact_port = 0
        self._stop = threading.Event()
        self._calls: dict[str, threading.Event] = {}  # Call-ID -> ended
        self._threads: list[threading.Thread] = []

    def start(self) -> ScriptedUas:
        for sock in (self.sip, self.contact, self.media):
            sock.bind((LOOPBACK, 0))
            sock.settimeout(0.1)
        self.port = self.sip.getsockname()[1]
        self.contact_port = self.contact.getsockname()[1]
        for name, sock in (("target", self.sip), ("contact", self.contact)):
            thread = threading.Thread(target=self._serve, args=(name, sock), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def uri(self, user: str) -> str:
        return f"sip:{user}@{LOOPBACK}:{self.port}"

    def seen(self, first_word: str) -> list[tuple[str, Message]]:
        return [(where, m) for where, line, m in self.received if line.startswith(first_word)]

    def wait_for(self, first_word: str, timeout: float = 3.0) -> list[tuple[str, Message]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.seen(first_word):
            time.sleep(0.02)
        return self.seen(first_word)

    def clear(self) -> None:
        self.received.clear()

    def stop(self) -> None:
        self._stop.set()
        for ended in self._calls.values():
            ended.set()
        for thread in self._threads:
            thread.join(1)
        for sock in (self.sip, self.contact, self.media):
            sock.close()

    def _serve(self, name: str, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                message = parse_message(data)
            except ValueError:
                continue
            first = data.split(b"\r\n", 1)[0].decode(errors="replace")
            self.received.append((name, first, message))
            if message.is_request:
                self._handle(sock, message, addr)

    def _handle(self, sock: socket.socket, request: Message, addr) -> None:
        method = request.method
        user = re.sub(r"^sips?:", "", request.uri or "").split("@", 1)[0]
        call_id = request.call_id or ""
        if method == "ACK":
            return
        if method == "CANCEL":
            sock.sendto(response_to(request, 200, "OK"), addr)
            invite = next(
                (
                    m
                    for _, line, m in self.received
                    if line.startswith("INVITE") and m.call_id == call_id
                ),
                None,
            )
            if invite is not None:
                sock.sendto(response_to(invite, 487, "Request Terminated", to_tag="uas1"), addr)
            return
        if method == "BYE":
            sock.sendto(response_to(request, 200, "OK"), addr)
            self._calls.setdefault(call_id, threading.Event()).set()
            return
        if method != "INVITE":
            sock.sendto(response_to(request, 200, "OK"), addr)
            return
        sock.sendto(response_to(request, 100, "Trying"), addr)
        if user == "busy":
            sock.sendto(response_to(request, 486, "Busy Here", to_tag="uas1"), addr)
        elif user == "ring":
            sock.sendto(response_to(request, 180, "Ringing", to_tag="uas1"), addr)
        elif user == "secure" and not self._authorized(request):
            challenge = f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth", algorithm=MD5'
            extra = (("WWW-Authenticate", challenge),)
            sock.sendto(response_to(request, 401, "Unauthorized", extra, to_tag="uas1"), addr)
        else:
            self._answer(sock, request, addr, user)

    def _authorized(self, request: Message) -> bool:
        given = parse_challenge(request.get("authorization") or "")
        if not given or given.get("username") != USERNAME:
            return False
        expected = digest_authorization(
            {"realm": REALM, "nonce": NONCE, "qop": "auth"},
            "INVITE",
            given.get("uri", ""),
            USERNAME,
            PASSWORD,
            given.get("cnonce", ""),
            int(given.get("nc", "1"), 16),
        )
        return parse_challenge(expected).get("response") == given.get("response")

    def _answer(self, sock: socket.socket, request: Message, addr, user: str) -> None:
        body = request.body.decode()
        port = int(re.search(r"^m=audio (\d+)", body, re.M).group(1))
        formats = re.search(r"^m=audio \d+ RTP/AVP ([\d ]+)", body, re.M).group(1).split()
        codec = int(formats[0])
        media_port = self.media.getsockname()[1]
        sdp = (
            "v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {media_port} RTP/AVP {codec} 101\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        ).encode()
        contact = (("Contact", f"<sip:uas@{LOOPBACK}:{self.contact_port}>"),)
        sock.sendto(
            response_to(request, 200, "OK", contact, sdp, "application/sdp", to_tag="uas1"), addr
        )
        ended = self._calls.setdefault(request.call_id or "", threading.Event())
        silence = bytes([0xFF if codec == 0 else 0xD5]) * 160
        payload = silence if user == "silence" else TONE
        threading.Thread(
            target=self._media, args=(ended, (LOOPBACK, port), codec, payload), daemon=True
        ).start()
        if user == "hangup":
            threading.Thread(
                target=self._hang_up,
                args=(ended, request, uri_of(request.get("contact") or "")),
                daemon=True,
            ).start()

    def _media(self, ended: threading.Event, addr, codec: int, payload: bytes) -> None:
        seq, ts, ssrc = random.getrandbits(16), random.getrandbits(32), random.getrandbits(32)
        start = time.monotonic()
        for i in range(500):
            if ended.is_set() or self._stop.is_set():
                return
            header = bytes([0x80, codec]) + ((seq + i) & 0xFFFF).to_bytes(2, "big")
            header += ((ts + 160 * i) & 0xFFFFFFFF).to_bytes(4, "big") + ssrc.to_bytes(4, "big")
            try:
                self.media.sendto(header + payload, addr)
            except OSError:
                return
            time.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))

    def _hang_up(self, ended: threading.Event, invite: Message, contact: str) -> None:
        if ended.wait(0.5):
            return
        host_port = contact.split("@", 1)[-1].split(";", 1)[0]
        host, _, port = host_port.partition(":")
        from_tag = param(invite.get("from") or "", "tag")
        bye = (
            f"BYE {contact} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{self.contact_port};branch=z9hG4bKuasbye\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:hangup@{LOOPBACK}>;tag=uas1\r\n"
            f"To: <sip:hotline@{LOOPBACK}>;tag={from_tag}\r\n"
            f"Call-ID: {invite.call_id}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        )
        self.contact.sendto(bye.encode(), (host, int(port or 5060)))
        ended.set()


@pytest.fixture
def sip_uas() -> Iterator[ScriptedUas]:
    uas = ScriptedUas().start()
    yield uas
    uas.stop()
