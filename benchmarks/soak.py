"""Soak: a real agent and collector for minutes with flapping peers and the collector killed at
random; every induced outage stored once, spool and buffer drained, memory and fds flat.

    benchmarks/soak [--minutes 10] [--quick] [--influx] [--seed N]

Starts, on loopback: a TCP listener and an HTTP server that flap on a random schedule (the
listener closes: `refused`; the server answers 503: `error_response`), `hotline collector`
(SQLite; with `--influx` on a real influxd started as tests/peers/influxd.py starts it) and
`hotline agent` checking both every second. At random moments the collector (and, with
`--influx`, influxd) is stopped with SIGKILL or SIGTERM and started again a few seconds later;
the agent spools meanwhile. RSS and open file descriptors of agent and collector are sampled
every 2 s.

At the end the flapping stops with both peers up; once the agent's spool (its heartbeat) and
the collector's InfluxDB buffer (/metrics) are empty, `GET /api/v1/outages` must hold every
induced outage exactly once (start and end within the detection tolerance) and nothing else;
the last quarter's median RSS and fd count must stay within the stated bounds of the first
quarter's. Prints a summary table; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.domain.timefmt import parse_instant
from tests.agent.conftest import TcpTarget
from tests.collector.process import AGENT_TOKEN, OPERATOR_TOKEN, CollectorProcess
from tests.peers.net import LOOPBACK, stop_process

REPO = Path(__file__).resolve().parents[1]
INTERVAL = 1.0  # the agent's check interval, s
TIMEOUT = 0.5  # the checks' timeout, s
# A check runs every INTERVAL: its first failure comes up to INTERVAL + TIMEOUT after the peer
# went down, its first success up to that after it came back; slack for a loaded machine.
TOLERANCE_MS = int((2 * INTERVAL + TIMEOUT + 1.5) * 1000)
RSS_GROWTH = 1.25  # last-quarter median RSS ≤ 1.25 × first-quarter median + 16 MiB
RSS_SLACK = 16 * 2**20
FD_SLACK = 8  # last-quarter median fds ≤ first-quarter median + 8


class FlappingHttp:
    """An HTTP server answering 200, or 503 while `down`."""

    def __init__(self) -> None:
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status = 503 if outer.down else 200
                body = b"down\n" if outer.down else b"ok\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def open(self) -> None:
        self.down = False

    def close(self) -> None:
        self.down = True

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Peer:
    component: str
    up: Callable[[], object]
    down: Callable[[], None]
    induced: list[tuple[int, int]] = field(default_factory=list)  # [start, end) ms
    down_since: int | None = None
    next_change: float = 0.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _agent_config(tmp: Path, url: str, tcp_port: int, http_port: int) -> Path:
    path = tmp / "agent.yaml"
    path.write_text(
        f"""\
agent: a1
collector: {{url: "{url}", token_env: SOAK_TOKEN}}
spool: {{path: {tmp}/spool.db}}
shipping: {{batch_age: 0.2, backoff_initial: 0.2, backoff_max: 2, flush_timeout: 5}}
heartbeat: {{interval: 1, host_metrics_interval: 5}}
defaults: {{interval: {INTERVAL}, timeout: {TIMEOUT}}}
targets:
  - {{id: seat-tcp, system: seat, probes: [{{kind: tcp, target: "{LOOPBACK}:{tcp_port}"}}]}}
  - {{id: seat-http, system: seat, probes: [{{kind: http, target: "http://{LOOPBACK}:{http_port}/"}}]}}
""",
        encoding="utf-8",
    )
    return path


def _sample(pid: int | None) -> tuple[int, int] | None:
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(True))
        return rss, proc.num_fds()
    except psutil.Error:
        return None


def _quarters(values: list[float]) -> tuple[float, float]:
    q = max(1, len(values) // 4)
    return statistics.median(values[:q]), statistics.median(values[-q:])


def _pending(collector: CollectorProcess, since: int) -> int | None:
    """The agent's spool as its latest heartbeat after `since` says (None: none yet)."""
    try:
        status = httpx.get(
            f"{collector.url}/api/v1/status",
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            timeout=5,
        ).json()
    except (httpx.HTTPError, ValueError):
        return None
    for agent in status.get("agents", []):
        if agent["agent"] == "a1" and parse_instant(agent["last_seen"]) > since:
            return int(agent["spool"]["pending"]) + int(agent["spool"].get("held") or 0)
    return None


