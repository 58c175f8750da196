"""Ingest throughput: HTTP batches of 500 → validation → state engine → SQLite, end to end.

Starts `hotline collector` as a subprocess on a loopback port (its own process, as in
production), posts pre-encoded batches from a few concurrent connections, and prints results/s
against a baseline measured in the same run: the same rows inserted straight into SQLite
(executemany, one WAL commit with synchronous=FULL per 500 rows, as the store does).

    .venv/bin/python benchmarks/collector_ingest.py [--results 100000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import report
from collector.domain.timefmt import format_instant
from collector.store.sqlite import _MIGRATIONS
from tests.peers.net import free_port

BATCH = 500
TOKEN = "bench-token"


def make_results(n: int, components: int) -> list[dict]:
    t0 = (time.time_ns() // 1_000_000) - n * 10  # all in the recent past
    out = []
    mid = n // components // 2
    for i in range(n):
        c = i % components
        ok = not (c == 7 and mid <= i // components < mid + 5)  # one real outage on the way
        out.append(
            {
                "component": f"seat-{c:03d}",
                "system": "seat",
                "probe": "sip" if i % 2 else "tcp",
                "ts": format_instant(t0 + i * 10),
                "ok": ok,
                "latency_ms": 1.25,
                "reason": "ok" if ok else "timeout",
                "detail": "" if ok else "no answer in 5 s",
                "interval": 30,
            }
        )
    return out


def baseline(rows: list[dict], path: Path) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    for statement in _MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        chunk = [
            ("a1", r["component"], r["system"], r["probe"], 0, int(r["ok"]), r["reason"],
             r["detail"], r["latency_ms"], None, r["interval"], 1, None)
            for r in rows[i : i + BATCH]
        ]  # fmt: skip
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", chunk)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


async def through_http(bodies: list[bytes], url: str, concurrency: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    headers = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            r = await client.post("/api/v1/results", content=body, headers=headers)
            assert r.status_code == 202 and not r.json()["rejected"], r.text[:300]

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with report.json_output(args.json):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    rows = make_results(args.results, args.components)
    bodies = [
        json.dumps({"agent": "a1", "batch": f"b{i}", "results": rows[i : i + BATCH]}).encode()
        for i in range(0, len(rows), BATCH)
    ]
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        base_s = baseline(rows, Path(tmp, "baseline.db"))
        port = free_port()
        config = Path(tmp, "collector.yaml")
        config.write_text(
            f"store: sqlite:///{tmp}/store.db\nagents: [{{name: a1, token: {TOKEN}}}]\n"
            "silence_after: 3600\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline", "collector", "--config", str(config),
             "--listen", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)
            http_s = asyncio.run(through_http(bodies, url, args.concurrency))
            outages = httpx.get(
                f"{url}/api/v1/outages", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()["outages"]
        finally:
            proc.terminate()
            proc.wait(20)
    n = len(rows)
    print(f"results: {n} in batches of {BATCH}, {args.components} components, "
          f"{args.concurrency} connections")  # fmt: skip
    print(f"baseline  straight SQLite inserts : {n / base_s:>10,.0f} results/s ({base_s:.2f} s)")
    print(f"collector HTTP → engine → SQLite  : {n / http_s:>10,.0f} results/s ({http_s:.2f} s)")
    print(f"ratio collector / baseline        : {base_s / http_s:.3f}")
    print(f"goal ≥ 20,000 results/s           : {'met' if n / http_s >= 20_000 else 'NOT met'}")
    print(f"outages derived on the way        : {len(outages)}")
    report.row(
        "collector ingest, HTTP → engine → SQLite",
        n / http_s,
        n / base_s,
        unit="results/s",
        goal="≥ 20,000/s",
        met=n / http_s >= 20_000,
        note="baseline: straight SQLite executemany, 500 rows per FULL commit",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
