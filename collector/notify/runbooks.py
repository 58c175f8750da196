"""Runbooks: on a matching event run a local command, a command over SSH, or a webhook.

```yaml
runbooks:
  - name: restart-ivr
    when: {event: outage_started, systems: [ivr], reasons: [refused, timeout]}
    run: ["scripts/restart-ivr", "--graceful"]   # argv, never a shell string
    timeout: 30            # seconds (default 30); the whole process group is killed at it
    max_concurrent: 1      # runs at once (default 1); more are skipped_busy, never queued
    max_runs: 3            # at most 3 starts …
    per: 3600              # … per 3600 s (defaults 10 per 3600): no restart loops
  - name: ivr-node-restart
    when: {event: incident_opened}
    ssh:
      host: 10.0.0.12
      port: 22
      user: ops
      command: "sudo systemctl restart ivr"   # run by the remote user's shell
      known_hosts: keys/known_hosts            # required; host keys are always verified
      key: keys/runbook_ed25519                # one file or a list; password_file / password_env
  - name: ticket
    when: {event: deadline_passed}
    webhook: {url: "https://itsm.example/api/hook", headers: {X-Token: "…"}, timeout: 10}
```

`when.event` is one of `outage_started`, `outage_ended`, `incident_opened`,
`incident_restored`, `deadline_passed`, `backup_missed`; the optional filters `systems`,
`components` and `reasons` (the probe's reason) must all hold. Incident-level events (restored,
deadline passed) carry no component, so a runbook filtering on systems or components never
matches them. `backup_missed` (a backup check's period passed its due with no backup done) is
about the component the check sits on and has no reason and no incident: `reasons` with it is a
config error.
Relative paths (`run`'s program when it contains a `/`, `known_hosts`, `key`, `password_file`)
are relative to the config file's directory, which is also the local command's working
directory.

What an action gets — the event's fields, never interpolated into a command:
- environment variables `HOTLINE_EVENT`, `HOTLINE_COMPONENT`, `HOTLINE_SYSTEM`,
  `HOTLINE_INCIDENT`, `HOTLINE_REASON`, `HOTLINE_TS` (ISO 8601 with offset), `HOTLINE_OUTAGE`
  (the outage id), `HOTLINE_BACKUP_KIND` (`daily` | `monthly`), `HOTLINE_BACKUP_DUE` (the
  missed backup's due instant), `HOTLINE_BACKUP_PROBE` (the backup check's name),
  `HOTLINE_BACKUP_LAST_GOOD` (the last backup done before, if any) and `HOTLINE_RUNBOOK`; an
  empty string when the event has no such field (the backup ones: every event but
  `backup_missed`);
- a local command gets nothing else of the collector's environment but a safe `PATH`, `LANG`,
  `HOME`, `USER`/`LOGNAME` and `TZ` (no tokens leak into it); its stdin is empty;
- over SSH, the `command` string is interpreted by the remote user's shell (that is ssh's
  protocol; keep the event's fields out of it). The variables are offered with `env=`, which
  sshd only accepts for names its `AcceptEnv` lists, so the event is ALSO written as a JSON
  document (see `event_document`) to the command's stdin, e.g. `jq -r .component`;
- a webhook gets the same JSON document as the body of a POST (2xx is ok).

A local command runs in its own session (`start_new_session`): at its timeout the whole process
group gets SIGTERM, then SIGKILL after a grace, and the outcome is `timeout`. When the command
exits, whatever it left behind in its process group is terminated the same way (as systemd does
for a oneshot unit): start long-lived daemons through the service manager. Over SSH a timeout
asks the remote side to terminate the command, then closes the connection.

Outcome statuses: `ok`, `failed` (exit status not 0, HTTP status not 2xx, or the action could
not start: the error says why), `timeout`, `skipped_busy` (already `max_concurrent` runs),
`skipped_rate_limited` (`max_runs` starts within `per` seconds), `dry_run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import inspect
import json
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from collector.aio import cancel_and_wait
from collector.domain.engine import CONFIG_ERROR, Event, EventType
from collector.domain.model import SYSTEMS
from collector.domain.timefmt import format_instant
from probes.result import Reason

log = logging.getLogger(__name__)

EVENTS = (
    "outage_started",
    "outage_ended",
    "incident_opened",
    "incident_restored",
    "deadline_passed",
    "backup_missed",
)
NO_REASON_EVENTS = frozenset({"backup_missed"})  # events a `reasons` filter can never match
REASONS = tuple(
    dict.fromkeys([*(r.value for r in Reason if r.value != "ok"), "no_data", CONFIG_ERROR])
)
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RUNS = 10
DEFAULT_PER = 3600.0
OUTPUT_LINES = 20  # first lines of stdout/stderr kept for the timeline …
OUTPUT_BYTES = 4096  # … and at most this many bytes of each
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_OUTPUT_GRACE = 1.0  # seconds to wait for output to end once the command has exited

_RUNBOOK_KEYS = {
    "name",
    "when",
    "run",
    "ssh",
    "webhook",
    "timeout",
    "max_concurrent",
    "max_runs",
    "per",
}
_WHEN_KEYS = {"event", "systems", "components", "reasons"}
_SSH_KEYS = {
    "host",
    "port",
    "user",
    "command",
    "known_hosts",
    "key",
    "password_file",
    "password_env",
}
_WEBHOOK_KEYS = {"url", "headers", "timeout"}
_ACTIONS = ("run", "ssh", "webhook")


class RunbookConfigError(ValueError):
    """A runbook's configuration is wrong. `field` names it (`runbooks[2].when.event`), `at` is
    the same path as a tuple (`("runbooks", 2, "when", "event")`) for file:line lookups."""

    def __init__(self, at: tuple[str | int, ...], problem: str) -> None:
        self.at = at
        self.field = _field_name(at)
        self.problem = problem
        super().__init__(f"{self.field}: {problem}")


def _field_name(at: tuple[str | int, ...]) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED_RATE_LIMITED = "skipped_rate_limited"
    SKIPPED_BUSY = "skipped_busy"
    DRY_RUN = "dry_run"


@dataclass(frozen=True, slots=True)
class When:
    event: str
    systems: frozenset[str] | None = None  # None: any
    components: frozenset[str] | None = None
    reasons: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class RunAction:
    argv: tuple[str, ...]
    cwd: str | None = None
    kind: str = "run"


@dataclass(frozen=True, slots=True)
class SshAction:
    host: str
    port: int
    user: str
    command: str
    known_hosts: str
    keys: tuple[str, ...] = ()
    password_file: str | None = None
    password_env: str | None = None
    kind: str = "ssh"


@dataclass(frozen=True, slots=True)
class WebhookAction:
    url: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold tokens
    timeout: float | None = None  # None: the runbook's
    kind: str = "webhook"


Action = RunAction | SshAction | WebhookAction


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    when: When
    action: Action
    timeout: float = DEFAULT_TIMEOUT
    max_concurrent: int = 1
    max_runs: int = DEFAULT_MAX_RUNS
    per: float = DEFAULT_PER


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run did; `timeline_detail()` is what the incident's timeline records."""

    runbook: str
    action: str  # run | ssh | webhook
    status: Status
    event: Event
    exit_status: int | None = None  # the command's; negative: killed by that signal
    http_status: int | None = None  # the webhook's
    duration_ms: int = 0
    stdout: str = ""  # first lines (OUTPUT_LINES / OUTPUT_BYTES)
    stderr: str = ""
    error: str = ""
    plan: dict[str, Any] | None = None  # what would run / ran (argv, host, url, env)

    @property
    def incident_id(self) -> str | None:
        return self.event.incident_id

    def timeline_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "runbook": self.runbook,
            "action": self.action,
            "status": self.status.value,
            "exit_status": self.exit_status,
            "duration_ms": self.duration_ms,
            "event": str(self.event.type),
        }
        if self.http_status is not None:
            detail["http_status"] = self.http_status
        for name in ("stdout", "stderr", "error"):
            if getattr(self, name):
                detail[name] = getattr(self, name)
        return detail


