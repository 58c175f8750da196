"""Retention of the InfluxDB store (`InfluxStore.apply_retention`).

- Raw samples older than `raw_before` are read 15 minutes at a time, rolled up into per-minute
  `rollup` parts (written before anything is deleted), then deleted with one InfluxQL DELETE.
- Records past `keep_before` (closed outages and their exclusions, restored incidents and their
  timelines, ended one-off windows, audit entries) lose every version, each by its exact time.
- Records still in force are written again once their newest version is older than half their
  retention policy, so InfluxDB's own expiry never drops them.
- The policies are lengthened when the collector keeps data longer than they do.
- An InfluxDB that refuses DELETE (2.x, 3.x) leaves expiry to its own retention; samples are then
  rolled up once each, from where the previous run stopped (kept in the buffer file).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from collector.domain.model import Millis, RetentionResult
from collector.store.influx import lineproto as lp
from collector.store.influx import schema
from collector.store.influx.client import InfluxError, quote_ident, rows

if TYPE_CHECKING:
    from collector.store.influx import InfluxStore

log = logging.getLogger("collector.store.influx_retention")

MS = schema.MS
_DAY = 86_400_000
_SLICE_NS = 15 * 60 * 1_000_000_000  # raw samples are read 15 minutes at a time


async def _query_rows(store: InfluxStore, statement: str) -> list[dict[str, Any]]:
    [result] = await store._client.query(statement)
    return rows(result)


async def _fit_policies(store: InfluxStore, raw_before: Millis, keep_before: Millis) -> None:
    """Lengthen the retention policies when the collector keeps data longer than they do
    (2 days of slack for raw samples, 30 for records: retention runs every few hours and
    InfluxDB drops whole shards)."""
    if not store.create:
        return
    now = time.time_ns() // MS - 3_600_000  # the caller's clock read a moment ago
    raw = -(-(now - raw_before) // _DAY) + 2
    keep = max(400, -(-(now - keep_before) // _DAY)) + 30
    changed = False
    if store.rp_raw_days is not None and raw > store.rp_raw_days:
        store.rp_raw_days, changed = raw, True
    if store.rp_keep_days is not None and keep > store.rp_keep_days:
        store.rp_keep_days, changed = keep, True
    if changed:
        store._prepared = False
        await store._prepare()


async def apply(store: InfluxStore, raw_before: Millis, keep_before: Millis) -> RetentionResult:
    """`Store.apply_retention` on InfluxDB; the caller holds the buffer's drain still."""
    await _fit_policies(store, raw_before, keep_before)
    raw_end = schema.ns(raw_before, schema.MAX_TIME)
    rolled = deleted = 0
    sample = store._from(store.rp_raw, "sample")
    first = await _query_rows(store, f'SELECT first("ok") {sample} WHERE time < {raw_end}')
    start = first[0]["time"] - first[0]["time"] % _SLICE_NS if first else raw_end
    if not store._deletes_work:  # old samples stay: skip what earlier runs rolled up
        start = max(start, await store._buffer.run(_meta, store, "rolled_until", schema.MIN_TIME))
    while start < raw_end:  # in slices, so a long backlog never sits in memory at once
        end = min(start + _SLICE_NS, raw_end)
        old = await _query_rows(
            store,
            f'SELECT "ok", "count", "latency_ms", "component" {sample} '
            f"WHERE time >= {start} AND time < {end}",
        )
        rolled += sum(int(r.get("count") or 1) for r in old)
        deleted += len(old)
        parts = schema.rollup_samples(old)
        if parts:
            body = lp.lines(schema.rollup_line(r, t) for r, t in parts.values())
            await store._client.write(body, rp=store.rp_keep)
        start = end
    statements = [f"DELETE FROM sample WHERE time < {raw_end}"] if deleted else []

    keep_end = schema.ns(keep_before, schema.MAX_TIME)
    old_rollups = await _query_rows(
        store, f"SELECT * {store._from(store.rp_keep, 'rollup')} WHERE time < {keep_end}"
    )
    rollups_deleted = len({(r["component"], schema.rollup_from_row(r).minute) for r in old_rollups})
    if old_rollups:
        statements.append(f"DELETE FROM rollup WHERE time < {keep_end}")

    # records: every version of each expired record, deleted by its exact time
    versions: list[tuple[str, int]] = []
    records = 0
    outages = await _query_rows(store, f"SELECT * {store._from(store.rp_keep, 'outage')}")
    latest = schema.latest(outages)
    expired = {
        oid for oid, r in latest.items() if r.get("end") is not None and r["end"] < keep_before
    }
    records += len(expired)
    versions += [("outage", r["time"]) for r in outages if r.get("id") in expired]
    exclusions = await _query_rows(store, f"SELECT * {store._from(store.rp_keep, 'exclusion')}")
    versions += [("exclusion", r["time"]) for r in exclusions if r.get("outage_id") in expired]

    incidents = await _query_rows(store, f"SELECT * {store._from(store.rp_keep, 'incident')}")
    latest = schema.latest(incidents)
    gone = {
        iid
        for iid, r in latest.items()
        if r.get("restored_at") is not None and r["restored_at"] < keep_before
    }
    records += len(gone)
    versions += [("incident", r["time"]) for r in incidents if r.get("id") in gone]
    if gone:
        timeline = await _query_rows(store, f"SELECT * {store._from(store.rp_keep, 'timeline')}")
        versions += [("timeline", r["time"]) for r in timeline if r["incident_id"] in gone]

    windows = await _query_rows(store, f"SELECT * {store._from(store.rp_keep, 'window')}")
    latest = schema.latest(windows)
    ended = {wid for wid, r in latest.items() if r.get("rrule") is None and r["end"] < keep_before}
    records += len(ended)
    versions += [("window", r["time"]) for r in windows if r.get("id") in ended]

    audit = await _query_rows(
        store, f'SELECT * {store._from(store.rp_keep, "audit")} WHERE "ts" < {int(keep_before)}'
    )
    records += len(audit)
    versions += [("audit", r["time"]) for r in audit]

    statements += [f"DELETE FROM {quote_ident(m)} WHERE time = {t}" for m, t in versions]
    if statements and not await _delete(store, statements):
        deleted = rollups_deleted = records = 0

    def forget(db: sqlite3.Connection = store._buffer.connection) -> None:
        db.execute("DELETE FROM influx_batches WHERE received_at < ?", (raw_before,))
        db.execute("INSERT OR REPLACE INTO influx_meta VALUES ('rolled_until', ?)", (raw_end,))

    await store._buffer.run(forget)
    await _refresh_live(store, {"outage": expired, "exclusion": expired, "incident": gone,
                              "window": ended})  # fmt: skip
    return RetentionResult(rolled, deleted, rollups_deleted, records)


