"""The media half of a synthetic call, without I/O: SDP offer and answer (RFC 4566 / 3264),
RTP packets (RFC 3550), G.711 μ-law and A-law decoding, RFC 4733 DTMF events, and
`AudioMeter`, which turns received packets into the call's figures (packets, loss, RMS).

G.711 is decoded by 256-entry tables written here (audioop is deprecated and gone in 3.13);
the meter sums squares by table lookup, so one 20 ms packet costs one `sum(map(…))`.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field

PCMU = 0
PCMA = 8
CN = 13
CODECS = {"PCMU": PCMU, "PCMA": PCMA}
CODEC_NAMES = {PCMU: "PCMU", PCMA: "PCMA"}
TELEPHONE_EVENT = 101  # the payload type we offer for RFC 4733 events
CLOCK = 8000  # G.711 and telephone-event/8000
PTIME_MS = 20
SAMPLES_PER_PACKET = CLOCK * PTIME_MS // 1000
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14}
DTMF_EVENTS["D"] = 15

_HEADER = struct.Struct("!BBHII")


def _ulaw(byte: int) -> int:
    u = ~byte & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def _alaw(byte: int) -> int:
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


ULAW = tuple(_ulaw(b) for b in range(256))  # byte -> 16-bit linear sample
ALAW = tuple(_alaw(b) for b in range(256))
_SQUARES = {PCMU: tuple(s * s for s in ULAW), PCMA: tuple(s * s for s in ALAW)}
SILENCE_BYTE = {PCMU: 0xFF, PCMA: 0xD5}  # the codes of (nearest to) zero


def decode(payload: bytes, pt: int) -> list[int]:
    """G.711 bytes as 16-bit linear samples."""
    table = ULAW if pt == PCMU else ALAW
    return [table[b] for b in payload]


# --- RTP ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RtpHeader:
    pt: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    offset: int  # where the payload starts
    end: int  # where it ends (padding removed)


def parse_rtp(data: bytes) -> RtpHeader | None:
    """The header of an RTP v2 packet, or None for anything else (RTCP, junk, too short)."""
    if len(data) < 12:
        return None
    first, second, seq, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        return None
    pt = second & 0x7F
    if 72 <= pt <= 76:  # RTCP SR/RR/SDES/BYE/APP multiplexed on the port (RFC 5761)
        return None
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20 and end > offset:  # padding: the last byte says how much
        end -= data[-1]
    if end < offset:
        return None
    return RtpHeader(pt, bool(second & 0x80), seq, timestamp, ssrc, offset, end)


def build_rtp(
    pt: int, seq: int, timestamp: int, ssrc: int, payload: bytes, marker: bool = False
) -> bytes:
    return (
        _HEADER.pack(0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
        + payload
    )


def dtmf_payload(event: int, end: bool, duration: int, volume: int = 10) -> bytes:
    """One RFC 4733 telephone-event payload (event, E bit, volume in -dBm0, duration)."""
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration & 0xFFFF)


def dtmf_payloads(digit: str, ms: int = 100) -> list[bytes]:
    """The telephone-event payloads of one digit, one per 20 ms frame: growing durations over
    `ms`, then the end packet three times (RFC 4733 2.5.1.4). The first goes with the marker
    bit; all share the timestamp of the event's start."""
    event = DTMF_EVENTS[digit.upper()]
    steps = max(1, ms // PTIME_MS)
    out = [dtmf_payload(event, False, (i + 1) * SAMPLES_PER_PACKET) for i in range(steps)]
    out += [dtmf_payload(event, True, steps * SAMPLES_PER_PACKET)] * 3
    return out


# --- SDP ---------------------------------------------------------------------------------


def build_offer(ip: str, port: int, codecs: tuple[int, ...], session: int) -> bytes:
    """An audio offer of `codecs` (G.711 payload types) and telephone-event, 20 ms frames."""
    family = "IP6" if ":" in ip else "IP4"
    formats = " ".join(str(pt) for pt in (*codecs, TELEPHONE_EVENT))
    lines = [
        "v=0",
        f"o=hotline {session} {session} IN {family} {ip}",
        "s=hotline",
        f"c=IN {family} {ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
        *(f"a=rtpmap:{pt} {CODEC_NAMES[pt]}/{CLOCK}" for pt in codecs),
        f"a=rtpmap:{TELEPHONE_EVENT} telephone-event/{CLOCK}",
        f"a=fmtp:{TELEPHONE_EVENT} 0-15",
        f"a=ptime:{PTIME_MS}",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


class SdpError(ValueError):
    """An SDP answer we cannot use; the message says why."""


@dataclass(frozen=True, slots=True)
class Answer:
    ip: str
    port: int  # 0: the audio stream was rejected
    formats: tuple[int, ...]  # payload types, in the answerer's order of preference
    codec: int | None  # the first G.711 payload type we offered that the answer kept
    event_pt: int | None  # the answer's telephone-event payload type, if any
    direction: str = "sendrecv"
    rtpmap: dict[int, str] = field(default_factory=dict)


_RTPMAP = re.compile(r"^a=rtpmap:(\d+)\s+([^/\s]+)/(\d+)", re.IGNORECASE)


def parse_answer(body: bytes, offered: tuple[int, ...]) -> Answer:
    """The first audio stream of an SDP answer; SdpError for anything unusable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("the SDP answer is not UTF-8 text") from None
    session_ip: str | None = None
    media_ip: str | None = None
    audio: list[str] | None = None
    direction = "sendrecv"
    rtpmap: dict[int, str] = {}
    in_audio = False
    seen_media = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if seen_media and in_audio:
                break  # only the first audio stream
            seen_media = True
            parts = line[2:].split()
            in_audio = bool(parts) and parts[0] == "audio" and audio is None
            if in_audio:
                audio = parts
        elif line.startswith("c="):
            parts = line[2:].split()
            if len(parts) < 3:
                raise SdpError(f"bad connection line {line!r}")
            ip = parts[2].split("/", 1)[0]
            if not seen_media:
                session_ip = ip
            elif in_audio:
                media_ip = ip
        elif in_audio or not seen_media:
            match = _RTPMAP.match(line)
            if match and in_audio:
                rtpmap[int(match.group(1))] = match.group(2).lower()
            elif line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = line[2:]
    if audio is None:
        raise SdpError("the SDP answer has no audio stream")
    if len(audio) < 4 or not audio[1].split("/", 1)[0].isdigit():
        raise SdpError(f"bad media line 'm={' '.join(audio)}'")
    port = int(audio[1].split("/", 1)[0])
    try:
        formats = tuple(int(f) for f in audio[3:])
    except ValueError:
        raise SdpError(f"bad media formats 'm={' '.join(audio)}'") from None
    ip = media_ip or session_ip
    if ip is None:
        raise SdpError("the SDP answer has no connection address (c=)")
    codec = next((pt for pt in formats if pt in offered), None)
    event_pt = next((pt for pt, name in rtpmap.items() if name == "telephone-event"), None)
    return Answer(ip, port, formats, codec, event_pt, direction, rtpmap)


# --- what arrives ------------------------------------------------------------------------


class _Source:
    """Sequence-number bookkeeping of one SSRC (RFC 3550 appendix A.1, simplified)."""

    __slots__ = ("base", "cycles", "highest", "received")

    def __init__(self, seq: int) -> None:
        self.base = seq
        self.highest = seq
        self.cycles = 0
        self.received = 0

    def update(self, seq: int) -> None:
        self.received += 1
        delta = (seq - self.highest) & 0xFFFF
        if 0 < delta < 0x8000:  # ahead (a late or duplicate packet changes nothing)
            if seq < self.highest:
                self.cycles += 0x10000
            self.highest = seq

    @property
    def expected(self) -> int:
        return self.cycles + self.highest - self.base + 1


class AudioMeter:
    """Received RTP in, the call's audio figures out. `now` is passed in (seconds)."""

    def __init__(self) -> None:
        self.packets = 0  # audio packets (G.711 or comfort noise) received
        self.events = 0  # telephone-event packets received
        self.ignored = 0  # not RTP, or a payload type we did not offer
        self.samples = 0
        self.square_sum = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._sources: dict[int, _Source] = {}

    def feed(self, data: bytes, now: float) -> None:
        header = parse_rtp(data)
        if header is None:
            self.ignored += 1
            return
        pt = header.pt
        squares = _SQUARES.get(pt)
        if squares is None and pt != CN:
            if 96 <= pt <= 127:
                self.events += 1
            else:
                self.ignored += 1
            return
        source = self._sources.get(header.ssrc)
        if source is None:
            source = self._sources[header.ssrc] = _Source(header.seq)
        source.update(header.seq)
        self.packets += 1
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        if squares is not None:
            payload = data[header.offset : header.end]
            self.samples += len(payload)
            self.square_sum += sum(map(squares.__getitem__, payload))

    @property
    def expected(self) -> int:
        return sum(s.expected for s in self._sources.values())

    @property
    def lost(self) -> int:
        return max(0, self.expected - sum(s.received for s in self._sources.values()))

    @property
    def loss(self) -> float:
        expected = self.expected
        return self.lost / expected if expected else 0.0

    @property
    def rms(self) -> float:
        return math.sqrt(self.square_sum / self.samples) if self.samples else 0.0

    def rate(self, until: float) -> float:
        """Audio received per second of wall clock since the first packet, as a fraction of
        real time (1.0: 8000 samples a second arrived)."""
        if self.first_at is None:
            return 0.0
        span = until - self.first_at
        if span < 4 * PTIME_MS / 1000:  # too short to say: a few packets in flight
            return 1.0
        return min(1.0, self.samples / CLOCK / span)
