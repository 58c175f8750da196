"""Agent spool throughput: concurrent `Spool.put` calls (as probe runs make them) until committed.

    .venv/bin/python benchmarks/spool_put.py [--results 20000] [--writers 500] [--fsync full]

`--writers` tasks each put one result at a time (a probe run's result, every one a state
change so nothing coalesces) until `--results` are committed, with the spool's default 50 ms
group window. Prints results/s against a baseline measured in the same run: the same rows
inserted straight into SQLite, one `synchronous` commit per 500 rows. Also prints the number
of SQLite commits the spool made (group commit: far fewer than results).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.spool import Spool
from benchmarks import report


def _result(i: int) -> dict:
    return {
        "component": f"seat-{i % 1000:04d}",
        "probe": "sip",
        "ts": f"2026-11-30T00:00:{i % 60:02d}.000+08:00",
        "ok": bool((i // 1000) % 2),  # alternates per check: every result is a new row
        "reason": "ok" if (i // 1000) % 2 else "timeout",
        "latency_ms": 1.25,
    }


def _baseline(path: Path, results: list[dict], fsync: str) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'FULL' if fsync == 'full' else 'NORMAL'}")
    db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, key TEXT, body TEXT)")
    start = time.perf_counter()
    for i in range(0, len(results), 500):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO r (key, body) VALUES (?, ?)",
            [(r["component"], json.dumps(r)) for r in results[i : i + 500]],
        )
        db.execute("COMMIT")
    took = time.perf_counter() - start
    db.close()
    return len(results) / took


async def _spool(path: Path, results: list[dict], writers: int, fsync: str) -> tuple[float, int]:
    spool = Spool(str(path), max_bytes=1 << 30, fsync=fsync)
    await spool.open()
    commits = 0
    counted = getattr(spool, "_worker", None)
    if counted is None:  # before the durable worker: count the spool thread's drains
        drain = spool._drain

        def counting() -> None:
            nonlocal commits
            commits += 1
            drain()

        spool._drain = counting  # type: ignore[method-assign]
    queue = iter(results)

    async def writer() -> None:
        for result in queue:
            await spool.put([result])

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    took = time.perf_counter() - start
    if counted is not None:
        commits = counted.commits
    assert spool.stats().pending == len(results), spool.stats()
    await spool.close()
    return len(results) / took, commits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=500)
    parser.add_argument("--fsync", choices=("full", "normal"), default="full")
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    results = [_result(i) for i in range(args.results)]
    with report.json_output(args.json), tempfile.TemporaryDirectory() as tmp:
        base = _baseline(Path(tmp) / "base.db", results, args.fsync)
        ours, commits = asyncio.run(
            _spool(Path(tmp) / "spool.db", results, args.writers, args.fsync)
        )
        print(f"results: {args.results} from {args.writers} writers, fsync {args.fsync}")
        print(f"baseline  straight SQLite, 500/commit : {base:>10,.0f} results/s")
        print(f"spool put (group window 50 ms)        : {ours:>10,.0f} results/s")
        print(f"spool commits                         : {commits:>10,}")
        report.row(
            f"agent spool, {args.writers} concurrent puts",
            round(ours),
            round(base),
            unit="results/s",
            note=f"{commits} commits; baseline: straight SQLite, 500 rows per commit",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
