"""Results/s end to end into InfluxDB, against the raw line-protocol rate of the same influxd.

    .venv/bin/python benchmarks/influx_ingest.py [--results 200000] [--batch 500] [--agents 4]

Starts Debian's influxd on loopback (as the tests do), warms it up, then alternates `--rounds`
times, each phase into a database of its own (checked to hold every point):
- raw: the same points, already formatted as line protocol, POSTed straight to `/write` in
  bodies of 5,000 lines (uncompressed) — what influxd takes from a client doing nothing else;
- store: `InfluxStore.append_samples` in batches of `--batch` results from `--agents` concurrent
  senders (as the HTTP API hands them over: line formatting, durable buffer commit with fsync,
  drain, gzip, `/write`), timed until the buffer has delivered everything to InfluxDB;
- store, one sender: the same with a single sender (every batch pays its own fsync; the
  collector lets concurrent HTTP batches share a commit, so this is its worst case);
- collector (`--http`, each round): `hotline collector --store influxdb://…` as a process, HTTP
  batches of 500 from 4 connections (JSON parsing, validation, state engine, store), timed until
  the last 202 (accepted: durable in the local buffer) and until InfluxDB holds every result,
  with the collector process's CPU time per result over that span (user + system, all its
  threads): steadier than the rates on a 2-core machine shared with influxd and the client.
Prints the median of each and the ratios (goal: store ≥ 50 % of raw). `--skip-store` leaves
out the two InfluxStore phases (quicker A/B runs of the collector with `--http`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import report
from collector.domain.model import Sample
from collector.domain.timefmt import format_instant
from collector.store.influx.schema import SampleWriter
from collector.store.influx.store import InfluxStore
from tests.peers.influxd import Influxd
from tests.peers.net import free_port

T0 = 1_792_999_980_000


def make_results(n: int) -> list[Sample]:
    out = []
    for i in range(n):
        k = i % 500
        ok = i % 50 != 0
        out.append(
            Sample(
                agent=f"agent-{k % 5}",
                component=f"seat-{k:03d}",
                system="seat",
                probe="sip" if i % 2 else "tcp",
                ts=T0 + (i // 500) * 1000 + k,
                ok=ok,
                reason="ok" if ok else "timeout",
                detail="" if ok else "no answer in 5 s",
                latency_ms=1.25 + (i % 7) if ok else None,
                interval=30.0,
            )
        )
    return out


async def count(client: httpx.AsyncClient, db: str, rp: str | None) -> int:
    source = f'"{rp}"."sample"' if rp else '"sample"'
    r = await client.get("/query", params={"db": db, "q": f'SELECT count("ok") FROM {source}'})
    series = r.json()["results"][0].get("series")
    return series[0]["values"][0][1] if series else 0


async def raw_rate(server: Influxd, results: list[Sample], db: str) -> float:
    writer = SampleWriter()
    lines = [writer.line(s, i) for i, s in enumerate(results)]
    bodies = ["\n".join(lines[i : i + 5000]).encode() + b"\n" for i in range(0, len(lines), 5000)]
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        await client.post("/query", data={"q": f'CREATE DATABASE "{db}"'})
        start = time.perf_counter()
        for body in bodies:
            r = await client.post("/write", params={"db": db, "precision": "ns"}, content=body)
            r.raise_for_status()
        elapsed = time.perf_counter() - start
        assert await count(client, db, None) == len(results)
    return len(results) / elapsed


async def store_rate(
    server: Influxd, results: list[Sample], batch: int, agents: int, state: Path, db: str
) -> float:
    url = server.store_url(db, rp_raw_days="0", rp_keep_days="0")
    store = InfluxStore.from_url(url, state_dir=state / db)
    await store.open()
    slices = [results[i : i + batch] for i in range(0, len(results), batch)]

    async def agent(k: int) -> None:
        for n, part in enumerate(slices[k::agents]):
            assert await store.append_samples(f"agent-{k}", f"b{n}", part)

    start = time.perf_counter()
    await asyncio.gather(*(agent(k) for k in range(agents)))
    await store._buffer.flush(600)
    elapsed = time.perf_counter() - start
    await store.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        assert await count(client, db, "hotline_raw") == len(results)
    return len(results) / elapsed


async def collector_rate(server: Influxd, n: int, tmp: Path, db: str) -> tuple[float, float, float]:
    """(results/s until the last 202, results/s until InfluxDB holds them all, the collector
    process's CPU µs per result over the same span: steadier than rates on a busy machine)."""
    t0 = time.time_ns() // 1_000_000 - n * 10
    rows = [
        {"component": f"seat-{i % 500:03d}", "system": "seat", "probe": "sip" if i % 2 else "tcp",
         "ts": format_instant(t0 + i * 10), "ok": True, "latency_ms": 1.25, "reason": "ok",
         "detail": "", "interval": 30}
        for i in range(n)
    ]  # fmt: skip
    bodies = [
        json.dumps({"agent": "a1", "batch": f"b{i}", "results": rows[i : i + 500]}).encode()
        for i in range(0, n, 500)
    ]
    port = free_port()
    config = tmp / "collector.yaml"
    config.write_text("agents: [{name: a1, token: bench}]\nsilence_after: 3600\n")
    store = server.store_url(db, rp_raw_days="0", rp_keep_days="0", buffer=f"{tmp}/{db}.db")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline", "collector", "--config", str(config), "--listen",
         f"127.0.0.1:{port}", "--store", store, "--log-level", "warning"],
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer bench", "content-type": "application/json"}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.05)
            queue = list(reversed(bodies))

            async def worker() -> None:
                while queue:
                    r = await client.post("/api/v1/results", content=queue.pop(), headers=headers)
                    assert r.status_code == 202, r.text[:300]

            cpu = psutil.Process(proc.pid)
            cpu_start = sum(cpu.cpu_times()[:2])
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(4)))
            accepted = time.perf_counter() - start
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as influx:
                while await count(influx, db, "hotline_raw") < n:
                    await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
            return n / accepted, n / elapsed, (sum(cpu.cpu_times()[:2]) - cpu_start) / n * 1e6
    finally:
        proc.terminate()
        proc.wait(20)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--http", action="store_true", help="also through hotline collector")
    parser.add_argument(
        "--skip-store", action="store_true", help="leave out the InfluxStore phases (with --http)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with report.json_output(args.json):
        await _run(args)


async def _run(args: argparse.Namespace) -> None:
    results = make_results(args.results)
    raw, e2e, single, http, accepted, cpu = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp, Influxd(Path(tmp) / "influxd") as server:
        state = Path(tmp) / "state"
        await raw_rate(server, results[:50_000], "warmup")
        for n in range(args.rounds):
            raw.append(await raw_rate(server, results, f"raw{n}"))
            if not args.skip_store:
                e2e.append(
                    await store_rate(server, results, args.batch, args.agents, state, f"e{n}")
                )
                single.append(await store_rate(server, results, args.batch, 1, state, f"s{n}"))
            if args.http:
                a, h, c = await collector_rate(server, args.results, Path(tmp), f"http{n}")
                accepted.append(a)
                http.append(h)
                cpu.append(c)
    r = statistics.median(raw)
    print(f"{args.results:,} results, median of {args.rounds} rounds")
    print(f"raw line protocol to /write     : {r:10,.0f} points/s")
    if e2e:
        e, s1 = statistics.median(e2e), statistics.median(single)
        print(
            f"InfluxStore, {args.agents} concurrent senders: {e:10,.0f} results/s"
            f"  ratio {e / r:6.1%}"
        )
        print(f"InfluxStore, one sender         : {s1:10,.0f} results/s  ratio {s1 / r:6.1%}")
        report.row(f"InfluxStore, {args.agents} senders → influxd", e, r, unit="results/s",
                   goal="ratio ≥ 0.5", met=e / r >= 0.5,
                   note="baseline: raw line protocol to /write, same influxd")  # fmt: skip
        report.row("InfluxStore, one sender → influxd", s1, r, unit="results/s",
                   note="baseline: raw line protocol to /write, same influxd")  # fmt: skip
    if http:
        h, a = statistics.median(http), statistics.median(accepted)
        print(f"hotline collector over HTTP     : {h:10,.0f} results/s  ratio {h / r:6.1%}")
        print(f"  (202s alone, before the drain : {a:10,.0f} results/s  ratio {a / r:6.1%})")
        print(f"  (collector CPU per result     : {statistics.median(cpu):10.1f} µs)")
        report.row("hotline collector HTTP → influxd", h, r, unit="results/s",
                   goal="ratio ≥ 0.5", met=h / r >= 0.5,
                   note=f"collector CPU {statistics.median(cpu):.1f} µs/result")  # fmt: skip
    print(f"(batches of {args.batch}; goal: ratio >= 50%)")


if __name__ == "__main__":
    asyncio.run(main())
