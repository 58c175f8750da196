"""The collector's YAML configuration, validated with errors that name file, line and key.

```yaml
listen: 127.0.0.1:8080
store: sqlite:///var/lib/hotline-collector/store.db
agents: [{name: a1, token_file: /etc/hotline/a1.token}]
operators: [{name: ops-wang, token: "…"}]
down_after: 3
up_after: 1
```
See `configs/collector/collector.yaml` for every key. `alerts` and `runbooks` are parsed by
`collector.notify` (their errors name file, line and key like the rest).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from collector.domain.engine import DEFAULT_COMPOSITE, CompositeRule, EngineConfig
from collector.domain.incidents import (
    DEFAULT_RESPONSE_LIMITS,
    DEFAULT_RESTORATION_LIMITS,
    DEFAULT_SEVERITY,
    IncidentConfig,
)
from collector.domain.model import SYSTEMS
from collector.notify.config import AlertsConfig, AlertsConfigError, parse_alerts
from collector.notify.runbooks import Runbook, RunbookConfigError, check_files, parse_runbooks
from collector.statedir import default_state_dir
from conffile import SecretFileError, read_secret, yamlmarks
from conffile.yamlmarks import Parsed, key_line_of, line_of

DEFAULT_STORE = "sqlite:///var/lib/hotline-collector/store.db"


class CollectorConfigError(Exception):
    """The configuration is wrong; the message names the file, line and key."""


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    token: str = field(repr=False)  # never printed
    role: str  # agent | operator


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    listen: str = "127.0.0.1:8080"
    store: str = DEFAULT_STORE
    store_token_file: str | None = None  # InfluxDB 2.x/3.x token (else $HOTLINE_INFLUX_TOKEN)
    # HTTPS: the server's certificate (chain, PEM) and its private key, both or neither
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # local state (InfluxDB buffer, default SQLite store); see collector.statedir
    state_dir: str = field(default_factory=lambda: str(default_state_dir()))
    principals: tuple[Principal, ...] = ()
    engine: EngineConfig = field(default_factory=EngineConfig)
    incidents: IncidentConfig = field(default_factory=IncidentConfig)
    max_future: float = 300.0
    max_body: int = 16 * 1024 * 1024
    tick_seconds: float = 5.0
    rebuild_hours: float = 24.0
    raw_days: float = 30.0
    keep_days: float = 400.0
    alerts: AlertsConfig | None = None
    runbooks: tuple[Runbook, ...] = ()
    # working days of years chinesecalendar does not know (the scorer's override files, the
    # same ones `hotline score --calendar` takes): the written reports' deadlines
    calendar_years: Mapping[int, Any] = field(default_factory=dict)
    # the line of each top-level key in the file, for errors found after loading (the CLI's)
    key_lines: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    def key_line(self, key: str) -> int:
        """The line of a top-level key in the file this was loaded from (1 when absent)."""
        return self.key_lines.get(key, 1)


_TOP = {
    "listen", "store", "store_token_file", "agents", "operators", "down_after", "up_after",
    "component_rule", "state_dir", "tls_cert_file", "tls_key_file",
    "silence_after", "silence_grace", "silence_action", "composite", "correlation_window",
    "dependencies", "severity", "component_severity", "response_limits", "restoration_limits",
    "max_future",
    "max_body", "tick_seconds", "rebuild_hours", "retention", "alerts", "runbooks",
    "calendar_overrides",
}  # fmt: skip
_PRINCIPAL = {"name", "token", "token_file"}
_RETENTION = {"raw_days", "keep_days"}


class _Where:
    """The file and line of a key path (`agents.0.token_file`), from the marked data."""

    def __init__(self, path: str, parsed: Parsed) -> None:
        self.path = path
        self.parsed = parsed

    def line(self, at: tuple[Any, ...]) -> int:
        """The line of the longest prefix of `at` the file has: a key's line for a mapping
        key, an item's for a list item, the document's for none."""
        line, container = self.parsed.line, self.parsed.data
        for step in at:
            if isinstance(container, dict) and step in container:
                line = key_line_of(container, step)
            elif isinstance(container, list) and isinstance(step, int) and step < len(container):
                line = line_of(container, step)
            else:
                break
            container = container[step]
        return line

    def error(self, at: tuple[Any, ...], message: str) -> CollectorConfigError:
        key = ".".join(str(p) for p in at) or "(top)"
        return CollectorConfigError(f"{self.path}:{self.line(at)}: {key}: {message}")


def load_config(path: str | Path) -> CollectorConfig:
    path = Path(path)
    parsed = _parse(path)
    where = _Where(str(path), parsed)
    data = parsed.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise where.error((), "expected a mapping of keys (listen, store, agents, …)")
    config = _build(data, where, path.parent)
    return replace(config, key_lines={k: where.line((k,)) for k in data if isinstance(k, str)})


def _parse(path: Path) -> Parsed:
    """The checked, marked document (duplicate keys, alias bombs, non-UTF-8 refused)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CollectorConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CollectorConfigError(f"{path}:{line}: (top): not UTF-8 text: {exc.reason}") from None
    try:
        return yamlmarks.parse(text, str(path))
    except yamlmarks.YamlError as exc:
        problem = f"broken YAML: {exc.problem}" if exc.broken else exc.problem
        where = f"{path}:{exc.line or 1}: {exc.key or '(top)'}"
        raise CollectorConfigError(f"{where}: {problem}") from None


