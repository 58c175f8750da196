"""A spool SQLite cannot use (truncated, overwritten, not a spool): move it aside, read back
what SQLite still can.

The bad file is renamed, never deleted (`spool.db.corrupt-20261129T224105+0800`, with its
`-wal` and `-shm` beside it under the same name) so it can be examined later. Salvage goes
through SQLite only: rows are read in id order, and where a page cannot be read the ids are
skipped in growing steps, so one bad page costs the rows on it, not everything after it.
Raw byte scanning would also find rows already deleted after their acknowledgement (freed pages
keep their bytes) and send them twice, so it is not attempted.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# SQLITE_CORRUPT, SQLITE_NOTADB: the file's content is wrong, not the disk or its permissions.
_CORRUPT_CODES = {11, 26}
_MAX_STEP = 1 << 20  # ids skipped at most in one jump when the highest id is unknown
_MAX_FAILURES = 4096  # unreadable ranges tried before giving up
RESULT_COLUMNS = ("id", "key", "state", "change", "count", "size", "batch", "body")


class SpoolCorrupt(Exception):
    """The spool file is not a usable spool (its content, not the disk, is at fault)."""


def is_corrupt(exc: BaseException) -> bool:
    return isinstance(exc, SpoolCorrupt) or (
        isinstance(exc, sqlite3.DatabaseError)
        and getattr(exc, "sqlite_errorcode", None) in _CORRUPT_CODES
    )


def check(db: sqlite3.Connection) -> None:
    """SpoolCorrupt unless `db` has the spool's tables and passes SQLite's quick_check."""
    columns = tuple(row[1] for row in db.execute("PRAGMA table_info(results)"))
    if columns != RESULT_COLUMNS:
        raise SpoolCorrupt(f"not a spool: table results has columns {columns}")
    problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise SpoolCorrupt("quick_check: " + "; ".join(problems))


def move_aside(path: Path, now: datetime) -> Path:
    """Rename `path` (and its -wal, -shm) to `path.corrupt-STAMP`; the new name."""
    stamp = now.strftime("%Y%m%dT%H%M%S%z")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target


@dataclass
class Salvage:
    rows: list[tuple[object, ...]] = field(default_factory=list)  # RESULT_COLUMNS, id order
    batches: dict[str, float] = field(default_factory=dict)  # batch id -> created
    counters: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0  # id ranges skipped
    error: str | None = None  # why nothing (more) could be read

    @property
    def results(self) -> int:
        return sum(int(row[4]) for row in self.rows)  # type: ignore[call-overload]


def salvage(path: Path) -> Salvage:
    """Every row of the bad spool at `path` that SQLite can still read and that is a result.

    A truncated file still says in its header how many pages it had, and SQLite then refuses
    even its schema; when the file as it is gives nothing, a copy whose header states the
    pages actually there is read instead (the moved file itself stays as it was found)."""
    out = _salvage_from(f"file:{path}?mode=ro")
    if out.rows:
        return out
    copy = path.with_name(path.name + ".salvage")
    try:
        if not _copy_with_true_size(path, copy):
            return out
        second = _salvage_from(f"file:{copy}?immutable=1")
    except OSError as exc:
        out.error = f"{out.error}; copy for salvage: {exc}"
        return out
    finally:
        with contextlib.suppress(OSError):
            copy.unlink()
    return second if second.rows else out


def _salvage_from(uri: str) -> Salvage:
    out = Salvage()
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        out.error = str(exc)
        return out
    try:
        _read(db, out)
    except sqlite3.Error as exc:  # the schema itself cannot be read
        out.error = str(exc)
    finally:
        db.close()
    return out


def _copy_with_true_size(path: Path, copy: Path) -> bool:
    """Copy `path` to `copy` cut to whole pages, its header's page count set to them; False
    when `path` does not start with an SQLite header."""
    data = bytearray(path.read_bytes())
    if len(data) < 100 or not data.startswith(b"SQLite format 3\x00"):
        return False
    page_size = int.from_bytes(data[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return False
    pages = len(data) // page_size
    del data[pages * page_size :]
    data[28:32] = pages.to_bytes(4, "big")
    copy.write_bytes(data)
    return True


def _read(db: sqlite3.Connection, out: Salvage) -> None:
    db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # raises when unreadable
    top = _max_id(db)
    after, step, failures = 0, 1, 0
    while failures < _MAX_FAILURES and (top is None or after < top):
        try:
            for row in db.execute(
                f"SELECT {', '.join(RESULT_COLUMNS)} FROM results WHERE id > ? ORDER BY id",
                (after,),
            ):
                after, step = int(row[0]), 1
                if _plausible(row):
                    out.rows.append(tuple(row))
            break
        except sqlite3.DatabaseError as exc:
            # A page could not be read: jump past it, in growing steps (1, 2, 4…) so a bad
            # leaf costs its own rows and a bad interior page is crossed in a few tries.
            failures += 1
            out.unreadable += 1
            out.error = str(exc)
            after, step = after + step, step * 2
            if top is None and step > _MAX_STEP:
                break  # no idea where the ids end
    for name, source in (
        ("batches", "SELECT id, created FROM batches"),
        ("counters", "SELECT name, value FROM counters"),
    ):
        with contextlib.suppress(sqlite3.DatabaseError):
            for key, value in db.execute(source):
                if name == "batches":
                    out.batches[str(key)] = float(value)
                elif isinstance(value, int):
                    out.counters[str(key)] = value
    batched = {row[6] for row in out.rows if row[6] is not None}
    for batch in batched - set(out.batches):
        out.batches[str(batch)] = 0.0  # its record was on a lost page: keep the id anyway


def _max_id(db: sqlite3.Connection) -> int | None:
    for query in (
        "SELECT seq FROM sqlite_sequence WHERE name = 'results'",
        "SELECT MAX(id) FROM results",
    ):
        with contextlib.suppress(sqlite3.DatabaseError):
            found = db.execute(query).fetchone()
            if found is not None and isinstance(found[0], int):
                return found[0]
    return None


def _plausible(row: tuple[object, ...]) -> bool:
    """A readable row can still hold garbage: keep it only if its body is a result."""
    body = row[7]
    if not isinstance(body, str) or not isinstance(row[4], int):
        return False
    try:
        result = json.loads(body)
    except ValueError:
        return False
    return (
        isinstance(result, dict)
        and all(isinstance(result.get(k), str) for k in ("component", "probe", "ts"))
        and row[1] == f"{result['component']}\x1f{result['probe']}"
    )
