"""TCP connect (and HTTP GET) probes per CPU-second on loopback, as ratios to baselines.

Baselines measured in the same run: a bare asyncio connect loop (`loop.create_connection`,
then abort), and Prometheus blackbox_exporter (`tcp_connect` and `http_2xx` modules) pinned
to one core and driven by `wrk`, if both are installed — counting `probe_success 1` in the
bodies, since `/probe` answers 200 even when the probe fails. Goal: our TCP probe >= 1.0x
blackbox_exporter per CPU-second; for HTTP the ratio is reported.

The peer is a small accept-and-close server in a child process (for HTTP, a canned-response
server), so its CPU is not counted. Loopback only, a few seconds per phase.

    .venv/bin/python -m benchmarks.probes_tcp [--seconds 3] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report
from benchmarks.probes_common import Rate, drive
from probes import run_probe
from tests.peers.net import free_port, tcp_listening, wait_until

# A tiny asyncio server in a child process: accepts, answers HTTP with a fixed 200, closes
# on EOF. Good enough as a peer for both the TCP and the HTTP probes.
_PEER = r"""
import asyncio, sys
BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"
class P(asyncio.Protocol):
    def connection_made(self, t): self.t = t
    def data_received(self, d):
        if b"\r\n\r\n" in d: self.t.write(BODY)
    def eof_received(self): self.t.close()
async def main():
    server = await asyncio.get_running_loop().create_server(
        P, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    await server.serve_forever()
asyncio.run(main())
"""

_BLACKBOX_CONFIG = """
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
"""

_WRK_COUNTER = """
ok = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0 end
function response(status, headers, body)
  if string.find(body, "probe_success 1", 1, true) then ok = ok + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("OK %d\\n", total))
end
"""


def _start_peer() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _PEER, str(port)])
    wait_until(lambda: tcp_listening(port), 10, "benchmark peer")
    return proc, port


async def bare_connect(port: int, concurrency: int, seconds: float) -> Rate:
    loop = asyncio.get_running_loop()

    async def one() -> bool:
        try:
            transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        except OSError:
            return False
        transport.abort()
        return True

    return await drive("bare asyncio connect loop", one, concurrency, seconds)


async def bare_httpx(port: int, concurrency: int, seconds: float) -> Rate:
    """httpx alone (one AsyncClient, plain GET): shows what the library itself costs."""
    import httpx

    async with httpx.AsyncClient(trust_env=False) as client:

        async def one() -> bool:
            try:
                return (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200
            except httpx.HTTPError:
                return False

        return await drive("bare httpx GET loop", one, concurrency, seconds)


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def blackbox(module: str, target: str, concurrency: int, seconds: float) -> Rate | None:
    binary = shutil.which("prometheus-blackbox-exporter")
    wrk = shutil.which("wrk")
    taskset = shutil.which("taskset")
    if binary is None or wrk is None:
        return None
    with tempfile.TemporaryDirectory(prefix="hotline-bbe-") as tmp:
        config = Path(tmp, "blackbox.yml")
        config.write_text(_BLACKBOX_CONFIG)
        script = Path(tmp, "count.lua")
        script.write_text(_WRK_COUNTER)
        port = free_port()
        pin = [taskset, "-c", "0"] if taskset else []
        proc = subprocess.Popen(
            [*pin, binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "GOMAXPROCS": "1"},
        )
        try:
            wait_until(lambda: tcp_listening(port), 10, "blackbox_exporter")
            url = f"http://127.0.0.1:{port}/probe?module={module}&target={target}"
            cpu0, wall0 = _proc_cpu(proc.pid), time.perf_counter()
            out = subprocess.run(
                [
                    wrk,
                    "-t1",
                    f"-c{concurrency}",
                    f"-d{max(1, int(seconds))}s",
                    "-s",
                    str(script),
                    url,
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 30,
            ).stdout
            cpu, wall = _proc_cpu(proc.pid) - cpu0, time.perf_counter() - wall0
        finally:
            proc.terminate()
            proc.wait(10)
    ok = next((int(line.split()[1]) for line in out.splitlines() if line.startswith("OK ")), 0)
    return Rate(f"blackbox_exporter {module} (1 core, wrk)", ok, 0, wall, cpu)


async def main(seconds: float, concurrency: int) -> None:
    peer, port = _start_peer()
    try:
        bare = await bare_connect(port, concurrency, seconds)

        async def tcp() -> bool:
            return (await run_probe("tcp", f"127.0.0.1:{port}", {}, 5.0)).ok

        ours_tcp = await drive("hotline tcp probe (run_probe)", tcp, concurrency, seconds)

        async def http() -> bool:
            return (await run_probe("http", f"http://127.0.0.1:{port}/", {}, 5.0)).ok

        ours_http = await drive("hotline http probe (run_probe)", http, concurrency, seconds)
        bare_http = await bare_httpx(port, concurrency, seconds)
        bbe_tcp = blackbox("tcp_connect", f"127.0.0.1:{port}", concurrency, seconds)
        bbe_http = blackbox("http_2xx", f"http://127.0.0.1:{port}/", concurrency, seconds)
    finally:
        peer.terminate()
        peer.wait(10)
    print(f"TCP connect / HTTP GET on 127.0.0.1, {concurrency} in flight, {seconds:g} s per phase")
    print(bare.line())
    print(ours_tcp.line(bare))
    print(bare_http.line())
    print(ours_http.line(bare_http))
    if bbe_tcp is None or bbe_http is None:
        print("blackbox_exporter or wrk not installed: no blackbox_exporter baseline")
        report.row("TCP probe vs bare asyncio connect", ours_tcp.per_cpu_second,
                   bare.per_cpu_second, unit="probes/CPU-s")  # fmt: skip
        report.skipped("TCP probe vs blackbox_exporter", "blackbox_exporter or wrk not installed")
        report.skipped("HTTP probe vs blackbox_exporter", "blackbox_exporter or wrk not installed")
        return
    print(bbe_tcp.line())
    print(ours_tcp.line(bbe_tcp))
    print(bbe_http.line())
    print(ours_http.line(bbe_http))
    print(bare_http.line(bbe_http))
    ratio = ours_tcp.per_cpu_second / bbe_tcp.per_cpu_second if bbe_tcp.per_cpu_second else 0
    http_ratio = (
        ours_http.per_cpu_second / bbe_http.per_cpu_second if bbe_http.per_cpu_second else 0
    )
    report.row("TCP probe vs blackbox_exporter", ours_tcp.per_cpu_second, bbe_tcp.per_cpu_second,
               unit="probes/CPU-s", goal="ratio ≥ 1.0", met=ratio >= 1,
               note="blackbox_exporter pinned to 1 core, driven by wrk")  # fmt: skip
    report.row("HTTP probe vs blackbox_exporter", ours_http.per_cpu_second,
               bbe_http.per_cpu_second, unit="probes/CPU-s", goal="ratio ≥ 0.7",
               met=http_ratio >= 0.7, note="goal from issue 14")  # fmt: skip
    print(
        f"goal TCP >= 1.0x blackbox_exporter per CPU-second: "
        f"{'met' if ratio >= 1 else 'NOT met'} (x{ratio:.2f})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with report.json_output(args.json):
        asyncio.run(main(min(args.seconds, 30.0), max(1, min(args.concurrency, 500))))