# ---------------------------------------------------------------------------- parsing (pure)


def parse_runbooks(raw: Any, base_dir: str | Path | None = None) -> list[Runbook]:
    """The runbooks of the config's `runbooks:` value (None: none). Pure: files are not read
    (see `check_files`). RunbookConfigError naming the field when something is wrong."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RunbookConfigError(("runbooks",), "expected a list of runbooks")
    base = Path(base_dir) if base_dir is not None else None
    out: list[Runbook] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        book = _parse_one(item, ("runbooks", i), base)
        if book.name in seen:
            raise RunbookConfigError(("runbooks", i, "name"), f"duplicate name {book.name!r}")
        seen.add(book.name)
        out.append(book)
    return out


def _parse_one(item: Any, at: tuple[str | int, ...], base: Path | None) -> Runbook:
    _mapping(item, at, _RUNBOOK_KEYS)
    name = _text(item, "name", at, required=True)
    when = _parse_when(item.get("when"), (*at, "when"))
    given = [k for k in _ACTIONS if k in item]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise RunbookConfigError(at, f"needs exactly one action of run, ssh, webhook (got {what})")
    kind = given[0]
    action: Action
    if kind == "run":
        action = _parse_run(item["run"], (*at, "run"), base)
    elif kind == "ssh":
        action = _parse_ssh(item["ssh"], (*at, "ssh"), base)
    else:
        action = _parse_webhook(item["webhook"], (*at, "webhook"))
    timeout = _number(item, "timeout", at, DEFAULT_TIMEOUT)
    max_concurrent = _integer(item, "max_concurrent", at, 1)
    max_runs = _integer(item, "max_runs", at, DEFAULT_MAX_RUNS)
    per = _number(item, "per", at, DEFAULT_PER)
    return Runbook(name or "", when, action, timeout, max_concurrent, max_runs, per)


def _mapping(value: Any, at: tuple[str | int, ...], known: set[str]) -> None:
    if not isinstance(value, dict):
        raise RunbookConfigError(at, f"expected a mapping with keys {', '.join(sorted(known))}")
    for key in value:
        if key not in known:
            raise RunbookConfigError(
                (*at, str(key)), f"unknown key (known: {', '.join(sorted(known))})"
            )


def _text(
    data: Mapping[str, Any], key: str, at: tuple[str | int, ...], required: bool = False
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise RunbookConfigError((*at, key), "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RunbookConfigError((*at, key), f"expected a non-empty string, got {value!r}")
    return value


def _number(data: Mapping[str, Any], key: str, at: tuple[str | int, ...], default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise RunbookConfigError((*at, key), f"expected a number of seconds > 0, got {value!r}")
    return float(value)


def _integer(data: Mapping[str, Any], key: str, at: tuple[str | int, ...], default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RunbookConfigError((*at, key), f"expected an integer >= 1, got {value!r}")
    return value


def _names(
    value: Any, at: tuple[str | int, ...], allowed: Sequence[str] | None, what: str
) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise RunbookConfigError(at, f"expected a non-empty list of {what}")
    for j, name in enumerate(value):
        if not isinstance(name, str) or not name:
            raise RunbookConfigError((*at, j), f"expected a {what[:-1]} name, got {name!r}")
        if allowed is not None and name not in allowed:
            raise RunbookConfigError(
                (*at, j), f"unknown {what[:-1]} {name!r} (one of {', '.join(allowed)})"
            )
    return frozenset(value)


def _parse_when(value: Any, at: tuple[str | int, ...]) -> When:
    if value is None:
        raise RunbookConfigError(at, "is required (e.g. {event: outage_started})")
    _mapping(value, at, _WHEN_KEYS)
    event = value.get("event")
    if event is None:
        raise RunbookConfigError((*at, "event"), f"is required (one of {', '.join(EVENTS)})")
    if event not in EVENTS:
        raise RunbookConfigError(
            (*at, "event"), f"unknown event {event!r} (one of {', '.join(EVENTS)})"
        )
    if event in NO_REASON_EVENTS and value.get("reasons") is not None:
        raise RunbookConfigError(
            (*at, "reasons"), f"{event} carries no probe reason: filter by systems or components"
        )
    return When(
        event=event,
        systems=_names(value.get("systems"), (*at, "systems"), SYSTEMS, "systems"),
        components=_names(value.get("components"), (*at, "components"), None, "components"),
        reasons=_names(value.get("reasons"), (*at, "reasons"), REASONS, "reasons"),
    )


def _path(value: str, base: Path | None) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path)


def _parse_run(value: Any, at: tuple[str | int, ...], base: Path | None) -> RunAction:
    if isinstance(value, str):
        raise RunbookConfigError(
            at,
            'expected an argv list like ["/usr/local/sbin/restart-ivr", "--now"], '
            "never a shell string",
        )
    if not isinstance(value, list) or not value:
        raise RunbookConfigError(at, "expected a non-empty argv list of strings")
    for j, arg in enumerate(value):
        if not isinstance(arg, str):
            raise RunbookConfigError((*at, j), f"expected a string, got {arg!r}")
    if not value[0]:
        raise RunbookConfigError((*at, 0), "the program is empty")
    program = value[0]
    if "/" in program:
        program = _path(program, base)
    return RunAction((program, *value[1:]), str(base) if base is not None else None)


def _parse_ssh(value: Any, at: tuple[str | int, ...], base: Path | None) -> SshAction:
    _mapping(value, at, _SSH_KEYS)
    host = _text(value, "host", at, required=True)
    port = value.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise RunbookConfigError((*at, "port"), f"expected a port 1..65535, got {port!r}")
    user = _text(value, "user", at) or getpass.getuser()
    command = value.get("command")
    if not isinstance(command, str) or not command.strip():
        raise RunbookConfigError(
            (*at, "command"), "is required: the command string the remote shell runs"
        )
    known_hosts = _text(value, "known_hosts", at)
    if known_hosts is None:
        raise RunbookConfigError((*at, "known_hosts"), "is required: host keys are always verified")
    raw_keys = value.get("key")
    if raw_keys is None:
        keys: list[str] = []
    elif isinstance(raw_keys, str) and raw_keys:
        keys = [raw_keys]
    elif isinstance(raw_keys, list) and all(isinstance(k, str) and k for k in raw_keys):
        keys = list(raw_keys)
    else:
        raise RunbookConfigError((*at, "key"), "expected a key file or a list of key files")
    password_file = _text(value, "password_file", at)
    password_env = _text(value, "password_env", at)
    if password_file and password_env:
        raise RunbookConfigError(
            (*at, "password_env"), "give password_file or password_env, not both"
        )
    if not keys and not password_file and not password_env:
        raise RunbookConfigError((*at, "key"), "needs a key (or password_file / password_env)")
    return SshAction(
        host=host or "",
        port=port,
        user=user,
        command=command,
        known_hosts=_path(known_hosts, base),
        keys=tuple(_path(k, base) for k in keys),
        password_file=_path(password_file, base) if password_file else None,
        password_env=password_env,
    )


def _parse_webhook(value: Any, at: tuple[str | int, ...]) -> WebhookAction:
    _mapping(value, at, _WEBHOOK_KEYS)
    url = _text(value, "url", at, required=True) or ""
    if not url.startswith(("http://", "https://")):
        raise RunbookConfigError((*at, "url"), f"expected an http:// or https:// URL, got {url!r}")
    headers = value.get("headers") or {}
    if not isinstance(headers, dict):
        raise RunbookConfigError((*at, "headers"), "expected a mapping of header names to values")
    for name, text in headers.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise RunbookConfigError((*at, "headers", str(name)), "expected a string value")
    timeout = _number(value, "timeout", at, 0.0) if "timeout" in value else None
    return WebhookAction(url, tuple(headers.items()), timeout)


def check_files(runbooks: Sequence[Runbook]) -> None:
    """Refuse at start what would fail every run: an ssh runbook's unreadable known_hosts, key
    or password file, a local program that is not executable. Errors name the field."""
    for i, book in enumerate(runbooks):
        action = book.action
        at: tuple[str | int, ...] = ("runbooks", i, action.kind)
        if isinstance(action, RunAction):
            program = action.argv[0]
            if "/" in program and not os.access(program, os.X_OK):
                raise RunbookConfigError((*at, 0), f"{program}: not an executable file")
        elif isinstance(action, SshAction):
            files = [("known_hosts", action.known_hosts), *(("key", k) for k in action.keys)]
            if action.password_file:
                files.append(("password_file", action.password_file))
            for key, path in files:
                if not os.access(path, os.R_OK) or not os.path.isfile(path):
                    raise RunbookConfigError((*at, key), f"{path}: not a readable file")


# ---------------------------------------------------------------------------- what a run gets


def event_fields(event: Event, system: str | None) -> dict[str, str]:
    """The event as the HOTLINE_* names' values (empty strings where the event has none)."""
    outage = event.outage
    reason = outage.reason if outage is not None else str(event.detail.get("reason", "") or "")
    return {
        "event": str(event.type),
        "component": event.component or (outage.component if outage is not None else ""),
        "system": system or "",
        "incident": event.incident_id or "",
        "reason": reason,
        "ts": format_instant(event.ts) or "",
        "outage": outage.id if outage is not None else "",
        **_backup_fields(event),
    }