def _buffer(collector: CollectorProcess) -> int:
    try:
        text = httpx.get(f"{collector.url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return -1
    found = re.search(r"^hotline_store_influx_buffer\S* (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def _match(induced: list[tuple[int, int]], stored: list[dict]) -> tuple[int, int, list[str]]:
    """(induced found exactly once, stored matching nothing, problems)."""
    problems = []
    used: set[int] = set()
    once = 0
    for start, end in induced:
        hits = [
            i
            for i, o in enumerate(stored)
            if abs(parse_instant(o["start"]) - start) <= TOLERANCE_MS
            and o["end"] is not None
            and abs(parse_instant(o["end"]) - end) <= TOLERANCE_MS
        ]
        used.update(hits)
        if len(hits) == 1:
            once += 1
        else:
            problems.append(f"induced {start}–{end}: stored {len(hits)} times")
    extra = [o for i, o in enumerate(stored) if i not in used]
    problems += [f"stored, not induced: {o['start']}–{o['end']}" for o in extra]
    return once, len(extra), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run")
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    parser.add_argument("--influx", action="store_true", help="InfluxDB store (a real influxd)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seconds = 120.0 if args.quick else args.minutes * 60
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    rng = random.Random(seed)
    print(f"soak: {seconds:.0f} s, store {'influxdb' if args.influx else 'sqlite'}, seed {seed}")

    with tempfile.TemporaryDirectory(prefix="hotline-soak-") as tmp_name:
        tmp = Path(tmp_name)
        influxd = None
        store_url = None
        if args.influx:
            from tests.peers.influxd import Influxd

            influxd = Influxd(tmp / "influxd").start()
            store_url = influxd.store_url("soak")
        (tmp / "collector").mkdir()
        collector = CollectorProcess(tmp / "collector", store_url=store_url)
        tcp, http = TcpTarget(), FlappingHttp()
        tcp.open()
        agent_proc: subprocess.Popen[bytes] | None = None
        counts = {"collector SIGKILL": 0, "collector SIGTERM": 0, "influxd SIGKILL": 0,
                  "influxd SIGTERM": 0}  # fmt: skip
        samples: dict[str, list[tuple[int, int]]] = {"agent": [], "collector": []}
        try:
            collector.start()
            config = _agent_config(tmp, collector.url, tcp.port, http.port)
            env = {**os.environ, "SOAK_TOKEN": AGENT_TOKEN}
            with (tmp / "agent.log").open("ab") as log:
                agent_proc = subprocess.Popen(
                    [sys.executable, "-m", "hotline", "agent", "--config", str(config)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
                    env=env,
                )  # fmt: skip
            peers = [
                Peer("seat-tcp", tcp.open, tcp.close),
                Peer("seat-http", http.open, http.close),
            ]
            began = time.monotonic()
            end_at = began + seconds
            for peer in peers:
                peer.next_change = began + rng.uniform(5, 12)
            next_kill = began + rng.uniform(15, 40)
            next_sample = began
            while time.monotonic() < end_at:
                now = time.monotonic()
                _flap(peers, now, rng, end_at)
                if now >= next_kill and now + 15 < end_at:
                    hard = rng.random() < 0.5
                    both = influxd is not None and rng.random() < 0.4
                    if hard:
                        collector.kill9()
                    else:
                        collector.stop()
                    counts[f"collector {'SIGKILL' if hard else 'SIGTERM'}"] += 1
                    if both:
                        assert influxd is not None
                        influx_hard = rng.random() < 0.5
                        influxd.kill() if influx_hard else influxd.stop()
                        counts[f"influxd {'SIGKILL' if influx_hard else 'SIGTERM'}"] += 1
                    down_for = rng.uniform(1, 6)
                    _sleep_flapping(peers, down_for, rng, end_at)
                    if both:
                        assert influxd is not None
                        influxd.start()
                    collector.start(ready=False)
                    next_kill = time.monotonic() + rng.uniform(15, 45)
                if now >= next_sample:
                    for name, pid in (
                        ("agent", agent_proc.pid),
                        ("collector", collector.proc.pid if collector.proc else None),
                    ):
                        got = _sample(pid)
                        if got is not None:
                            samples[name].append(got)
                    next_sample = now + 2
                time.sleep(0.05)
            for peer in peers:  # end with both peers up
                if peer.down_since is not None:
                    peer.up()
                    peer.induced.append((peer.down_since, _now_ms()))
                    peer.down_since = None
            # drained: a heartbeat sent after everything was induced says the spool is empty
            settled = _now_ms() + int(3 * INTERVAL * 1000)
            drained_in = None
            t0 = time.monotonic()
            while time.monotonic() - t0 < 120:
                time.sleep(1)
                pending = _pending(collector, settled)
                if pending == 0 and _buffer(collector) == 0:
                    drained_in = time.monotonic() - t0
                    break
            stored = httpx.get(
                f"{collector.url}/api/v1/outages",
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
                timeout=30,
            ).json()["outages"]
        finally:
            if agent_proc is not None and agent_proc.poll() is None:
                agent_proc.send_signal(signal.SIGTERM)
                stop_process(agent_proc, timeout=20)
            collector.stop()
            tcp.close()
            http.stop()
            if influxd is not None:
                influxd.stop()
            agent_log = (tmp / "agent.log").read_text(errors="replace")
            collector_log = collector.log.read_text(errors="replace")

    return _verdict(peers, stored, counts, drained_in, samples, agent_log + collector_log)


def _verdict(
    peers: list[Peer],
    stored: list[dict],
    counts: dict[str, int],
    drained_in: float | None,
    samples: dict[str, list[tuple[int, int]]],
    logs: str,
) -> int:
    """Print the summary table and the bounds; 1 when a bound was not met."""
    failures: list[str] = []
    rows = []
    induced_total = 0
    for peer in peers:
        mine = [o for o in stored if o["component"] == peer.component and o["kind"] == "fault"]
        once, extra, problems = _match(peer.induced, mine)
        induced_total += len(peer.induced)
        rows.append((f"outages {peer.component}", f"{len(peer.induced)} induced",
                     f"{once} stored once, {extra} not induced"))  # fmt: skip
        failures += [f"{peer.component}: {p}" for p in problems]
    rows.append(("restarts", ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none", ""))
    if drained_in is None:
        failures.append("the agent's spool or the collector's buffer did not drain in 120 s")
        rows.append(("spool and buffer", "NOT drained in 120 s", ""))
    else:
        rows.append(("spool and buffer", f"drained {drained_in:.0f} s after the run", ""))
    for name, series in samples.items():
        if len(series) < 8:
            failures.append(f"{name}: too few samples ({len(series)})")
            continue
        rss_first, rss_last = _quarters([float(r) for r, _ in series])
        fd_first, fd_last = _quarters([float(f) for _, f in series])
        rows.append((f"{name} RSS MiB (median)", f"first quarter {rss_first / 2**20:.1f}",
                     f"last quarter {rss_last / 2**20:.1f}"))  # fmt: skip
        rows.append((f"{name} open fds (median)", f"first quarter {fd_first:.0f}",
                     f"last quarter {fd_last:.0f}"))  # fmt: skip
        if rss_last > RSS_GROWTH * rss_first + RSS_SLACK:
            failures.append(
                f"{name}: RSS grew {rss_first / 2**20:.1f} → {rss_last / 2**20:.1f} MiB"
            )
        if fd_last > fd_first + FD_SLACK:
            failures.append(f"{name}: open fds grew {fd_first:.0f} → {fd_last:.0f}")
    width = max(len(r[0]) for r in rows)
    print(f"\n{'check':<{width}}  result")
    for name, a, b in rows:
        print(f"{name:<{width}}  {a}{'; ' + b if b else ''}")
    print(
        f"\nbounds: each induced outage stored once, start and end within "
        f"{TOLERANCE_MS / 1000:g} s; last-quarter median RSS ≤ {RSS_GROWTH:g} × first + "
        f"{RSS_SLACK // 2**20} MiB; fds ≤ first + {FD_SLACK}"
    )
    tracebacks = [line for line in logs.splitlines() if "Traceback" in line]
    print(f"tracebacks in the logs: {len(tracebacks)}")
    if failures:
        print("\nFAILED:\n" + "\n".join(f"- {f}" for f in failures))
        return 1
    print(f"\nok: {induced_total} induced outages, each stored once")
    return 0


def _flap(peers: list[Peer], now: float, rng: random.Random, end_at: float) -> None:
    """Take a peer down for 6–15 s, or bring it back for 6–20 s, when its time has come."""
    for peer in peers:
        if now < peer.next_change:
            continue
        if peer.down_since is None:
            if now + 8 > end_at:  # no outage that cannot end in the run
                peer.next_change = end_at + 1
                continue
            peer.down()
            peer.down_since = _now_ms()
            peer.next_change = now + rng.uniform(6, 15)
        else:
            peer.up()
            peer.induced.append((peer.down_since, _now_ms()))
            peer.down_since = None
            peer.next_change = now + rng.uniform(6, 20)


def _sleep_flapping(peers: list[Peer], seconds: float, rng: random.Random, end_at: float) -> None:
    """Sleep while the collector is down; the peers keep flapping on their schedule."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        _flap(peers, time.monotonic(), rng, end_at)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
