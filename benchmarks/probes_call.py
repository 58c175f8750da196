"""Synthetic calls per CPU-second against a local baresip, and the RTP receive path's cost.

1. Calls: `run_probe("call", …)` at fixed concurrency against baresip (auto-answer, a tone),
   each call listening `--listen` seconds; our process's CPU per call. Baseline in the same
   run: `sipp` placing the same calls (its built-in uac scenario: INVITE, ACK, pause, BYE, no
   RTP sent or judged), its own CPU per call, if installed.
2. RTP receive: CPU per packet of `AudioMeter.feed` (parse, sequence bookkeeping, G.711 RMS)
   against a baseline of `audioop.ulaw2lin` + `audioop.rms` on the same payloads (C code,
   deprecated), and what one call's 50 packets a second cost as a share of one core.

Loopback only, bounded: a few seconds per phase.

    .venv/bin/python -m benchmarks.probes_call [--seconds 5] [--concurrency 4] [--listen 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import time
import warnings

from benchmarks import report
from benchmarks.probes_common import Rate, cpu_seconds, drive
from probes import rtp, run_probe
from tests.peers.baresip import Baresip
from tests.peers.net import free_port


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sipp_calls(uri_host_port: str, calls: int, concurrency: int, listen: float) -> Rate | None:
    binary = shutil.which("sipp")
    if binary is None:
        return None
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [
            binary,
            "-sn",
            "uac",
            uri_host_port,
            "-s",
            "ivr",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-m",
            str(calls),
            "-l",
            str(concurrency),
            "-r",
            "1000",
            "-d",
            str(int(listen * 1000)),
            "-nostdin",
            "-timeout",
            "60",
            "-timeout_error",
        ],
        capture_output=True,
        timeout=120,
        cwd="/tmp",
    )
    wall = time.perf_counter() - wall0
    failed = 0 if done.returncode == 0 else 1
    return Rate(
        "sipp uac (signalling only, its own CPU)",
        calls - failed,
        failed,
        wall,
        _children_cpu() - cpu0,
    )


def meter_cost(packets: int = 50_000) -> tuple[Rate, Rate | None]:
    tone = bytes((i * 37) & 0xFF for i in range(160))
    frames = [rtp.build_rtp(0, i, i * 160, 1234, tone) for i in range(packets)]
    meter = rtp.AudioMeter()
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    for i, frame in enumerate(frames):
        meter.feed(frame, i * 0.02)
    ours = Rate(
        "AudioMeter.feed per packet", packets, 0, time.perf_counter() - wall0, cpu_seconds() - cpu0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            return ours, None
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    total = 0
    for frame in frames:
        total += audioop.rms(audioop.ulaw2lin(frame[12:], 2), 2)
    base = Rate(
        "audioop ulaw2lin + rms per packet (C)",
        packets,
        0,
        time.perf_counter() - wall0,
        cpu_seconds() - cpu0,
    )
    return ours, base


async def main(seconds: float, concurrency: int, listen: float) -> None:
    peer = Baresip("tone", (31200, 31399))
    with peer:
        options = {"seconds": listen, "rtp_ports": "22000-22999"}

        async def one() -> bool:
            result = await run_probe("call", peer.uri, options, timeout=listen + 3)
            return result.ok

        ours = await drive(
            f"call probe, {listen:g} s of RTP each", one, concurrency, seconds, warmup=2
        )
        sipp = sipp_calls(f"127.0.0.1:{peer.port}", max(ours.ok, 10), concurrency, listen)
        print(f"calls against baresip, concurrency {concurrency}:")
        if sipp is not None:
            print(sipp.line())
            print(ours.line(sipp))
            report.row("call probe vs sipp uac", ours.per_cpu_second, sipp.per_cpu_second,
                       unit="calls/CPU-s",
                       note=f"{listen:g} s RTP judged per call; sipp sends no RTP")  # fmt: skip
        else:
            print(ours.line())
            print("  (sipp not installed: no baseline)")
            report.row("call probe", ours.per_cpu_second, None, unit="calls/CPU-s",
                       note="sipp not installed: no baseline")  # fmt: skip

    ours_rtp, base_rtp = meter_cost()
    print("RTP receive path:")
    print(f"{ours_rtp.line(base_rtp)}")
    if base_rtp is not None:
        print(base_rtp.line())
    per_packet_us = 1e6 / ours_rtp.per_cpu_second
    print(
        f"  {per_packet_us:.1f} us CPU per packet: one call (50 packets/s) costs "
        f"{per_packet_us * 50 / 1e4:.3f}% of a core to judge its audio"
    )
    print(f"  (pid {os.getpid()}; CPU is utime + stime of this process)")
    report.row("RTP receive: AudioMeter.feed vs audioop (C)", ours_rtp.per_cpu_second,
               base_rtp.per_cpu_second if base_rtp else None, unit="packets/CPU-s",
               note=f"one call = {per_packet_us * 50 / 1e4:.3f} % of a core")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--listen", type=float, default=0.5)
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with report.json_output(args.json):
        asyncio.run(
            main(min(args.seconds, 30.0), max(1, min(args.concurrency, 32)), max(0.2, args.listen))
        )