def _backup_fields(event: Event) -> dict[str, str]:
    """A missed backup's kind, due, check and last good backup (BACKUP_MISSED's `detail`, its
    `ts` the due); empty strings for every other event."""
    if event.type is not EventType.BACKUP_MISSED:
        return dict.fromkeys(("backup_kind", "backup_due", "backup_probe", "backup_last_good"), "")
    detail = event.detail
    return {
        "backup_kind": str(detail.get("kind", "") or ""),
        "backup_due": format_instant(event.ts) or "",
        "backup_probe": str(detail.get("probe", "") or ""),
        "backup_last_good": str(detail.get("last_good", "") or ""),
    }


def event_environment(runbook: Runbook, event: Event, system: str | None) -> dict[str, str]:
    """The HOTLINE_* variables of one run."""
    env = {f"HOTLINE_{k.upper()}": v for k, v in event_fields(event, system).items()}
    env["HOTLINE_RUNBOOK"] = runbook.name
    return env


def event_document(runbook: Runbook, event: Event, system: str | None) -> dict[str, Any]:
    """The JSON document a webhook receives as its body and an SSH command on its stdin."""
    doc: dict[str, Any] = {"runbook": runbook.name, **event_fields(event, system)}
    outage = event.outage
    doc["outage"] = (
        None
        if outage is None
        else {
            "id": outage.id,
            "component": outage.component,
            "kind": str(outage.kind),
            "start": format_instant(outage.start),
            "end": format_instant(outage.end),
            "detected_at": format_instant(outage.detected_at),
            "probes": list(outage.probes),
            "reason": outage.reason,
            "detail": outage.detail,
        }
    )
    doc["detail"] = json.loads(json.dumps(dict(event.detail), default=str))
    return doc


