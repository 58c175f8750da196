"""State engine cost per sample when probes flap, against the same probes steady (same run).

Feeds `collector.domain.engine.Engine` in-process as the collector does: one batch per
interval with one result per probe, `prune(now − 24 h)` every 10 minutes of simulated time,
`tick` after each batch. Flapping probes fail 5 times and succeed 6 times over and over (an
outage every 11 samples), so the kept history holds thousands of items per probe; the baseline
is the same probes always ok. Before the engine compacted and walked only the new tail, the
flapping cost grew with the kept history (~100 µs per sample after a few hours).

    .venv/bin/python -m benchmarks.engine_flapping [--probes 30] [--hours 6] [--interval 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import json_output, row
from collector.domain.engine import Engine, EngineConfig
from collector.domain.model import Sample

T0 = 1_800_000_000_000
HOUR = 3_600_000


def run(probes: int, hours: float, interval: float, flapping: bool) -> tuple[float, float, int]:
    """(µs per sample over the whole run, µs per sample over its last tenth, outages)."""
    engine = Engine(EngineConfig(composite_id=None))
    step = int(interval * 1000)
    batches = int(hours * HOUR / step)
    pruned = T0
    elapsed = 0.0
    tail = 0.0
    tail_from = batches - batches // 10
    for b in range(batches):
        now = T0 + b * step
        ok = not flapping or b % 11 >= 5
        samples = [
            Sample(
                agent="a1",
                component=f"seat-{p:03d}",
                system="seat",
                probe="tcp",
                ts=now,
                ok=ok,
                reason="ok" if ok else "timeout",
                detail="" if ok else "no answer in 5 s",
                interval=interval,
            )
            for p in range(probes)
        ]
        start = time.perf_counter()
        engine.ingest(samples, now)
        engine.tick(now)
        if now - pruned >= 600_000:
            engine.prune(now - 24 * HOUR)
            pruned = now
        spent = time.perf_counter() - start
        elapsed += spent
        if b >= tail_from:
            tail += spent
    per_sample = elapsed / (batches * probes) * 1e6
    per_tail = tail / ((batches - tail_from) * probes) * 1e6
    return per_sample, per_tail, len(engine.outages())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--hours", type=float, default=6.0, help="simulated time")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between batches")
    parser.add_argument("--json", action="store_true", help="one JSON object of rows on stdout")
    args = parser.parse_args()
    with json_output(args.json):
        steady, steady_tail, _ = run(args.probes, args.hours, args.interval, flapping=False)
        flap, flap_tail, outages = run(args.probes, args.hours, args.interval, flapping=True)
        print(f"{args.probes} probes, {args.hours:g} h at {args.interval:g} s: {outages:,} outages")
        print(f"{'':>10} {'µs/sample':>10} {'last tenth':>11}")
        print(f"{'steady':>10} {steady:>10.1f} {steady_tail:>11.1f}")
        print(f"{'flapping':>10} {flap:>10.1f} {flap_tail:>11.1f}")
        row(
            "engine: flapping probes, µs per sample",
            flap_tail,
            steady_tail,
            unit="µs",
            goal="ratio ≤ 5",
            met=flap_tail <= 5 * steady_tail,
            note=(
                f"{args.probes} probes flapping every 11 samples, {args.hours:g} h of history "
                "(last tenth of the run); baseline: the same probes steady"
            ),
        )


if __name__ == "__main__":
    main()