def _meta(store: InfluxStore, key: str, default: int) -> int:
    row = store._buffer.connection.execute(
        "SELECT v FROM influx_meta WHERE k = ?", (key,)
    ).fetchone()
    return default if row is None else row[0]


async def _delete(store: InfluxStore, statements: list[str]) -> bool:
    """Run InfluxQL DELETEs; False when this InfluxDB does not run them (2.x and 3.x
    answer InfluxQL queries only): expired data then stays until the retention policy
    (bucket retention) drops it, and rolled-up samples are remembered locally."""
    if not store._deletes_work:
        return False
    try:
        for i in range(0, len(statements), 200):
            await store._client.query("; ".join(statements[i : i + 200]), write=True)
    except InfluxError as exc:
        if exc.retryable:
            raise
        log.warning(
            "InfluxDB %s refused DELETE (%s): retention leaves expired data to InfluxDB's "
            "own retention from now on",
            store.target.display,
            exc,
        )
        store._deletes_work = False
        return False
    return True


async def _refresh_live(store: InfluxStore, expired: dict[str, set[str]]) -> None:
    """Write the latest version of every live record again when it is older than half its
    retention policy, so InfluxDB's own expiry never drops a record the collector keeps
    (components, open outages, recurring windows, heartbeats of quiet agents, the marker
    points of `InfluxStore._verify`…)."""
    now = time.time_ns()
    plans: list[tuple[str, str, str, int | None, Callable[[dict[str, Any], int], str]]] = [
        ("component", "component", store.rp_keep, store.rp_keep_days, _component_again),
        ("outage", "id", store.rp_keep, store.rp_keep_days, _outage_again),
        ("exclusion", "outage_id", store.rp_keep, store.rp_keep_days, _exclusion_again),
        ("window", "id", store.rp_keep, store.rp_keep_days, _window_again),
        ("incident", "id", store.rp_keep, store.rp_keep_days, _incident_again),
        ("heartbeat", "agent", store.rp_raw, store.rp_raw_days, _heartbeat_again),
        # the buffer files' markers: an expired one would look like a replaced database
        (schema.MARKER, "instance", store.rp_keep, store.rp_keep_days, _marker_again),
    ]
    for measurement, id_field, rp, days, again in plans:
        if days is None and store.refresh_after_ms is None:
            continue
        age_ns = (
            store.refresh_after_ms if store.refresh_after_ms is not None else days * _DAY // 2
        ) * MS
        statement = f"SELECT * {store._from(rp, measurement)}"
        if measurement == "heartbeat":  # many versions: ask for the latest only
            statement += " GROUP BY agent ORDER BY time DESC LIMIT 1"
        found = await _query_rows(store, statement)
        skip = expired.get(measurement, set())
        newest = schema.latest(found, id_field)
        # a component's first registration is its record: that is what is written again
        content = schema.earliest(found, id_field) if measurement == "component" else newest
        stale = [
            content[rid]
            for rid, r in newest.items()
            if r["time"] <= now - age_ns and rid not in skip
        ]
        if not stale:
            continue

        def versions(n: int = len(stale)) -> list[int]:
            return [store._next_version() for _ in range(n)]

        body = lp.lines(
            again(r, v) for r, v in zip(stale, await store._buffer.run(versions), strict=True)
        )
        await store._client.write(body, rp=rp)
        if measurement == "component":  # the copy is now the only registration
            rewritten = {r[id_field] for r in stale}
            await _delete(
                store,
                [
                    f"DELETE FROM {quote_ident(measurement)} WHERE time = {r['time']}"
                    for r in found
                    if r[id_field] in rewritten
                ],
            )


def _component_again(row: dict[str, Any], version: int) -> str:
    return schema.component_line(schema.component_from_row(row), version)


def _outage_again(row: dict[str, Any], version: int) -> str:
    return schema.outage_line(schema.outage_from_row(row, None), version)


def _exclusion_again(row: dict[str, Any], version: int) -> str:
    return schema.exclusion_line(row["outage_id"], schema.exclusion_from_row(row), version)


def _window_again(row: dict[str, Any], version: int) -> str:
    return schema.window_line(schema.window_from_row(row), version)


def _incident_again(row: dict[str, Any], version: int) -> str:
    return schema.incident_line(schema.incident_from_row(row), version)


def _marker_again(row: dict[str, Any], version: int) -> str:
    return schema.marker_line(row["instance"], row["written_at"], version)


def _heartbeat_again(row: dict[str, Any], version: int) -> str:
    return schema.heartbeat_line(schema.heartbeat_from_row(row), version)
