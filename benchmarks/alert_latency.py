"""Alert latency and alert fan-in, through the real agent and collector processes.

1. Latency: `hotline agent` probes a real kamailio every INTERVAL seconds (down_after 3);
   kamailio is stopped; the time until the opening message reaches a loopback json:// sink is
   printed next to the goal interval × down_after + 1 s (Zabbix's ICMP template needs about
   3 minutes, Prometheus' defaults about 2.5). Repeated ROUNDS times (median, max).
2. Fan-in: 500 seats fail at once (results posted through the API, as agents would): how many
   messages arrive (one incident's worth, not 500) and how long until the last.

    .venv/bin/python -m benchmarks.alert_latency [--interval 1] [--rounds 3] [--seats 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import report
from collector.domain.timefmt import format_instant
from tests.collector.process import AGENT_TOKEN, OPERATOR_TOKEN, REPO, CollectorProcess
from tests.peers.kamailio import Kamailio
from tests.peers.net import stop_process
from tests.peers.sinks import HttpSink


def _wait(fn, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit("timed out")


def _collector(tmp: Path, sink: HttpSink) -> CollectorProcess:
    collector = CollectorProcess(tmp)
    collector.config.write_text(
        collector.config.read_text()
        + "alerts:\n  public_url: https://collector.example\n"
        + f"  routes: [{{name: oncall, urls: ['{sink.json_url('oncall')}']}}]\n"
    )
    collector.start()
    return collector


def latency(interval: float, rounds: int) -> list[float]:
    return [_one_round(interval) for _ in range(rounds)]


def _one_round(interval: float) -> float:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        sink = HttpSink()
        collector = _collector(tmp, sink)
        sip = Kamailio().start()
        (tmp / "agent.token").write_text(AGENT_TOKEN + "\n")
        config = tmp / "agent.yaml"
        config.write_text(
            "agent: a1\n"
            f"collector: {{url: '{collector.url}', token_file: agent.token, timeout: 2}}\n"
            f"spool: {{path: '{tmp}/spool.db'}}\n"
            "shipping: {batch_age: 0.05, backoff_initial: 0.2, backoff_max: 1}\n"
            f"defaults: {{interval: {interval}, timeout: {min(interval * 0.8, 2)}}}\n"
            "targets:\n  - id: ivr-1\n    system: ivr\n    host: 127.0.0.1\n"
            f"    probes: [{{kind: sip, target: 'sip:127.0.0.1:{sip.port}'}}]\n"
        )
        agent = subprocess.Popen(
            [sys.executable, "-m", "hotline", "agent", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
        )  # fmt: skip
        api = httpx.Client(
            base_url=collector.url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        )
        try:
            _wait(
                lambda: any(
                    c["id"] == "ivr-1" and c["state"] == "up"
                    for c in api.get("/api/v1/status").json()["components"]
                )
            )
            time.sleep(interval)
            stopped = time.monotonic()
            sip.stop()
            _wait(lambda: sink.received)
            return time.monotonic() - stopped
        finally:
            stop_process(agent)
            sip.stop()
            collector.stop()
            sink.close()


def fan_in(seats: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        sink = HttpSink()
        collector = _collector(tmp, sink)
        agent = httpx.Client(
            base_url=collector.url, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}, timeout=30
        )
        try:
            now = time.time_ns() // 1_000_000 - 60_000
            ok = [
                {"component": f"seat-{i:03d}", "system": "seat", "probe": "sip",
                 "ts": format_instant(now), "ok": True, "reason": "ok", "interval": 10}
                for i in range(seats)
            ]  # fmt: skip
            agent.post("/api/v1/results", json={"agent": "a1", "results": ok})
            failed = [
                {**r, "ts": format_instant(now + k * 10_000), "ok": False, "reason": "timeout"}
                for k in (1, 2, 3)
                for r in ok
            ]
            start = time.monotonic()
            agent.post("/api/v1/results", json={"agent": "a1", "results": failed})
            _wait(lambda: sink.received)
            time.sleep(3)  # anything that follows would arrive by now
            last = time.monotonic() - start
            return len(sink.received), last
        finally:
            collector.stop()
            sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with report.json_output(args.json):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    goal = args.interval * 3 + 1
    runs = latency(args.interval, args.rounds)
    print(
        json.dumps(
            {
                "alert_latency_s": {
                    "median": round(statistics.median(runs), 2),
                    "max": round(max(runs), 2),
                    "goal": goal,
                    "ratio_to_goal": round(statistics.median(runs) / goal, 2),
                },
            }
        )
    )
    median = statistics.median(runs)
    report.row(
        f"alert latency, kamailio stopped (interval {args.interval:g} s, median of {args.rounds})",
        median,
        None,
        unit="s",
        goal=f"≤ {goal:g} s",
        met=median <= goal,
        note=f"max {max(runs):.2f} s; Zabbix ICMP ~180 s, Prometheus defaults ~150 s",
    )
    messages, seconds = fan_in(args.seats)
    report.row(f"alert fan-in, {args.seats} seats down at once", messages, None, unit="messages",
               goal="1 message", met=messages == 1,
               note=f"last after {seconds:.2f} s (incl. 3 s wait)")  # fmt: skip
    print(json.dumps({"fan_in": {"seats_down": args.seats, "messages": messages,
                                 "seconds_including_3_s_wait": round(seconds, 2)}}))  # fmt: skip


if __name__ == "__main__":
    main()
