"""Concurrent ingest through the collector: batches share the store's durable commit (group
commit), and every batch id is still stored exactly once (on each store kind)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from collector.domain.ingest import parse_batch
from collector.domain.timefmt import format_instant
from collector.service import Collector
from collector.store import Store
from tests.collector.conftest import T0, Clock, make_config

S = 1000


def body(n: int, per: int = 20) -> dict:
    def ok(k: int) -> bool:  # seat-1 fails through batches 5-8: one outage
        return not (5 <= n <= 8 and k % 5 == 1)

    results = [
        {"component": f"seat-{k % 5}", "system": "seat", "probe": "tcp",
         "ts": format_instant(T0 - 3600 * S + n * per * S + k * S), "ok": ok(k),
         "reason": "ok" if ok(k) else "timeout", "interval": 10}
        for k in range(per)
    ]  # fmt: skip
    return {"agent": "a1", "batch": f"b{n}", "results": results}


async def test_concurrent_batches_share_commits_and_are_stored_once(
    store: Store, tmp_path: Path
) -> None:
    collector = Collector(make_config(tmp_path), store, clock=Clock())
    await collector.start(background=False)
    before = store.commits  # type: ignore[attr-defined]
    n = 24
    bodies = [body(i) for i in range(n)] + [body(3), body(17)]  # two sent twice at once
    results = await asyncio.gather(
        *(collector.ingest(parse_batch(b, collector.systems, collector.clock())) for b in bodies)
    )
    commits = store.commits - before  # type: ignore[attr-defined]
    assert sorted(r.duplicate for r in results) == [False] * n + [True, True]
    assert commits < n // 2, f"{commits} commits for {n} concurrent batches: no group commit"
    stored = await store.read_samples(T0 - 7200 * S, T0)
    assert len(stored) == n * 20
    assert len({(s.component, s.ts) for s in stored}) == n * 20
    # the engine saw each batch once: outages equal those of the same samples in one batch
    reference = Collector(make_config(tmp_path / "ref"), _fresh(tmp_path), clock=Clock())
    await reference.start(background=False)
    everything = [r for i in range(n) for r in body(i)["results"]]
    await reference.ingest(
        parse_batch({"agent": "a1", "results": everything}, {}, reference.clock())
    )
    assert [o.component for o in collector.engine.outages() if o.kind == "down"] == ["seat-1"]
    assert collector.engine.outages() == reference.engine.outages()
    await reference.stop()


def _fresh(tmp_path: Path) -> Store:
    from collector.store import SqliteStore

    return SqliteStore(tmp_path / "ref" / "store.db")
