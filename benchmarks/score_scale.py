"""How the scorer grows: 10^4, 10^5 and 10^6 outages over 10,000 components.

Prints, for each size, the time to validate the facts and to score them, outages per second,
and the ratio to a baseline measured in the same run: Python sorting the same outages as
tuples (the n log n floor any exact scorer pays). Goal on the 2-core machine: 10^6 outages in
≤ 5 s, growth no worse than n log n (the ratio to the baseline stays flat).

    .venv/bin/python -m benchmarks.score_scale [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from benchmarks.report import json_output, row
from scoring import load_rules, parse_facts, score

COMPONENTS = 10_000
BASE = 1_793_462_400  # 2026-11-01T00:00:00+08:00
MONTH = 30 * 86_400
SYSTEMS = ["seat"] * 90 + ["acd"] * 4 + ["ivr"] * 4 + ["callsys", "other"]


def make_facts(n: int, seed: int = 7) -> tuple[dict, list[tuple[str, int, int]]]:
    rnd = random.Random(seed)
    components = [
        {"id": f"c{i:05d}", "system": SYSTEMS[i % len(SYSTEMS)]} for i in range(COMPONENTS)
    ]
    spans = []
    outages = []
    for _ in range(n):
        cid = f"c{rnd.randrange(COMPONENTS):05d}"
        start = BASE + rnd.randrange(MONTH)
        end = start + rnd.randrange(1, 1800)
        spans.append((cid, start, end))
        outages.append(
            {
                "component": cid,
                "start": datetime.fromtimestamp(start, UTC).isoformat(),
                "end": datetime.fromtimestamp(end, UTC).isoformat(),
            }
        )
    windows = [
        {
            "id": f"mw-{d}",
            "start": datetime.fromtimestamp(BASE + d * 86_400 + 7200, UTC).isoformat(),
            "end": datetime.fromtimestamp(BASE + d * 86_400 + 9000, UTC).isoformat(),
            "components": ["*"],
        }
        for d in range(0, 30, 7)
    ]
    data = {
        "month": "2026-11",
        "as_of": "2026-12-06T09:00:00+08:00",
        "components": components,
        "outages": outages,
        "maintenance_windows": windows,
        "incidents": [],
    }
    return data, spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with json_output(args.json):
        _run([int(s) for s in args.sizes.split(",")])


def _run(sizes: list[int]) -> None:
    rules = load_rules()
    print(f"{'outages':>10} {'validate s':>11} {'score s':>9} {'total s':>9} "
          f"{'outages/s':>11} {'sort s':>8} {'total/sort':>11}")  # fmt: skip
    for n in sizes:
        data, spans = make_facts(n)
        t0 = time.perf_counter()
        facts = parse_facts(data, rules)
        t1 = time.perf_counter()
        report = score(facts, rules)
        t2 = time.perf_counter()
        sorted(spans)
        t3 = time.perf_counter()
        assert report["items"]["seat_availability"]["value"] is not None
        total = t2 - t0
        print(
            f"{n:>10,} {t1 - t0:>11.3f} {t2 - t1:>9.3f} {total:>9.3f} "
            f"{n / total:>11,.0f} {t3 - t2:>8.3f} {total / (t3 - t2):>11.1f}"
        )
        row(
            f"score {n:,} outages (validate + score)",
            total,
            t3 - t2,
            unit="s",
            goal="≤ 5 s" if n == 1_000_000 else None,
            met=total <= 5 if n == 1_000_000 else None,
            note="baseline: sorted() of the same outages; ratio flat = n log n",
        )


if __name__ == "__main__":
    main()
