"""Agent load: 10,000 targets at a 10 s interval (1,000 probes/s) against loopback responders.

    .venv/bin/python benchmarks/agent_load.py [--targets 10000] [--interval 10] [--seconds 30]

Half the targets are probed with SIP OPTIONS over UDP, half with TCP connects; responders (a
TCP listener, a UDP SIP responder answering 200 OK, and a collector answering 202) run in a
child process so the agent's CPU and memory are its own. The agent runs for real: apscheduler,
the probes registry, the SQLite spool (fsync full) and the shipper.

Prints achieved probes/s, p50/p99 schedule lag (start of the run vs its scheduled time), CPU %
and RSS, as ratios to the goals (p99 lag < 1 s, under one core, RSS < 150 MB) and against a
baseline measured in the same run: the same rate of bare asyncio TCP connects scheduled with
loop.call_at, no scheduler, spool or shipping.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402

GOAL_P99_LAG = 1.0
GOAL_CPU = 100.0
GOAL_RSS_MB = 150.0


# ---- responders (child process) ------------------------------------------------------------


class _SipResponder(asyncio.DatagramProtocol):
    """Answers every OPTIONS with 200 OK, echoing Via, From, To (tagged), Call-ID and CSeq."""

    _COPY = ("via", "v", "from", "f", "call-id", "i", "cseq")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        lines = data.decode("utf-8", "replace").split("\r\n")
        out = ["SIP/2.0 200 OK"]
        for line in lines[1:]:
            if not line:
                break
            name = line.split(":", 1)[0].strip().lower()
            if name in self._COPY:
                out.append(line)
            elif name in ("to", "t"):
                out.append(line + ";tag=bench")
        out += ["Content-Length: 0", "", ""]
        self.transport.sendto("\r\n".join(out).encode(), addr)  # type: ignore[attr-defined]


class _Collector(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    results = 0

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer = b""
        status = 204
        if self.path == "/api/v1/results":
            n = len(json.loads(body)["results"])
            _Collector.results += n
            answer = json.dumps({"accepted": n, "rejected": []}).encode()
            status = 202
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


async def _responders() -> None:
    loop = asyncio.get_running_loop()
    tcp = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0, backlog=4096)
    udp, _ = await loop.create_datagram_endpoint(_SipResponder, local_addr=("127.0.0.1", 0))
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    ports = {
        "tcp": tcp.sockets[0].getsockname()[1],
        "sip": udp.get_extra_info("sockname")[1],
        "http": http.server_address[1],
    }
    print(json.dumps(ports), flush=True)
    while True:  # until the parent closes our stdin
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        print(json.dumps({"results": _Collector.results}), flush=True)


# ---- measurements (parent process) ---------------------------------------------------------


def _raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _baseline(port: int, rate: int, seconds: float) -> dict[str, float]:
    """`rate` bare TCP connects per second, each scheduled with call_at; lag at start."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done = 0
    tasks: set[asyncio.Task[None]] = set()

    async def connect(due: float) -> None:
        nonlocal done
        lags.append(loop.time() - due)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            writer.transport.abort()
            done += 1
        except (OSError, TimeoutError):
            pass

    def fire(due: float) -> None:
        task = loop.create_task(connect(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    start = loop.time() + 0.5
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        loop.call_at(due, fire, due)
    cpu0, wall0 = _cpu(), time.monotonic()
    await asyncio.sleep(seconds + 0.5)
    while tasks:
        await asyncio.sleep(0.05)
    cpu, wall = _cpu() - cpu0, time.monotonic() - wall0
    return {
        "rate": done / seconds,
        "p50": statistics.median(lags),
        "p99": _pct(lags, 0.99),
        "cpu": 100 * cpu / wall,
    }


def _config(tmp: Path, ports: dict[str, int], targets: int, interval: float) -> Path:
    lines = [
        "agent: bench",
        f'collector: {{url: "http://127.0.0.1:{ports["http"]}", token_env: BENCH_TOKEN}}',
        "spool: {path: spool.db, fsync: full}",
        "heartbeat: {interval: 5}",
        f"defaults: {{interval: {interval}, timeout: 2}}",
        "concurrency: {tcp: 1024, sip: 1024}",
        "targets:",
    ]
    for i in range(targets):
        if i % 2:
            probe = f'{{kind: sip, target: "sip:127.0.0.1:{ports["sip"]}"}}'
        else:
            probe = f'{{kind: tcp, target: "127.0.0.1:{ports["tcp"]}"}}'
        lines.append(f"  - {{id: seat-{i:05d}, system: seat, probes: [{probe}]}}")
    path = tmp / "agent.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _agent(config_path: Path, warmup: float, seconds: float) -> dict[str, float]:
    import psutil

    from agent import Agent, load_config

    config = load_config(config_path)
    asyncio.get_running_loop().add_signal_handler(  # `kill -USR2 PID`: where each task waits
        signal.SIGUSR2, lambda: [t.print_stack(limit=8) for t in asyncio.all_tasks()]
    )
    agent = Agent(str(config_path), config)
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(warmup)
    health = agent.health
    runs0, lags0 = health.runs, len(health.lags)
    cpu0, wall0 = _cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = _cpu() - cpu0, time.monotonic() - wall0
    runs = health.runs - runs0
    lags = list(health.lags)[lags0 - len(health.lags) :] if lags0 else list(health.lags)
    rss = psutil.Process().memory_info().rss / 2**20
    pending = agent.spool.stats().pending
    agent.stop()
    await task
    return {
        "rate": runs / wall,
        "p50": statistics.median(lags[-runs:]),
        "p99": _pct(lags[-runs:], 0.99),
        "cpu": 100 * cpu / wall,
        "rss": rss,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "late": health.late_runs,
        "skipped": health.skipped_runs,
        "pending": pending,
    }


def _cell(value: float | None, digits: int = 1) -> str:
    return f"{value:12.{digits}f}" if value is not None else f"{'-':>12}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured agent window")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--responders", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    if args.responders:
        asyncio.run(_responders())
        return 0
    with report.json_output(args.json):
        return _run(args)


def _run(args: argparse.Namespace) -> int:

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` prints where a run is stuck
    nofile = _raise_nofile()
    child = subprocess.Popen(
        [sys.executable, __file__, "--responders"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        ports = json.loads(child.stdout.readline())
        rate = round(args.targets / args.interval)
        print(
            f"targets {args.targets} every {args.interval:g} s = {rate} probes/s "
            f"(half SIP/UDP, half TCP); RLIMIT_NOFILE {nofile}"
        )
        base = asyncio.run(_baseline(ports["tcp"], rate, args.baseline_seconds))
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["BENCH_TOKEN"] = "bench"
            config = _config(Path(tmp), ports, args.targets, args.interval)
            agent = asyncio.run(_agent(config, args.interval + 2, args.seconds))
        child.stdin.write("\n")
        child.stdin.flush()
        delivered = json.loads(child.stdout.readline())["results"]
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(10)

    print()
    print(f"{'':26}{'agent':>12}{'baseline':>12}{'goal':>12}{'agent/goal':>12}")
    rows = [
        ("probes/s", agent["rate"], base["rate"], rate, agent["rate"] / rate),
        ("p50 schedule lag (ms)", agent["p50"] * 1e3, base["p50"] * 1e3, None, None),
        (
            "p99 schedule lag (ms)",
            agent["p99"] * 1e3,
            base["p99"] * 1e3,
            GOAL_P99_LAG * 1e3,
            agent["p99"] / GOAL_P99_LAG,
        ),
        ("CPU (% of one core)", agent["cpu"], base["cpu"], GOAL_CPU, agent["cpu"] / GOAL_CPU),
        ("RSS (MB)", agent["rss"], None, GOAL_RSS_MB, agent["rss"] / GOAL_RSS_MB),
    ]
    for name, a, b, goal, ratio in rows:
        print(f"{name:26}{_cell(a)}{_cell(b)}{_cell(goal)}{_cell(ratio, 2)}")
    what = f"agent, {args.targets:,} targets / {args.interval:g} s"
    report.row(f"{what}: probes/s", agent["rate"], base["rate"], unit="probes/s",
               goal=f"{rate:,}/s", met=agent["rate"] >= 0.98 * rate)  # fmt: skip
    report.row(f"{what}: p99 schedule lag", agent["p99"] * 1e3, base["p99"] * 1e3, unit="ms",
               goal=f"< {GOAL_P99_LAG * 1e3:g} ms", met=agent["p99"] < GOAL_P99_LAG)  # fmt: skip
    report.row(f"{what}: CPU", agent["cpu"], base["cpu"], unit="% of a core",
               goal=f"< {GOAL_CPU:g} %", met=agent["cpu"] < GOAL_CPU)  # fmt: skip
    report.row(f"{what}: RSS", agent["rss"], None, unit="MB",
               goal=f"< {GOAL_RSS_MB:g} MB", met=agent["rss"] < GOAL_RSS_MB)  # fmt: skip
    print()
    print(
        f"agent CPU / baseline CPU: {agent['cpu'] / base['cpu']:.2f}x; "
        f"peak RSS {agent['peak_rss']:.0f} MB; late runs {agent['late']}, "
        f"skipped runs {agent['skipped']}; spool pending at stop {agent['pending']}; "
        f"results delivered to the collector {delivered}"
    )
    ok = agent["p99"] < GOAL_P99_LAG and agent["cpu"] < GOAL_CPU and agent["rss"] < GOAL_RSS_MB
    print("goals met" if ok else "goals NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
