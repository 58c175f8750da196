"""What the InfluxDB store adds to the contract: the same answers as SQLite for one history,
replays that store nothing twice, points InfluxDB refuses or expires, and live records kept
fresh against InfluxDB's own expiry."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.domain.model import (
    AuditEntry,
    Component,
    Exclusion,
    Heartbeat,
    Incident,
    MaintenanceWindow,
    Outage,
    Sample,
    TimelineEntry,
)
from collector.store import SqliteStore
from collector.store.influx.client import InfluxError, rows
from collector.store.influx.store import InfluxStore
from tests.peers.influxd import Influxd, influxd_factory  # noqa: F401

T0 = 1_792_999_980_000
MIN = 60_000


def wall_now() -> int:
    """The wall clock in ms: record versions are wall-clock nanoseconds, and retention
    compares them with the `now` it is given."""
    return int(time.time() * 1000)


def history() -> list[Sample]:
    """Three hours of samples of two components, with failures, gaps in latency and runs."""
    out = []
    for i in range(360):
        ts = T0 + i * 30_000 + (i % 7)
        ok = i % 9 != 0
        out.append(
            Sample("a1", "ivr-1", "ivr", "sip", ts, ok, "ok" if ok else "timeout",
                   latency_ms=float(i % 13) if ok else None)
        )  # fmt: skip
        if i % 4 == 0:
            out.append(
                Sample("a2", "acd-1", "acd", "snmp", ts + 1, True, "ok", latency_ms=2.5,
                       count=3, until=ts + 20_000, value={"ifOperStatus": 1})
            )  # fmt: skip
    return out


def influx_url(server: Influxd, db: str, **options: str) -> str:
    return server.store_url(db, rp_raw_days="0", rp_keep_days="0", **options)


@pytest.fixture
async def influx_store(influxd: Influxd, tmp_path: Path) -> AsyncIterator[InfluxStore]:
    store = InfluxStore.from_url(
        influx_url(influxd, influxd.new_database_name()), state_dir=tmp_path
    )
    await store.open()
    yield store
    await store.close()


async def test_same_history_gives_the_same_answers_as_sqlite_through_retention(
    influx_store: InfluxStore, tmp_path: Path
) -> None:
    sqlite = SqliteStore(tmp_path / "s.db")
    await sqlite.open()
    samples = history()
    for i in range(0, len(samples), 50):
        for store in (sqlite, influx_store):
            assert await store.append_samples("a", f"b{i}", samples[i : i + 50])
    cut = T0 + 100 * MIN + 17  # rolls up more than an hour (several slices), not a whole minute
    for store in (sqlite, influx_store):
        assert await store.read_samples(T0, T0 + 4 * 60 * MIN) == sorted(
            samples, key=lambda s: (s.ts, s.component, s.probe)
        )
    results = [await s.apply_retention(cut, T0 - MIN, T0) for s in (sqlite, influx_store)]
    assert results[0] == results[1] and results[0].samples_rolled_up > 200
    for since, until in [(T0, T0 + 4 * 60 * MIN), (T0 + 7 * MIN, T0 + 9 * MIN)]:
        assert await influx_store.rollups(since, until) == await sqlite.rollups(since, until)
        assert await influx_store.rollups(since, until, "acd-1") == await sqlite.rollups(
            since, until, "acd-1"
        )
    assert await influx_store.read_samples(0, 2**50) == await sqlite.read_samples(0, 2**50)
    # late samples of an already rolled-up minute add to it, as in SQLite
    late = [Sample("a1", "ivr-1", "ivr", "sip", T0 + 5 * MIN + 100, False, "refused")]
    for store in (sqlite, influx_store):
        await store.append_samples("a1", "late", late)
        await store.apply_retention(cut, T0 - MIN, T0)
    assert await influx_store.rollups(T0, cut) == await sqlite.rollups(T0, cut)
    await sqlite.close()


async def test_a_replayed_buffer_stores_nothing_twice(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = influxd_factory()
    url = influx_url(server, "replay", buffer=str(tmp_path / "buf.sqlite"))
    store = InfluxStore.from_url(url)
    await store.open()
    server.stop()  # everything stays in the buffer
    samples = history()[:40]
    await store.append_samples("a1", "b1", samples)
    await store.upsert_outages([Outage("ivr-1@1", "ivr-1", T0, None)])
    await store.append_audit(AuditEntry(T0, "ops", "outage.annotate", "ivr-1@1"))
    await store.close()
    shutil.copy(tmp_path / "buf.sqlite", tmp_path / "copy.sqlite")
    server.start()
    store = InfluxStore.from_url(url)
    await store.open()
    assert len(await store.read_samples(0, 2**50)) == 40  # delivered
    await store.close()
    # a crash after delivery but before the buffer forgot: the same lines again
    shutil.copy(tmp_path / "copy.sqlite", tmp_path / "buf.sqlite")
    (tmp_path / "buf.sqlite-wal").unlink(missing_ok=True)
    store = InfluxStore.from_url(url)
    await store.open()
    assert await store.read_samples(0, 2**50) == sorted(
        samples, key=lambda s: (s.ts, s.component, s.probe)
    )
    assert [c.id for c in await store.components()] == ["acd-1", "ivr-1"]
    assert len(await store.read_outages()) == 1
    assert len(await store.audit()) == 1
    await store.close()


async def test_points_influxdb_refuses_are_set_aside_and_the_rest_stored(
    influxd: Influxd, tmp_path: Path
) -> None:
    db = influxd.new_database_name()
    store = InfluxStore.from_url(influx_url(influxd, db), state_dir=tmp_path)
    await store.open()
    # someone else wrote `detail` as an integer: our string field conflicts from now on
    r = httpx.post(
        f"{influxd.url}/write",
        params={"db": db, "rp": "hotline_raw"},
        content=f"sample,component=x detail=1i {(T0 - 1) * 1_000_000}\n".encode(),  # same shard
    )
    assert r.status_code == 204
    good = Sample("a1", "ivr-1", "ivr", "sip", T0, True, "ok")
    await store.upsert_outages([Outage("ivr-1@1", "ivr-1", T0, None)])
    await store.append_samples("a1", "b1", [good])
    await store.upsert_outages([Outage("ivr-1@1", "ivr-1", T0, T0 + MIN)])
    assert await store.read_samples(T0, T0 + 1) == []  # the refused sample, kept aside
    depths = await store.queue_depths()
    assert depths["influx_rejected_lines"] == 1 and depths["influx_buffer"] == 0
    [(rp, lines, error)] = await store._buffer.run(store._buffer.rejected)
    assert (rp, lines) == ("hotline_raw", 1) and "field type conflict" in error
    assert [o.end for o in await store.read_outages()] == [T0 + MIN]  # the rest went on
    assert [c.id for c in await store.components()] == ["ivr-1"]
    await store.close()


async def test_points_older_than_the_retention_policy_are_counted_as_expired(
    influxd: Influxd, tmp_path: Path
) -> None:
    url = influxd.store_url(influxd.new_database_name(), rp_raw_days="1")
    store = InfluxStore.from_url(url, state_dir=tmp_path)
    await store.open()
    now = int(time.time() * 1000)
    old, fresh = (
        Sample("a1", "ivr-1", "ivr", "sip", t, True, "ok") for t in (now - 3 * 86_400_000, now)
    )
    await store.append_samples("a1", "b1", [old, fresh])
    assert await store.read_samples(0, 2**50) == [fresh]
    depths = await store.queue_depths()
    assert depths["influx_expired_lines"] == 1 and depths["influx_rejected_lines"] == 0
    await store.close()


async def test_live_records_are_rewritten_before_influxdb_could_expire_them(
    influx_store: InfluxStore,
) -> None:
    s = influx_store
    await s.append_samples("a1", "b1", [Sample("a1", "ivr-1", "ivr", "sip", T0, False, "timeout")])
    await s.upsert_outages([Outage("ivr-1@1", "ivr-1", T0, None, probes=("sip",))])
    await s.set_exclusion("ivr-1@1", Exclusion("carrier", "center", "ops", T0))
    await s.upsert_window(
        MaintenanceWindow("mw-1", ("*",), T0, T0 + MIN, rrule="FREQ=WEEKLY", created_at=T0)
    )
    await s.upsert_incident(Incident("INC-1", ("ivr-1",), "P1", T0))
    await s.append_timeline(TimelineEntry("INC-1", T0, "detected"))
    await s.record_heartbeat(Heartbeat("a1", T0, T0 - 5, 30.0, {"pending": 1}))

    async def everything() -> list[object]:
        return [
            await s.components(),
            await s.read_outages(),
            await s.windows(),
            await s.incidents(),
            await s.timeline("INC-1"),
            await s.heartbeats(),
        ]

    before = await everything()
    versions = {
        m: len(await s._select(f"SELECT * {s.db.from_(s.db.rp_keep, m)}"))
        for m in ("outage", "window")
    }
    s.retention.refresh_after_ms = 0  # everything counts as old enough to be written again
    await s.apply_retention(0, 0, wall_now())
    assert await everything() == before
    for m, n in versions.items():
        assert len(await s._select(f"SELECT * {s.db.from_(s.db.rp_keep, m)}")) == n + 1


async def test_without_influxql_delete_retention_rolls_up_once_and_keeps_expired_records_out(
    influx_store: InfluxStore, tmp_path: Path
) -> None:
    """InfluxDB 2.x and 3.x answer InfluxQL queries but run no DELETE (not installable here,
    so the refusal is played by wrapping the client): retention then rolls each sample up
    once, leaves expiry to InfluxDB, and stops rewriting records it would have deleted."""
    s = influx_store
    real_query = s.db.client.query

    async def no_delete(statement: str, **kw: Any) -> list[dict[str, Any]]:
        if statement.startswith("DELETE"):
            raise InfluxError("query error: DELETE not supported", retryable=False)
        return await real_query(statement, **kw)

    s.db.client.query = no_delete  # type: ignore[method-assign]
    sqlite = SqliteStore(tmp_path / "s.db")
    await sqlite.open()
    samples = history()
    late = Sample("a1", "ivr-1", "ivr", "sip", T0 + 70 * MIN + 5, False, "refused")
    closed = Outage("ivr-1@0", "ivr-1", T0 - 90 * MIN, T0 - 80 * MIN)
    for store in (sqlite, s):
        await store.append_samples("a", "b", samples)
        await store.upsert_outages([closed])
        await store.apply_retention(T0 + 60 * MIN, T0 - MIN, wall_now())
        await store.append_samples("a", "late", [late])
        await store.apply_retention(T0 + 120 * MIN, T0 - MIN, wall_now())
    assert await s.rollups(T0, T0 + 120 * MIN) == await sqlite.rollups(T0, T0 + 120 * MIN)
    assert not s.db.deletes_work and await s.read_outages() == [closed]  # left to InfluxDB
    s.retention.refresh_after_ms = 0
    versions = len(await s._select(f"SELECT * {s.db.from_(s.db.rp_keep, 'outage')}"))
    await s.apply_retention(T0 + 120 * MIN, T0 - MIN, wall_now())
    assert len(await s._select(f"SELECT * {s.db.from_(s.db.rp_keep, 'outage')}")) == versions
    await sqlite.close()


async def test_retention_policies_are_created_and_follow_the_collectors_retention(
    influxd: Influxd, tmp_path: Path
) -> None:
    db = influxd.new_database_name()
    store = InfluxStore.from_url(influxd.store_url(db), state_dir=tmp_path)
    await store.open()

    async def durations() -> dict[str, str]:
        [result] = await store.db.client.query(f'SHOW RETENTION POLICIES ON "{db}"')
        return {r["name"]: r["duration"] for r in rows(result)}

    assert await durations() == {
        "autogen": "0s",
        "hotline_raw": "768h0m0s",
        "hotline_keep": "10320h0m0s",
    }
    now = int(time.time() * 1000)
    await store.apply_retention(now - 30 * 86_400_000, now - 400 * 86_400_000, now)
    assert (await durations())["hotline_raw"] == "768h0m0s"  # 32 days cover 30
    await store.apply_retention(now - 90 * 86_400_000, now - 500 * 86_400_000, now)
    assert await durations() == {
        "autogen": "0s",
        "hotline_raw": "2208h0m0s",
        "hotline_keep": "12720h0m0s",
    }
    await store.close()


async def test_a_component_keeps_its_first_registration_even_after_local_state_is_lost(
    influxd: Influxd, tmp_path: Path
) -> None:
    url = influx_url(influxd, influxd.new_database_name())
    first = InfluxStore.from_url(url, state_dir=tmp_path / "before")
    await first.open()
    await first.append_samples("a1", "b1", [Sample("a1", "ivr-1", "ivr", "sip", T0, True, "ok")])
    await first.close()
    again = InfluxStore.from_url(url, state_dir=tmp_path / "after")  # a fresh buffer file
    await again.open()
    late = Sample("a2", "ivr-1", "ivr", "snmp", T0 - MIN, True, "ok")
    await again.append_samples("a2", "b1", [late])
    want = [Component("ivr-1", "ivr", T0, "a1")]
    assert await again.components() == want
    again.retention.refresh_after_ms = 0  # rewritten as first registered, others deleted
    await again.apply_retention(0, 0, wall_now())
    assert await again.components() == want
    assert (
        len(await again._select(f"SELECT * {again.db.from_(again.db.rp_keep, 'component')}")) == 1
    )
    await again.close()