def split_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` too) → (host, port); ValueError says why not."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _build(data: dict[str, Any], where: _Where, base: Path) -> CollectorConfig:
    for key in data:
        if key not in _TOP:
            raise where.error((key,), f"unknown key (known: {', '.join(sorted(_TOP))})")
    principals = _principals(data, "agents", "agent", where, base)
    principals += _principals(data, "operators", "operator", where, base)
    names = [p.name for p in principals]
    for name in names:
        if names.count(name) > 1:
            raise where.error(("agents",), f"name {name!r} is used twice")
    tokens = [p.token for p in principals]
    if len(set(tokens)) != len(tokens):
        raise where.error(("operators",), "two principals share one token")

    def num(key: str, default: float, minimum: float = 0, whole: bool = False) -> Any:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.error((key,), "must be a number")
        if whole and not isinstance(value, int):
            raise where.error((key,), "must be a whole number")
        if value < minimum:
            raise where.error((key,), f"must be ≥ {minimum}")
        return value

    def choice(key: str, default: str, options: tuple[str, ...]) -> str:
        value = data.get(key, default)
        if value not in options:
            raise where.error((key,), f"must be one of {', '.join(options)}")
        return value

    composite_id, composite = _composite(data.get("composite"), where)
    engine = EngineConfig(
        down_after=num("down_after", 3, 1, whole=True),
        up_after=num("up_after", 1, 1, whole=True),
        component_rule=choice("component_rule", "any", ("any", "all")),
        silence_after=num("silence_after", 60, 1),
        silence_grace=num("silence_grace", 30, 0),
        silence_action=choice("silence_action", "no_data", ("no_data", "down")),
        composite_id=composite_id,
        composite=composite,
    )
    incidents = IncidentConfig(
        correlation_window=num("correlation_window", 120, 0),
        dependencies=_dependencies(data.get("dependencies"), where),
        severity={**DEFAULT_SEVERITY, **_severities(data, "severity", where, SYSTEMS)},
        component_severity=_severities(data, "component_severity", where, None),
        response_limits={**DEFAULT_RESPONSE_LIMITS, **_limits(data, "response_limits", where)},
        restoration_limits={
            **DEFAULT_RESTORATION_LIMITS,
            **_limits(data, "restoration_limits", where),
        },
    )
    retention = data.get("retention") or {}
    if not isinstance(retention, dict):
        raise where.error(("retention",), "must be a mapping with raw_days, keep_days")
    for key in retention:
        if key not in _RETENTION:
            raise where.error(("retention", key), "unknown key (known: raw_days, keep_days)")
    keep_days = retention.get("keep_days", 400)
    raw_days = retention.get("raw_days", 30)
    for key, value in (("raw_days", raw_days), ("keep_days", keep_days)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise where.error(("retention", key), "must be a positive number of days")
    listen = data.get("listen", "127.0.0.1:8080")
    if not isinstance(listen, str) or ":" not in listen:
        raise where.error(("listen",), "must be HOST:PORT")
    try:
        split_listen(listen)
    except ValueError as exc:
        raise where.error(("listen",), str(exc)) from None
    state_dir = data.get("state_dir")
    if state_dir is None:
        state_dir = default_state_dir()
    elif not isinstance(state_dir, str) or not state_dir:
        raise where.error(("state_dir",), "must be a directory path")
    else:
        state_dir = Path(os.path.expanduser(state_dir))
        state_dir = state_dir if state_dir.is_absolute() else base / state_dir
    # no store given: SQLite in the state directory (/var/lib/hotline-collector under systemd)
    store = data.get("store", f"sqlite:///{state_dir / 'store.db'}")
    if not isinstance(store, str) or not store.startswith(("sqlite://", "influxdb")):
        raise where.error(("store",), "must be sqlite:///PATH or influxdb://HOST:PORT/DB")
    if store.startswith("sqlite://"):
        from collector.store import StoreError
        from collector.store.sqlite import path_from_url

        try:
            path_from_url(store)
        except StoreError as exc:
            raise where.error(("store",), str(exc)) from None
    token_file = data.get("store_token_file")
    if token_file is not None:
        if not isinstance(token_file, str) or not token_file:
            raise where.error(("store_token_file",), "must be a file path")
        path = Path(os.path.expanduser(token_file))
        token_file = str(path if path.is_absolute() else base / path)
    return CollectorConfig(
        listen=listen,
        store=store,
        store_token_file=token_file,
        state_dir=str(state_dir),
        principals=tuple(principals),
        engine=engine,
        incidents=incidents,
        max_future=num("max_future", 300, 0),
        max_body=num("max_body", 16 * 1024 * 1024, 1024, whole=True),
        tick_seconds=num("tick_seconds", 5, 0.05),
        rebuild_hours=num("rebuild_hours", 24, 0),
        raw_days=float(raw_days),
        keep_days=float(keep_days),
        alerts=_alerts(data, where, base),
        runbooks=_runbooks(data, where, base),
        calendar_years=_calendar(data, where, base),
        **_tls(data, where, base),
    )


def _calendar(data: dict[str, Any], where: _Where, base: Path) -> dict[int, Any]:
    """`calendar_overrides`: files (relative to the config's directory) in the scorer's
    calendar override format, one year each, read now (a bad one is a config error)."""
    from scoring.rules import RulesError, load_calendar_year

    files = data.get("calendar_overrides")
    if files is None:
        return {}
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise where.error(("calendar_overrides",), "must be a list of file paths")
    years: dict[int, Any] = {}
    for i, name in enumerate(files):
        file = Path(os.path.expanduser(name))
        try:
            year = load_calendar_year(file if file.is_absolute() else base / file)
        except RulesError as exc:
            raise where.error(("calendar_overrides", i), "; ".join(exc.errors)) from None
        if year.year in years:
            raise where.error(("calendar_overrides", i), f"a second file for {year.year}")
        years[year.year] = year
    return years


def _tls(data: dict[str, Any], where: _Where, base: Path) -> dict[str, str | None]:
    """`tls_cert_file` and `tls_key_file` (both or neither), relative to the config's
    directory, each readable now: a missing key file is a config error, not a server that
    fails to start."""
    out: dict[str, str | None] = {}
    for key in ("tls_cert_file", "tls_key_file"):
        value = data.get(key)
        if value is None:
            out[key] = None
            continue
        if not isinstance(value, str) or not value:
            raise where.error((key,), "must be the path of a PEM file")
        file = Path(os.path.expanduser(value))
        if not file.is_absolute():
            file = base / file
        try:
            with file.open("rb") as f:
                head = f.read(64 * 1024)
        except OSError as exc:
            raise where.error((key,), f"cannot read {file}: {exc.strerror}") from None
        if b"-----BEGIN " not in head:
            raise where.error((key,), f"{file} is not a PEM file")
        out[key] = str(file)
    if (out["tls_cert_file"] is None) != (out["tls_key_file"] is None):
        given = "tls_cert_file" if out["tls_cert_file"] else "tls_key_file"
        raise where.error((given,), "give both tls_cert_file and tls_key_file (or neither)")
    return out


def _alerts(data: dict[str, Any], where: _Where, base: Path) -> AlertsConfig | None:
    try:
        return parse_alerts(data.get("alerts"), base_dir=base)
    except AlertsConfigError as exc:
        raise where.error(exc.path, exc.problem) from None


def _runbooks(data: dict[str, Any], where: _Where, base: Path) -> tuple[Runbook, ...]:
    try:
        books = parse_runbooks(data.get("runbooks"), base_dir=base)
        check_files(books)
    except RunbookConfigError as exc:
        raise where.error(exc.at, exc.problem) from None
    return tuple(books)


def _principals(
    data: dict[str, Any], key: str, role: str, where: _Where, base: Path
) -> list[Principal]:
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise where.error((key,), "must be a list of {name, token | token_file}")
    out = []
    for i, entry in enumerate(entries):
        at = (key, i)
        if not isinstance(entry, dict):
            raise where.error(at, "must be a mapping {name, token | token_file}")
        for k in entry:
            if k not in _PRINCIPAL:
                raise where.error((*at, k), "unknown key (known: name, token, token_file)")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise where.error((*at, "name"), "required, a non-empty string")
        if ("token" in entry) == ("token_file" in entry):
            raise where.error(at, "give exactly one of token, token_file")
        if "token" in entry:
            token = entry["token"]
            if not isinstance(token, str) or not token.strip():
                raise where.error((*at, "token"), "must be a non-empty string")
        else:
            file = Path(os.path.expanduser(str(entry["token_file"])))
            if not file.is_absolute():
                file = base / file
            try:
                token = read_secret(file)
            except SecretFileError as exc:
                problem = f"{file} is empty" if exc.empty else f"cannot read {exc}"
                raise where.error((*at, "token_file"), problem) from None
        out.append(Principal(name, token.strip(), role))
    return out


def _composite(value: Any, where: _Where) -> tuple[str | None, dict[str, CompositeRule]]:
    if value is None:
        return "callsys", dict(DEFAULT_COMPOSITE)
    if value is False:
        return None, {}
    if not isinstance(value, dict):
        raise where.error(("composite",), "must be a mapping {id, SYSTEM: any|all|{k: N}} or false")
    cid = value.get("id", "callsys")
    if not isinstance(cid, str) or not cid:
        raise where.error(("composite", "id"), "must be a non-empty string")
    rules: dict[str, CompositeRule] = {}
    for key, rule in value.items():
        if key == "id":
            continue
        if key not in SYSTEMS:
            raise where.error(("composite", key), f"not a system (one of {', '.join(SYSTEMS)})")
        if rule in ("any", "all"):
            rules[key] = CompositeRule(rule)
        elif (
            isinstance(rule, dict)
            and set(rule) == {"k"}
            and isinstance(rule["k"], int)
            and rule["k"] >= 1
        ):
            rules[key] = CompositeRule("k", rule["k"])
        else:
            raise where.error(("composite", key), "must be any, all or {k: N}")
    return cid, rules or dict(DEFAULT_COMPOSITE)


def _dependencies(value: Any, where: _Where) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(("dependencies",), "must map a dependency to its components")
    out = {}
    for dep, members in value.items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise where.error(("dependencies", dep), "must be a list of component ids")
        out[str(dep)] = tuple(members)
    return out


def _severities(
    data: dict[str, Any], key: str, where: _Where, allowed: tuple[str, ...] | None
) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise where.error((key,), "must be a mapping to P1, P2 or P3")
    for k, v in value.items():
        if allowed is not None and k not in allowed:
            raise where.error((key, k), f"not a system (one of {', '.join(allowed)})")
        if v not in ("P1", "P2", "P3"):
            raise where.error((key, k), "must be P1, P2 or P3")
    return {str(k): v for k, v in value.items()}


def _limits(data: dict[str, Any], key: str, where: _Where) -> dict[str, float]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise where.error((key,), "must map P1..P3 to seconds")
    for k, v in value.items():
        if k not in ("P1", "P2", "P3"):
            raise where.error((key, k), "must be P1, P2 or P3")
        if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
            raise where.error((key, k), "must be a positive number of seconds")
    return {k: float(v) for k, v in value.items()}
