"""One InfluxDB database as the store uses it: the HTTP client, the two retention policies
(`rp_raw` for samples and heartbeats, `rp_keep` for records and rollups), their creation on 1.x,
plain InfluxQL selects and deletes.

`InfluxStore` (writes through its buffer, reads after a flush) and `retention` (rollups,
expiry) both use it; neither imports the other.
"""

from __future__ import annotations

import logging
from typing import Any

from collector.domain.model import Millis
from collector.store.influx.client import InfluxClient, InfluxError, InfluxTarget, quote_ident, rows

log = logging.getLogger("collector.store.influx")

_DAY = 86_400_000


class InfluxDatabase:
    """The database a store writes to and reads from (see the module docstring)."""

    def __init__(
        self,
        target: InfluxTarget,
        client: InfluxClient,
        *,
        rp_raw: str,
        rp_keep: str,
        rp_raw_days: int | None,
        rp_keep_days: int | None,
        manage: bool,
    ) -> None:
        """`rp_raw_days`/`rp_keep_days`: durations of the two policies (None: infinite).
        `manage`: create the database and policies, and lengthen them when needed."""
        self.target = target
        self.client = client
        self.rp_raw = rp_raw
        self.rp_keep = rp_keep
        self.rp_raw_days = rp_raw_days
        self.rp_keep_days = rp_keep_days
        self.manage = manage
        self.deletes_work = True  # False once InfluxDB refused an InfluxQL DELETE (2.x, 3.x)

    def from_(self, rp: str, measurement: str) -> str:
        """`FROM "rp"."measurement"`."""
        return f"FROM {quote_ident(rp)}.{quote_ident(measurement)}"

    async def select(self, statement: str) -> list[dict[str, Any]]:
        """Run one InfluxQL SELECT and return its rows (nothing flushed, nothing prepared)."""
        [result] = await self.client.query(statement)
        return rows(result)

    async def write(self, body: bytes, rp: str) -> None:
        await self.client.write(body, rp=rp)

    async def prepare(self) -> None:
        """With `manage`, create the database and both retention policies and fix their
        durations. Raises when InfluxDB is not reachable; a refusal (a user without ALL
        PRIVILEGES, or 2.x/3.x) is logged and the database used as it is."""
        if not self.manage:
            return
        try:
            await self._create()
        except InfluxError as exc:
            if exc.retryable:  # not reachable: try again before the next write
                raise
            # refused: someone prepared it, or writes will say what is missing
            log.warning(
                "InfluxDB %s: cannot create the database and retention policies (%s); "
                "using them as they are",
                self.target.display,
                exc,
            )

    async def _create(self) -> None:
        db = quote_ident(self.target.database)
        await self.client.query(f"CREATE DATABASE {db}", write=True)
        existing = {
            r["name"]: r
            for r in rows((await self.client.query(f"SHOW RETENTION POLICIES ON {db}"))[0])
        }
        statements = []
        for name, days in ((self.rp_raw, self.rp_raw_days), (self.rp_keep, self.rp_keep_days)):
            duration = f"{days}d" if days else "INF"
            want = f"{days * 24}h0m0s" if days else "0s"
            if name not in existing:
                verb = "CREATE"
            elif existing[name]["duration"] != want:
                verb = "ALTER"
            else:
                continue
            replication = " REPLICATION 1" if verb == "CREATE" else ""
            statements.append(
                f"{verb} RETENTION POLICY {quote_ident(name)} ON {db} DURATION {duration}"
                + replication
            )
        if statements:
            await self.client.query("; ".join(statements), write=True)

    async def fit_policies(self, now: Millis, raw_before: Millis, keep_before: Millis) -> None:
        """Lengthen the retention policies when the collector keeps data longer than they do
        (2 days of slack for raw samples, 30 for records: retention runs every few hours and
        InfluxDB drops whole shards); `now` is the instant the cuts were computed from."""
        if not self.manage:
            return
        raw = -(-(now - raw_before) // _DAY) + 2
        keep = max(400, -(-(now - keep_before) // _DAY)) + 30
        changed = False
        if self.rp_raw_days is not None and raw > self.rp_raw_days:
            self.rp_raw_days, changed = raw, True
        if self.rp_keep_days is not None and keep > self.rp_keep_days:
            self.rp_keep_days, changed = keep, True
        if changed:
            await self.prepare()

    async def delete(self, statements: list[str]) -> bool:
        """Run InfluxQL DELETEs; False when this InfluxDB does not run them (2.x and 3.x
        answer InfluxQL queries only): expired data then stays until the retention policy
        (bucket retention) drops it."""
        if not self.deletes_work:
            return False
        try:
            for i in range(0, len(statements), 200):
                await self.client.query("; ".join(statements[i : i + 200]), write=True)
        except InfluxError as exc:
            if exc.retryable:
                raise
            log.warning(
                "InfluxDB %s refused DELETE (%s): retention leaves expired data to InfluxDB's "
                "own retention from now on",
                self.target.display,
                exc,
            )
            self.deletes_work = False
            return False
        return True