def _safe_environment() -> dict[str, str]:
    env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}
    for name in ("HOME", "USER", "LOGNAME", "TZ"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def plan(runbook: Runbook, event: Event, system: str | None) -> dict[str, Any]:
    """What a run of `runbook` for `event` would do (no secrets): for `--dry-run` and logs."""
    action = runbook.action
    env = event_environment(runbook, event, system)
    out: dict[str, Any] = {
        "runbook": runbook.name,
        "action": action.kind,
        "timeout": runbook.timeout,
    }
    if isinstance(action, RunAction):
        out.update(argv=list(action.argv), cwd=action.cwd, env={**_safe_environment(), **env})
    elif isinstance(action, SshAction):
        out.update(
            host=action.host, port=action.port, user=action.user, command=action.command,
            known_hosts=action.known_hosts, env=env, stdin=event_document(runbook, event, system),
        )  # fmt: skip
    else:
        out.update(
            url=action.url,
            headers=[name for name, _ in action.headers],  # names only: values may be tokens
            body=event_document(runbook, event, system),
        )
    return out


def matches(
    runbooks: Sequence[Runbook], event: Event, system_of: Callable[[str], str | None]
) -> list[Runbook]:
    """The runbooks whose `when` holds for `event` (pure)."""
    fields = event_fields(event, None)
    component = fields["component"]
    system = system_of(component) if component else None
    out = []
    for book in runbooks:
        when = book.when
        if when.event != fields["event"]:
            continue
        if when.systems is not None and system not in when.systems:
            continue
        if when.components is not None and component not in when.components:
            continue
        if when.reasons is not None and fields["reason"] not in when.reasons:
            continue
        out.append(book)
    return out


# ---------------------------------------------------------------------------- running


class _Bounded:
    """The first OUTPUT_LINES lines / OUTPUT_BYTES bytes of a stream; the rest is drained."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        if self.truncated or not chunk:
            return
        self.data += chunk
        lines = self.data.split(b"\n")
        if len(lines) > OUTPUT_LINES:
            self.data = bytearray(b"\n".join(lines[:OUTPUT_LINES]) + b"\n")
            self.truncated = True
        if len(self.data) > OUTPUT_BYTES:
            del self.data[OUTPUT_BYTES:]
            self.truncated = True

    def text(self) -> str:
        text = bytes(self.data).decode("utf-8", errors="replace")
        return text + "…" if self.truncated else text


async def _drain(stream: Any, into: _Bounded) -> None:
    if stream is None:
        return
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        into.add(chunk if isinstance(chunk, bytes) else chunk.encode())


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """Whether a process of the group is alive (not a zombie waiting for a parent to reap it:
    a grandchild reparented to a PID 1 that never reaps would otherwise look alive forever)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _end_group(pgid: int, grace: float) -> bool:
    """SIGTERM the process group, SIGKILL what is left after `grace`. True if any was there."""
    if not _group_alive(pgid):
        return False
    _killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if not _group_alive(pgid):
            return True
    _killpg(pgid, signal.SIGKILL)
    return True


OutcomeHook = Callable[[Outcome], Awaitable[None] | None]


class RunbookRunner:
    """Runs runbooks for events, each with its timeout, concurrency cap and rate limit.

    `submit` never blocks: it starts a task per matching runbook and returns them; each
    outcome goes to `on_outcome` (sync or async) — the service turns it into a timeline entry
    of `outcome.incident_id`. `clock` (monotonic seconds) drives the rate limit; `dry_run`
    makes every run return its plan (status `dry_run`) without running anything.
    """

    def __init__(
        self,
        runbooks: Sequence[Runbook],
        *,
        system_of: Callable[[str], str | None] = lambda _component: None,
        on_outcome: OutcomeHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        dry_run: bool = False,
        kill_grace: float = 5.0,
    ) -> None:
        self.runbooks = tuple(runbooks)
        self.system_of = system_of
        self.on_outcome = on_outcome
        self.clock = clock
        self.dry_run = dry_run
        self.kill_grace = kill_grace
        self._running: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}
        self._tasks: set[asyncio.Task[Outcome]] = set()

    def matches(
        self, event: Event, system_of: Callable[[str], str | None] | None = None
    ) -> list[Runbook]:
        return matches(self.runbooks, event, system_of or self.system_of)

    def submit(self, event: Event, system: str | None = None) -> list[asyncio.Task[Outcome]]:
        """Start the runbooks matching `event` in the background (needs a running loop).
        `system` is the event's component's system (None: ask `system_of`)."""
        if system is None and event.component:
            system = self.system_of(event.component)
        tasks = []
        for book in self.matches(event, lambda _c: system):
            task = asyncio.get_running_loop().create_task(
                self._run_and_tell(book, event, system), name=f"runbook {book.name}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            tasks.append(task)
        return tasks

    async def aclose(self, timeout: float = 10.0) -> None:
        """Wait up to `timeout` for runs in flight, then cancel them (killing their groups)."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        await cancel_and_wait(pending)

    async def _run_and_tell(self, book: Runbook, event: Event, system: str | None) -> Outcome:
        outcome = await self.run(book, event, system)
        if self.on_outcome is not None:
            try:
                result = self.on_outcome(outcome)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("runbook %s: recording its outcome failed", book.name)
        return outcome

    def _admit(self, book: Runbook) -> Status | None:
        """Why `book` may not start now (None: it may; then it is counted as started)."""
        if self._running.get(book.name, 0) >= book.max_concurrent:
            return Status.SKIPPED_BUSY
        now = self.clock()
        starts = self._starts.setdefault(book.name, deque())
        while starts and starts[0] <= now - book.per:
            starts.popleft()
        if len(starts) >= book.max_runs:
            return Status.SKIPPED_RATE_LIMITED
        starts.append(now)
        self._running[book.name] = self._running.get(book.name, 0) + 1
        return None

    async def run(self, runbook: Runbook, event: Event, system: str | None = None) -> Outcome:
        """Run `runbook` for `event` now (subject to its cap and rate limit); never raises
        for the action's failures — they are the outcome."""
        kind = runbook.action.kind
        if self.dry_run:
            return Outcome(
                runbook.name, kind, Status.DRY_RUN, event, plan=plan(runbook, event, system)
            )
        refused = self._admit(runbook)
        if refused is not None:
            log.warning("runbook %s: %s for %s", runbook.name, refused.value, event.type)
            why = (
                f"already {runbook.max_concurrent} run(s) in progress"
                if refused is Status.SKIPPED_BUSY
                else f"{runbook.max_runs} run(s) within {runbook.per:g} s already"
            )
            return Outcome(runbook.name, kind, refused, event, error=why)
        started = time.monotonic()
        try:
            action = runbook.action
            if isinstance(action, RunAction):
                outcome = await self._run_local(runbook, action, event, system)
            elif isinstance(action, SshAction):
                outcome = await self._run_ssh(runbook, action, event, system)
            else:
                outcome = await self._run_webhook(runbook, action, event, system)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unforeseen failure: still an outcome
            log.exception("runbook %s failed", runbook.name)
            outcome = Outcome(runbook.name, kind, Status.FAILED, event, error=_describe(exc))
        finally:
            self._running[runbook.name] -= 1
        duration = int((time.monotonic() - started) * 1000)
        outcome = _with(outcome, duration_ms=duration)
        log.info(
            "runbook %s (%s) for %s %s: %s%s in %d ms",
            runbook.name, kind, event.type, event.incident_id or event.component,
            outcome.status.value,
            "" if outcome.exit_status is None else f" (exit {outcome.exit_status})",
            duration,
        )  # fmt: skip
        return outcome

    async def _run_local(
        self, book: Runbook, action: RunAction, event: Event, system: str | None
    ) -> Outcome:
        env = {**_safe_environment(), **event_environment(book, event, system)}
        try:
            proc = await asyncio.create_subprocess_exec(
                *action.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=action.cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return Outcome(
                book.name, "run", Status.FAILED, event, error=f"cannot start: {_describe(exc)}"
            )
        pgid = proc.pid  # the session leader's pid is its process group's id
        out, err = _Bounded(), _Bounded()
        readers = [
            asyncio.ensure_future(_drain(proc.stdout, out)),
            asyncio.ensure_future(_drain(proc.stderr, err)),
        ]
        status, error = Status.OK, ""
        deadline = time.monotonic() + book.timeout
        try:
            try:
                await asyncio.wait_for(proc.wait(), book.timeout)
            except TimeoutError:
                status, error = Status.TIMEOUT, f"killed after {book.timeout:g} s"
                await _end_group(pgid, self.kill_grace)
                await proc.wait()
            else:
                remaining = max(0.0, deadline - time.monotonic())
                await asyncio.wait(readers, timeout=min(_OUTPUT_GRACE, remaining))
                if await _end_group(pgid, self.kill_grace):
                    error = "left processes behind in its process group; they were terminated"
        except asyncio.CancelledError:
            await asyncio.shield(_end_group(pgid, 0.5))
            raise
        finally:
            _, pending = await asyncio.wait(readers, timeout=_OUTPUT_GRACE)
            for reader in pending:
                reader.cancel()
        code = proc.returncode
        assert code is not None  # waited for above
        if status is Status.OK and code != 0:
            status = Status.FAILED
            error = error or (f"exit status {code}" if code >= 0 else f"killed by signal {-code}")
        return Outcome(
            book.name, "run", status, event, exit_status=code,
            stdout=out.text(), stderr=err.text(), error=error,
        )  # fmt: skip

    async def _run_ssh(
        self, book: Runbook, action: SshAction, event: Event, system: str | None
    ) -> Outcome:
        import asyncssh

        env = event_environment(book, event, system)
        document = json.dumps(event_document(book, event, system), ensure_ascii=False) + "\n"
        try:
            password = _read_password(action)
            known_hosts = asyncssh.read_known_hosts(action.known_hosts)
            client_keys = [asyncssh.read_private_key(k) for k in action.keys]
        except (OSError, ValueError, KeyError, asyncssh.KeyImportError) as exc:
            return Outcome(book.name, "ssh", Status.FAILED, event, error=_describe(exc))
        out, err = _Bounded(), _Bounded()
        exit_status: int | None = None
        deadline = time.monotonic() + book.timeout
        conn = None
        try:
            async with asyncio.timeout(book.timeout):
                conn = await asyncssh.connect(
                    action.host,
                    action.port,
                    username=action.user,
                    known_hosts=known_hosts,
                    client_keys=client_keys or None,
                    password=password,
                    agent_path=None,
                    config=None,
                    login_timeout=max(1.0, deadline - time.monotonic()),
                    keepalive_interval=0,
                )
                process = await conn.create_process(action.command, env=env, encoding=None)
                try:
                    process.stdin.write(document.encode())
                    process.stdin.write_eof()
                    await asyncio.gather(_drain(process.stdout, out), _drain(process.stderr, err))
                    completed = await process.wait(check=False)
                except (TimeoutError, asyncio.CancelledError):
                    with contextlib.suppress(Exception):
                        process.terminate()
                    raise
                exit_status = completed.exit_status
                if exit_status is None and completed.exit_signal:
                    exit_status = -_signal_number(completed.exit_signal[0])
        except TimeoutError:
            return Outcome(
                book.name, "ssh", Status.TIMEOUT, event, stdout=out.text(), stderr=err.text(),
                error=f"stopped after {book.timeout:g} s",
            )  # fmt: skip
        except (OSError, asyncssh.Error) as exc:
            return Outcome(book.name, "ssh", Status.FAILED, event, error=_describe(exc))
        finally:
            if conn is not None:
                conn.close()
        status = Status.OK if exit_status == 0 else Status.FAILED
        error = "" if status is Status.OK else f"exit status {exit_status}"
        return Outcome(
            book.name, "ssh", status, event, exit_status=exit_status,
            stdout=out.text(), stderr=err.text(), error=error,
        )  # fmt: skip

    async def _run_webhook(
        self, book: Runbook, action: WebhookAction, event: Event, system: str | None
    ) -> Outcome:
        import httpx

        timeout = action.timeout or book.timeout
        body = event_document(book, event, system)
        try:
            async with (
                asyncio.timeout(timeout),
                httpx.AsyncClient(
                    timeout=timeout, trust_env=False, follow_redirects=False
                ) as client,
            ):
                response = await client.post(action.url, json=body, headers=dict(action.headers))
        except TimeoutError:
            return Outcome(
                book.name, "webhook", Status.TIMEOUT, event, error=f"no answer within {timeout:g} s"
            )
        except httpx.TimeoutException:
            return Outcome(
                book.name, "webhook", Status.TIMEOUT, event, error=f"no answer within {timeout:g} s"
            )
        except httpx.HTTPError as exc:
            return Outcome(book.name, "webhook", Status.FAILED, event, error=_describe(exc))
        text = _Bounded()
        text.add(response.content)
        ok = 200 <= response.status_code < 300
        return Outcome(
            book.name, "webhook", Status.OK if ok else Status.FAILED, event,
            http_status=response.status_code, stdout=text.text(),
            error="" if ok else f"HTTP {response.status_code}",
        )  # fmt: skip


def _read_password(action: SshAction) -> str | None:
    if action.password_file:
        return Path(action.password_file).read_text().strip()
    if action.password_env:
        if action.password_env not in os.environ:
            raise KeyError(f"environment variable {action.password_env} is not set")
        return os.environ[action.password_env]
    return None


def _signal_number(name: str) -> int:
    try:
        return int(signal.Signals[f"SIG{name}"])
    except KeyError:
        return 0


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _with(outcome: Outcome, **changes: Any) -> Outcome:
    return replace(outcome, **changes)
