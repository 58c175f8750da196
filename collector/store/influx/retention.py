"""Retention of the InfluxDB store (`InfluxStore.apply_retention`), on an `InfluxDatabase`.

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

import sqlite3
from collections.abc import Callable
from typing import Any

from collector.domain.model import Millis, RetentionResult
from collector.store.influx import lineproto as lp
from collector.store.influx import schema
from collector.store.influx.buffer import DurableBuffer
from collector.store.influx.client import quote_ident
from collector.store.influx.database import InfluxDatabase

MS = schema.MS
_DAY = 86_400_000
_SLICE_NS = 15 * 60 * 1_000_000_000  # raw samples are read 15 minutes at a time


class Retention:
    """Retention of one InfluxDB database whose writes go through `buffer` (which also keeps
    the rollup progress and the batch ids seen); `next_version` is the store's version clock,
    called on the buffer's thread."""

    def __init__(
        self, db: InfluxDatabase, buffer: DurableBuffer, next_version: Callable[[], int]
    ) -> None:
        self.db = db
        self.buffer = buffer
        self.next_version = next_version
        self.refresh_after_ms: int | None = None  # default: half of each retention policy

    async def apply(self, raw_before: Millis, keep_before: Millis, now: Millis) -> RetentionResult:
        """`Store.apply_retention` on InfluxDB; the caller holds the buffer's drain still.
        `now` is the instant `raw_before` and `keep_before` were computed from."""
        db = self.db
        await db.fit_policies(now, raw_before, keep_before)
        raw_end = schema.ns(raw_before, schema.MAX_TIME)
        rolled = deleted = 0
        sample = db.from_(db.rp_raw, "sample")
        first = await db.select(f'SELECT first("ok") {sample} WHERE time < {raw_end}')
        start = first[0]["time"] - first[0]["time"] % _SLICE_NS if first else raw_end
        if not db.deletes_work:  # old samples stay: skip what earlier runs rolled up
            start = max(start, await self.buffer.run(self._meta, "rolled_until", schema.MIN_TIME))
        while start < raw_end:  # in slices, so a long backlog never sits in memory at once
            end = min(start + _SLICE_NS, raw_end)
            old = await db.select(
                f'SELECT "ok", "count", "latency_ms", "component" {sample} '
                f"WHERE time >= {start} AND time < {end}",
            )
            rolled += sum(int(r.get("count") or 1) for r in old)
            deleted += len(old)
            parts = schema.rollup_samples(old)
            if parts:
                body = lp.lines(schema.rollup_line(r, t) for r, t in parts.values())
                await db.write(body, rp=db.rp_keep)
            start = end
        statements = [f"DELETE FROM sample WHERE time < {raw_end}"] if deleted else []

        keep_end = schema.ns(keep_before, schema.MAX_TIME)
        old_rollups = await db.select(
            f"SELECT * {db.from_(db.rp_keep, 'rollup')} WHERE time < {keep_end}"
        )
        rollups_deleted = len(
            {(r["component"], schema.rollup_from_row(r).minute) for r in old_rollups}
        )
        if old_rollups:
            statements.append(f"DELETE FROM rollup WHERE time < {keep_end}")

        expired, records, versions = await self._expired_records(keep_before)
        statements += [f"DELETE FROM {quote_ident(m)} WHERE time = {t}" for m, t in versions]
        if statements and not await db.delete(statements):
            deleted = rollups_deleted = records = 0

        def forget(conn: sqlite3.Connection = self.buffer.connection) -> None:
            conn.execute("DELETE FROM influx_batches WHERE received_at < ?", (raw_before,))
            conn.execute(
                "INSERT OR REPLACE INTO influx_meta VALUES ('rolled_until', ?)", (raw_end,)
            )

        await self.buffer.run(forget)
        await self._refresh_live(expired, now)
        return RetentionResult(rolled, deleted, rollups_deleted, records)

    async def _expired_records(
        self, keep_before: Millis
    ) -> tuple[dict[str, set[str]], int, list[tuple[str, int]]]:
        """(expired ids by measurement, how many records, every version of them to delete by
        its exact time)."""
        db = self.db
        versions: list[tuple[str, int]] = []
        records = 0
        outages = await db.select(f"SELECT * {db.from_(db.rp_keep, 'outage')}")
        latest = schema.latest(outages)
        expired = {
            oid for oid, r in latest.items() if r.get("end") is not None and r["end"] < keep_before
        }
        records += len(expired)
        versions += [("outage", r["time"]) for r in outages if r.get("id") in expired]
        exclusions = await db.select(f"SELECT * {db.from_(db.rp_keep, 'exclusion')}")
        versions += [("exclusion", r["time"]) for r in exclusions if r.get("outage_id") in expired]

        incidents = await db.select(f"SELECT * {db.from_(db.rp_keep, 'incident')}")
        latest = schema.latest(incidents)
        gone = {
            iid
            for iid, r in latest.items()
            if r.get("restored_at") is not None and r["restored_at"] < keep_before
        }
        records += len(gone)
        versions += [("incident", r["time"]) for r in incidents if r.get("id") in gone]
        if gone:
            timeline = await db.select(f"SELECT * {db.from_(db.rp_keep, 'timeline')}")
            versions += [("timeline", r["time"]) for r in timeline if r["incident_id"] in gone]

        windows = await db.select(f"SELECT * {db.from_(db.rp_keep, 'window')}")
        latest = schema.latest(windows)
        ended = {
            wid for wid, r in latest.items() if r.get("rrule") is None and r["end"] < keep_before
        }
        records += len(ended)
        versions += [("window", r["time"]) for r in windows if r.get("id") in ended]

        audit = await db.select(
            f'SELECT * {db.from_(db.rp_keep, "audit")} WHERE "ts" < {int(keep_before)}'
        )
        records += len(audit)
        versions += [("audit", r["time"]) for r in audit]
        by_kind = {"outage": expired, "exclusion": expired, "incident": gone, "window": ended}
        return by_kind, records, versions

    def _meta(self, key: str, default: int) -> int:
        row = self.buffer.connection.execute(
            "SELECT v FROM influx_meta WHERE k = ?", (key,)
        ).fetchone()
        return default if row is None else row[0]

    async def _refresh_live(self, expired: dict[str, set[str]], now: Millis) -> None:
        """Write the latest version of every live record again when it is older than half its
        retention policy, so InfluxDB's own expiry never drops a record the collector keeps
        (components, open outages, recurring windows, heartbeats of quiet agents, the marker
        points of `InfluxStore._verify`…). Versions are wall-clock nanoseconds, compared
        with `now`."""
        db = self.db
        now_ns = now * MS
        plans: list[tuple[str, str, str, int | None, Callable[[dict[str, Any], int], str]]] = [
            ("component", "component", db.rp_keep, db.rp_keep_days, _component_again),
            ("outage", "id", db.rp_keep, db.rp_keep_days, _outage_again),
            ("exclusion", "outage_id", db.rp_keep, db.rp_keep_days, _exclusion_again),
            ("window", "id", db.rp_keep, db.rp_keep_days, _window_again),
            ("incident", "id", db.rp_keep, db.rp_keep_days, _incident_again),
            ("heartbeat", "agent", db.rp_raw, db.rp_raw_days, _heartbeat_again),
            # the buffer files' markers: an expired one would look like a replaced database
            (schema.MARKER, "instance", db.rp_keep, db.rp_keep_days, _marker_again),
        ]
        for measurement, id_field, rp, days, again in plans:
            if days is None and self.refresh_after_ms is None:
                continue
            age_ns = (
                self.refresh_after_ms if self.refresh_after_ms is not None else days * _DAY // 2
            ) * MS
            statement = f"SELECT * {db.from_(rp, measurement)}"
            if measurement == "heartbeat":  # many versions: ask for the latest only
                statement += " GROUP BY agent ORDER BY time DESC LIMIT 1"
            found = await db.select(statement)
            skip = expired.get(measurement, set())
            newest = schema.latest(found, id_field)
            # a component's first registration is its record: that is what is written again
            content = schema.earliest(found, id_field) if measurement == "component" else newest
            stale = [
                content[rid]
                for rid, r in newest.items()
                if r["time"] <= now_ns - age_ns and rid not in skip
            ]
            if not stale:
                continue

            def versions(n: int = len(stale)) -> list[int]:
                return [self.next_version() for _ in range(n)]

            body = lp.lines(
                again(r, v) for r, v in zip(stale, await self.buffer.run(versions), strict=True)
            )
            await db.write(body, rp=rp)
            if measurement == "component":  # the copy is now the only registration
                rewritten = {r[id_field] for r in stale}
                await db.delete(
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
