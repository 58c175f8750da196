"""A real baresip user agent on 127.0.0.1 that answers every call and plays a WAV file.

`Baresip(audio="tone")` plays a 440 Hz tone at about -12 dBov (RMS ~5650), `audio="silence"`
plays exact digital silence (PCMU 0xFF). SIP on a free UDP+TCP port, RTP from a range of its
own, the RTP address forced to 127.0.0.1 (baresip otherwise announces the machine's first
interface address in its SDP). `-v` makes it log the DTMF events it receives ("received event:
'1'"), which tests read from `log_text()`.

Config quirks of Debian's baresip 1.0: `net_interface` takes an address (an interface name
like `lo` is refused: "could not get network address"); the `aufile` module is a source only,
so the player is `none`; auto answer is the account's `answermode=auto`, done by `menu.so`.
"""

from __future__ import annotations

import math
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.kamailio import options_answered
from tests.peers.net import LOOPBACK, stop_process

_CONFIG = """\
poll_method		epoll
sip_listen		{host}:{port}
net_interface		{host}
audio_player		none
audio_source		aufile,{wav}
audio_alert		none
rtp_ports		{rtp_low}-{rtp_high}
module_path		{modules}
module			g711.so
module			aufile.so
module_app		account.so
module_app		menu.so
"""
_ACCOUNTS = "<sip:ivr@{host}>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA\n"


def write_wav(path: Path, audio: str, seconds: float = 30.0) -> None:
    """A mono 8 kHz 16-bit WAV: a 440 Hz tone at amplitude 8000, or all zero samples."""
    count = int(8000 * seconds)
    if audio == "tone":
        frames = b"".join(
            struct.pack("<h", round(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
            for i in range(count)
        )
    else:
        frames = bytes(2 * count)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames)


def port_pair() -> int:
    """A port free for SIP over UDP and TCP whose next one is free for TCP too: baresip also
    listens (SIP/TLS) on port + 1 and, without SO_REUSEADDR, exits "Address already in use"
    when that port sits in TIME_WAIT after tests that opened many connections (as the kernel's
    ephemeral ports do). So pick below the ephemeral range (32768-60999), from a random start
    so two peers made one after the other do not collide."""
    start = random.randrange(24_000, 30_000, 2)
    for port in [*range(start, 30_000, 2), *range(24_000, start, 2)]:
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tls,
            ):
                tcp.bind((LOOPBACK, port))
                udp.bind((LOOPBACK, port))
                tls.bind((LOOPBACK, port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for baresip")


class Baresip:
    def __init__(self, audio: str = "tone", rtp_ports: tuple[int, int] = (31000, 31099)) -> None:
        self.audio = audio
        self.host = LOOPBACK
        self.port = port_pair()
        self.rtp_ports = rtp_ports
        self._dir: str | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def uri(self) -> str:
        return f"sip:ivr@{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        assert self._dir is not None
        return Path(self._dir, "baresip.log")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, timeout: float = 15.0) -> Baresip:
        binary = shutil.which("baresip") or "/usr/bin/baresip"
        self._dir = tempfile.mkdtemp(prefix="hotline-baresip-")
        wav = Path(self._dir, f"{self.audio}.wav")
        write_wav(wav, self.audio)
        Path(self._dir, "config").write_text(
            _CONFIG.format(
                host=self.host,
                port=self.port,
                wav=wav,
                rtp_low=self.rtp_ports[0],
                rtp_high=self.rtp_ports[1],
                modules="/usr/lib/baresip/modules",
            )
        )
        Path(self._dir, "accounts").write_text(_ACCOUNTS.format(host=self.host))
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [binary, "-f", self._dir, "-v"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                output = self.log_text()[-2000:]
                self.stop()
                raise RuntimeError(f"baresip exited: {output}")
            if options_answered(self.port):
                return self
        self.stop()
        raise RuntimeError(f"baresip did not answer OPTIONS within {timeout:g} s")

    def stop(self) -> None:
        stop_process(self._proc)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Baresip:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _started(audio: str, rtp_ports: tuple[int, int]) -> Baresip:
    from tests.conftest import require_program

    require_program("baresip", "the call probe is tested against a real baresip")
    return Baresip(audio, rtp_ports).start()


@pytest.fixture(scope="session")
def baresip() -> Iterator[Baresip]:
    """baresip answering with a tone."""
    peer = _started("tone", (31000, 31099))
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def baresip_silent() -> Iterator[Baresip]:
    """baresip answering with exact digital silence."""
    peer = _started("silence", (31100, 31199))
    yield peer
    peer.stop()
