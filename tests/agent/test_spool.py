"""The durable spool: order, coalescing, batches that keep their id, the cap."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.coalesce import RowInfo, extend, plan_drops
from agent.spool import Spool, SpoolError


def _result(component: str, n: int, ok: bool = True, probe: str = "tcp") -> dict[str, Any]:
    return {
        "component": component,
        "system": "acd",
        "probe": probe,
        "ts": f"2026-11-03T10:{n // 60:02d}:{n % 60:02d}+08:00",
        "ok": ok,
        "latency_ms": 1.0 if ok else None,
        "reason": "ok" if ok else "timeout",
        "detail": f"sample {n}",
        "interval": 1,
    }


async def _drain(spool: Spool, limit: int = 1000) -> list[dict[str, Any]]:
    out = []
    while (batch := await spool.take_batch("a1", limit, 10**9)) is not None:
        out.extend(json.loads(r) for r in batch.results_json)
        await spool.ack(batch.id)
    return out


def test_extend_keeps_the_first_sample_and_counts_the_run() -> None:
    first = _result("acd-1", 0) | {"value": 5}
    run = extend(extend(first, _result("acd-1", 1) | {"value": 6}), _result("acd-1", 2))
    assert run["ts"] == first["ts"] and run["detail"] == "sample 0"
    assert run["count"] == 3 and run["until"] == _result("acd-1", 2)["ts"]
    assert run["value"] == 6


def test_drop_plan_takes_continuations_before_any_state_change() -> None:
    rows = [
        RowInfo(1, 100, 1, True),
        RowInfo(2, 100, 5, False),
        RowInfo(3, 100, 1, True),
        RowInfo(4, 100, 7, False),
    ]
    plan = plan_drops(rows, 150)
    assert plan.ids == (2, 4) and plan.results == 12 and plan.changes == 0
    plan = plan_drops(rows, 250)
    assert plan.ids == (1, 2, 4) and plan.changes == 1  # then the oldest change


async def test_results_come_out_in_order_and_identical_runs_coalesce(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s.db"), 10**9)
    await spool.open()
    states = [True, True, True, False, False, True]
    for n, ok in enumerate(states):
        await spool.put([_result("acd-1", n, ok), _result("ivr-1", n, True)])
    out = await _drain(spool)
    await spool.close()
    acd = [r for r in out if r["component"] == "acd-1"]
    assert [(r["ok"], r.get("count", 1)) for r in acd] == [(True, 3), (False, 2), (True, 1)]
    assert acd[0]["ts"] == _result("acd-1", 0)["ts"] and acd[0]["until"] == _result("x", 2)["ts"]
    ivr = [r for r in out if r["component"] == "ivr-1"]
    assert [r.get("count", 1) for r in ivr] == [6]
    assert sum(r.get("count", 1) for r in out) == 12  # every sample accounted for
    assert out.index(acd[0]) < out.index(ivr[0]) < out.index(acd[1])  # first-sample order


async def test_a_batch_keeps_its_id_and_rows_across_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    spool = Spool(path, 10**9, group_window=0)
    await spool.open()
    for n in range(5):
        await spool.put([_result(f"seat-{n}", n)])
    batch = await spool.take_batch("a1", 3, 10**9)
    assert batch is not None and len(batch) == 3
    await spool.put([_result("seat-0", 9)])  # same state, but its row is in flight: new row
    await spool.close()

    spool = Spool(path, 10**9, group_window=0)
    await spool.open()
    again = await spool.take_batch("a1", 100, 10**9)
    assert again is not None
    assert (again.id, again.results_json) == (batch.id, batch.results_json)
    await spool.ack(again.id)
    rest = await _drain(spool)
    assert [r["component"] for r in rest] == ["seat-3", "seat-4", "seat-0"]
    assert spool.stats().pending == 0
    await spool.close()


async def test_a_released_batch_goes_back_in_order(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s.db"), 10**9, group_window=0)
    await spool.open()
    for n in range(4):
        await spool.put([_result(f"c{n}", n)])
    batch = await spool.take_batch("a1", 10, 10**9)
    assert batch is not None
    await spool.release(batch.id)
    out = await _drain(spool, limit=2)
    assert [r["component"] for r in out] == ["c0", "c1", "c2", "c3"]
    await spool.close()


async def test_a_full_spool_drops_middles_first_never_a_change_and_counts_it(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "s.db")
    spool = Spool(path, 10**9, group_window=0)
    await spool.open()
    # Steady checks: shipped once, then their runs continue in the spool (continuations).
    for n in range(10):
        await spool.put([_result(f"seat-{n}", 0)])
    await _drain(spool)
    for n in range(10):
        await spool.put([_result(f"seat-{n}", 1)])
        await spool.put([_result(f"seat-{n}", 2)])
    # A flapping check: every sample a state change.
    for n in range(20):
        await spool.put([_result("acd-1", n, ok=n % 2 == 0)])
    size_before = spool.stats().bytes
    spool.max_bytes = size_before - 1  # the next result overflows the cap
    await spool.put([_result("acd-1", 20, ok=True)])
    stats = spool.stats()
    assert stats.bytes <= spool.max_bytes
    assert stats.dropped > 0 and stats.dropped_changes == 0
    out = await _drain(spool)
    flaps = [r for r in out if r["component"] == "acd-1"]
    assert [r["ok"] for r in flaps] == [n % 2 == 0 for n in range(21)]  # every change kept
    dropped_seats = 10 - len([r for r in out if r["component"].startswith("seat-")])
    assert dropped_seats > 0 and stats.dropped == 2 * dropped_seats  # each run stood for 2
    await spool.close()

    reopened = Spool(path, 10**9, group_window=0)  # the count survives a restart
    await reopened.open()
    assert reopened.stats().dropped == stats.dropped
    await reopened.close()


async def test_only_state_changes_left_then_the_oldest_go_and_are_counted(
    tmp_path: Path,
) -> None:
    spool = Spool(str(tmp_path / "s.db"), 10**9, group_window=0)
    await spool.open()
    for n in range(40):
        await spool.put([_result("acd-1", n, ok=n % 2 == 0)])
    spool.max_bytes = spool.stats().bytes // 2
    await spool.put([_result("acd-1", 40, ok=True)])
    stats = spool.stats()
    out = await _drain(spool)
    assert stats.dropped_changes == stats.dropped > 0
    assert out[-1]["ts"] == _result("x", 40)["ts"]  # the newest are kept
    assert [r["ts"] for r in out] == sorted(r["ts"] for r in out)
    assert len(out) + stats.dropped == 41
    await spool.close()


async def test_what_put_returned_for_is_committed_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    spool = Spool(str(path), 10**9, fsync="full")
    await spool.open()
    await spool.put([_result("acd-1", 0), _result("acd-2", 0)])
    other = sqlite3.connect(path)  # another connection sees it: committed, not buffered
    assert other.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
    await spool.close()


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 2), st.booleans()),
        st.tuples(st.just("take"), st.integers(1, 4), st.booleans()),
        st.tuples(st.just("ack"), st.just(0), st.booleans()),
        st.tuples(st.just("restart"), st.just(0), st.booleans()),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(_OPS)
def test_any_interleaving_of_puts_batches_acks_and_restarts_delivers_every_sample_in_order(
    ops: list[tuple[str, int, bool]],
) -> None:
    asyncio.run(_replay(ops))


_PUT = st.tuples(st.just("put"), st.integers(0, 2), st.booleans())
_CAP_OPS = st.lists(
    st.one_of(
        _PUT,
        _PUT,
        _PUT,
        _PUT,
        st.tuples(st.just("take"), st.integers(1, 4), st.booleans()),
        st.tuples(st.just("ack"), st.just(0), st.booleans()),
        st.tuples(st.just("restart"), st.just(0), st.booleans()),
    ),
    min_size=10,
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(_CAP_OPS)
def test_under_a_small_cap_every_sample_is_delivered_or_counted_and_changes_go_last(
    ops: list[tuple[str, int, bool]],
) -> None:
    asyncio.run(_replay(ops, cap=700))


def _changes(states: list[bool]) -> list[bool]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


async def _replay(ops: list[tuple[str, int, bool]], cap: int = 10**9) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "s.db")
        spool = Spool(path, cap, group_window=0)
        await spool.open()
        sent: dict[str, list[str]] = {}  # batch id -> its results, as first sent
        stored: list[dict[str, Any]] = []  # what a deduplicating collector keeps
        put: dict[str, list[bool]] = {}
        n = 0
        batch = None
        for op, arg, ok in [*ops, ("ack", 0, True)]:
            if op == "put":
                n += 1
                component = f"c{arg}"
                put.setdefault(component, []).append(ok)
                await spool.put([_result(component, n, ok)])
            elif op == "take":
                batch = await spool.take_batch("a1", arg, 10**9)
                if batch is not None:
                    assert sent.setdefault(batch.id, batch.results_json) == batch.results_json
            elif op == "ack" and batch is not None:
                stored.extend(json.loads(r) for r in batch.results_json)
                await spool.ack(batch.id)
                batch = None
            elif op == "restart":
                await spool.close()
                spool = Spool(path, cap, group_window=0)
                await spool.open()
                batch = None  # the agent forgot it; the spool did not
        stored.extend(await _drain(spool))
        stats = spool.stats()
        assert stats.pending == 0
        await spool.close()
    assert sum(r.get("count", 1) for r in stored) + stats.dropped == n
    for component, states in put.items():
        runs = [r for r in stored if r["component"] == component]
        expanded = [r["ok"] for r in runs for _ in range(r.get("count", 1))]
        assert [r["ts"] for r in runs] == sorted(r["ts"] for r in runs)
        if stats.dropped == 0:
            assert expanded == states
        elif stats.dropped_changes == 0:  # only continuations went: no boundary moved
            assert _changes(expanded) == _changes(states)


async def test_a_second_agent_on_the_same_spool_is_refused(tmp_path: Path) -> None:
    first = Spool(str(tmp_path / "s.db"), 10**9)
    await first.open()
    second = Spool(str(tmp_path / "s.db"), 10**9)
    with pytest.raises(SpoolError, match="in use by another agent"):
        await second.open()
    await first.close()
    third = Spool(str(tmp_path / "s.db"), 10**9)  # free again once the first is gone
    await third.open()
    await third.close()
