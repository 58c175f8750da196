"""file_age: is the newest file under a path young enough? (daily and monthly backups)

Target: a local path (a file, or a directory searched recursively).

Options:
- `max_age_hours` (required): the newest matching file must be younger than this.
- `pattern` (default `*`): a glob on file names, e.g. `*.tar.gz` or `full-*`.
- `min_size` (bytes, default 0): only files at least this large count (a 0-byte backup is
  not a backup).
- `backup` (`daily` or `monthly`): this check watches a backup (the daily incremental or the
  monthly full). `value` then becomes an object the collector recognises —
  `{"backup": KIND, "age_hours": H, "mtime": EPOCH_SECONDS}` (both null when no file matches) —
  and the detail starts with `daily backup: ` / `monthly backup: `, so a missed backup is
  counted per day (or month) in the inspection report and its alert says 备份.
- `ssh=USER@HOST[:PORT]`: look on that host instead (GNU `find` over ssh), with the ssh
  probe's connection options (`known_hosts`, `key`, `passphrase`, `password`,
  `host_key_check`, `reuse`).

Reasons: `ok` (`value` is the newest file's age in hours, `newest` its path); `check_failed`
(too old, or no matching file — the detail says which); `config_error`; over ssh, also the
ssh probe's reasons (`host_key_mismatch`, `auth_failed`, `timeout`, `refused`, …).
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes import options as opt
from probes import ssh
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec

_LOCAL = {"max_age_hours", "pattern", "min_size", "ssh", "backup"}
BACKUP_KINDS = ("daily", "monthly")


def newest_local(path: str, pattern: str, min_size: int) -> tuple[float, str] | None:
    """(mtime, path) of the newest matching regular file under `path`, or None."""
    best: tuple[float, str] | None = None
    if os.path.isfile(path):
        candidates = [(os.path.dirname(path), [os.path.basename(path)])]
    else:
        candidates = ((root, files) for root, _, files in os.walk(path))
    for root, files in candidates:
        for name in files:
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            full = os.path.join(root, name)
            try:
                info = os.stat(full)
            except OSError:
                continue
            if info.st_size >= min_size and (best is None or info.st_mtime > best[0]):
                best = (info.st_mtime, full)
    return best


def _remote_command(path: str, pattern: str, min_size: int) -> str:
    size = f" -size +{min_size - 1}c" if min_size > 0 else ""
    return (
        f"find {shlex.quote(path)} -type f -name {shlex.quote(pattern)}{size} "
        "-printf '%T@ %p\\n' 2>/dev/null | sort -n | tail -n 1; date +%s.%N"
    )


@dataclass(frozen=True, slots=True)
class FileAgeCheck:
    """One parsed file_age check (see the module's documentation for the options)."""

    path: str
    max_age_hours: float
    pattern: str
    min_size: int
    remote: str | None
    login: Any = field(default=None, repr=False)  # ssh login when `remote`
    backup: str | None = None  # "daily" | "monthly" when the check watches a backup


def parse(target: str, options: Mapping[str, Any]) -> FileAgeCheck:
    """The check `target` and `options` describe; OptionError naming what is wrong."""
    remote = opt.text(options, "ssh")
    opt.check_known(options, _LOCAL | (ssh.CONNECT_OPTIONS if remote else set()))
    max_age = opt.number(options, "max_age_hours", minimum=0)
    if max_age is None:
        raise opt.OptionError("option 'max_age_hours' is required", "max_age_hours")
    pattern = opt.text(options, "pattern") or "*"
    min_size = opt.integer(options, "min_size", 0, minimum=0)
    assert min_size is not None
    backup = opt.text(options, "backup")
    if backup is not None and backup not in BACKUP_KINDS:
        raise opt.OptionError(f"option 'backup' must be daily or monthly, got {backup!r}", "backup")
    path = target.strip()
    if not path:
        raise opt.OptionError("target is empty: the path to look under")
    login = None
    if remote is not None:
        ssh_options = {k: v for k, v in options.items() if k in ssh.CONNECT_OPTIONS}
        login = ssh.parse_login(remote, ssh_options)
    return FileAgeCheck(path, max_age, pattern, min_size, remote, login, backup)


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    parsed = parse(target, options)
    result = await _probe(parsed, timeout)
    if parsed.backup is None:
        return result
    # a backup check: the value says so (also when it fails), the detail names the kind
    age = result.value if isinstance(result.value, int | float) else None
    mtime = result.extra.get("mtime") if age is not None else None
    value = {"backup": parsed.backup, "age_hours": age, "mtime": mtime}
    detail = f"{parsed.backup} backup: {result.detail}"
    return ProbeResult(result.reason, detail, result.latency_ms, value, result.extra)


async def _probe(parsed: FileAgeCheck, timeout: float) -> ProbeResult:
    path, pattern, min_size, remote = parsed.path, parsed.pattern, parsed.min_size, parsed.remote
    max_age = parsed.max_age_hours

    start = time.perf_counter()
    if remote is None:
        if not os.path.exists(path):
            return ProbeResult(Reason.CHECK_FAILED, f"{path} does not exist")
        newest = await asyncio.to_thread(newest_local, path, pattern, min_size)
        now = time.time()
        where = path
    else:
        try:
            completed, _ = await ssh.execute(
                parsed.login, _remote_command(path, pattern, min_size), timeout
            )
        except ssh.SshFailure as exc:
            return exc.result
        lines = [line for line in (completed.stdout or "").splitlines() if line.strip()]
        where = f"{remote}:{path}"
        try:
            now = float(lines[-1])
            newest = None
            if len(lines) > 1:
                stamp, _, found = lines[-2].partition(" ")
                newest = (float(stamp), found)
        except (IndexError, ValueError):
            detail = f"{where}: unexpected output from find: {(completed.stdout or '')[:100]!r}"
            return ProbeResult(Reason.UNEXPECTED_RESPONSE, detail)
    latency = (time.perf_counter() - start) * 1000
    if newest is None:
        detail = f"{where}: no file matching {pattern!r}" + (
            f" of at least {min_size} bytes" if min_size else ""
        )
        return ProbeResult(Reason.CHECK_FAILED, detail, latency)
    age_hours = max(0.0, now - newest[0]) / 3600
    extra = {"newest": newest[1], "mtime": round(newest[0], 3)}
    value = round(age_hours, 4)
    if age_hours > max_age:
        detail = f"{where}: newest {newest[1]} is {age_hours:.1f} h old (> {max_age:g} h)"
        return ProbeResult(Reason.CHECK_FAILED, detail, latency, value, extra)
    detail = f"{where}: newest {newest[1]} is {age_hours:.1f} h old"
    return ProbeResult(Reason.OK, detail, latency, value, extra)


SPEC = KindSpec(
    kind="file_age",
    probe=probe,
    parse=parse,
    concurrency=8,
    files=ssh.SPEC.files,
    file_lists=ssh.SPEC.file_lists,
)
