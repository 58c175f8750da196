"""SIP OPTIONS probes per CPU-second against a local kamailio, as ratios to baselines.

Baselines measured in the same run: a bare asyncio UDP loop sending pre-built OPTIONS (the
floor for any Python prober; kamailio saturates first), and `sipsak` in a loop if installed.
Goal: our probe (through `run_probe`) >= 10,000 per CPU-second; print its share of the bare
loop. Loopback only, bounded: a few seconds per phase.

    .venv/bin/python -m benchmarks.probes_sip [--seconds 3] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import time

from benchmarks import report
from benchmarks.probes_common import Rate, cpu_seconds, drive, four_digit_port
from probes import run_probe
from tests.peers.kamailio import Kamailio


def _options(host: str, port: int, n: int) -> bytes:
    return (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:9;branch=z9hG4bKbench{n};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:bench@{host}>;tag=b{n}\r\nTo: <sip:{host}:{port}>\r\n"
        f"Call-ID: bench-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def bare_udp_loop(port: int, concurrency: int, duration: float) -> Rate:
    """`concurrency` pre-built OPTIONS in flight; each reply triggers the next send."""
    loop = asyncio.get_running_loop()
    messages = [_options("127.0.0.1", port, n) for n in range(concurrency)]
    state = {"ok": 0, "stop": False}
    done = loop.create_future()

    class Proto(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            state["ok"] += 1
            if state["stop"]:
                return
            self.transport.sendto(messages[state["ok"] % concurrency])

    transport, _ = await loop.create_datagram_endpoint(Proto, remote_addr=("127.0.0.1", port))
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    for message in messages:
        transport.sendto(message)
    loop.call_later(duration, lambda: (state.__setitem__("stop", True), done.set_result(None)))
    await done
    await asyncio.sleep(0.05)  # replies still in flight
    rate = Rate(
        "bare asyncio UDP loop", state["ok"], 0, time.perf_counter() - wall0, cpu_seconds() - cpu0
    )
    transport.close()
    return rate


def sipsak_loop(port: int, duration: float) -> Rate | None:
    binary = shutil.which("sipsak")
    if binary is None:
        return None
    ok = failed = 0
    start = time.perf_counter()
    children0 = _children_cpu()
    while time.perf_counter() - start < duration:
        code = subprocess.run(
            [binary, "-s", f"sip:127.0.0.1:{port}"], capture_output=True, timeout=10
        ).returncode
        ok, failed = (ok + 1, failed) if code == 0 else (ok, failed + 1)
    return Rate(
        "sipsak in a loop (its own CPU)",
        ok,
        failed,
        time.perf_counter() - start,
        _children_cpu() - children0,
    )


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def main(seconds: float, concurrency: int) -> None:
    server = Kamailio(port=four_digit_port(), children=2).start()
    try:
        target = f"sip:127.0.0.1:{server.port}"
        bare = await bare_udp_loop(server.port, concurrency, seconds)

        async def ours() -> bool:
            return (await run_probe("sip", target, {}, 5.0)).ok

        probe_udp = await drive("hotline sip probe, UDP (run_probe)", ours, concurrency, seconds)

        async def ours_tcp() -> bool:
            return (await run_probe("sip", target + ";transport=tcp", {}, 5.0)).ok

        probe_tcp = await drive(
            "hotline sip probe, TCP (run_probe)", ours_tcp, concurrency, seconds
        )
        sipsak = sipsak_loop(server.port, min(seconds, 2.0))
        print(
            f"SIP OPTIONS against kamailio on 127.0.0.1:{server.port}, "
            f"{concurrency} in flight, {seconds:g} s per phase"
        )
        for rate in (bare, probe_udp, probe_tcp, sipsak):
            if rate is not None:
                print(rate.line(bare))
        if sipsak is not None:
            print(
                probe_udp.line(sipsak).replace(
                    "hotline sip probe, UDP (run_probe)", "hotline sip probe vs sipsak".ljust(34)
                )
            )
        goal = probe_udp.per_cpu_second >= 10_000
        print(
            f"goal >= 10,000 probes per CPU-second: {'met' if goal else 'NOT met'} "
            f"({probe_udp.per_cpu_second:.0f}; {probe_udp.per_cpu_second / bare.per_cpu_second:.0%}"
            " of the bare loop)"
        )
        report.row("SIP OPTIONS probe (UDP) vs bare asyncio UDP loop", probe_udp.per_cpu_second,
                   bare.per_cpu_second, unit="probes/CPU-s", goal="≥ 10,000/CPU-s",
                   met=goal)  # fmt: skip
        report.row("SIP OPTIONS probe (TCP) vs bare asyncio UDP loop", probe_tcp.per_cpu_second,
                   bare.per_cpu_second, unit="probes/CPU-s")  # fmt: skip
        if sipsak is not None:
            report.row("SIP OPTIONS probe (UDP) vs sipsak", probe_udp.per_cpu_second,
                       sipsak.per_cpu_second, unit="probes/CPU-s")  # fmt: skip
        else:
            report.skipped("SIP OPTIONS probe (UDP) vs sipsak", "sipsak not installed")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with report.json_output(args.json):
        asyncio.run(main(min(args.seconds, 30.0), max(1, min(args.concurrency, 1000))))
