"""The agent's YAML configuration: loading, validation with file/line/field errors, targets.

Validation is written out by hand rather than with a schema library because every error must
name the file and line the value came from (kept by `conffile.yamlmarks`) and the field's path,
and the schema is small. Unknown keys are errors: a typo must not silently drop a check.

    agent: a1
    collector: {url: https://collector:8443, token_file: /etc/hotline/agent.token}
    defaults: {interval: 30, timeout: 5}
    include: [seats/*.yaml]            # more `targets:` / `seat_lists:`, globs, sorted
    seat_lists: [{csv: seats.csv, probes: [{kind: sip, target: "sip:{host}:5060"}]}]
    targets:
      - id: acd-1
        system: acd
        host: 10.0.0.5
        probes: [{kind: sip}, {kind: tcp, target: "{host}:5060", name: sip-tcp}]

See configs/agent/example.yaml for every key.
"""

from __future__ import annotations

import csv
import glob
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conffile import SecretFileError, read_secret, yamlmarks
from conffile.yamlmarks import MarkedDict, MarkedList, line_of
from probes import SPECS, OptionError, check_probe, resolve_paths

# the results contract's `system` values (the collector checks the same list in its domain.model)
SYSTEMS = ("acd", "ivr", "seat", "callsys", "other")
# What a probe kind is (its default target, concurrency, option parser) is said once, in its
# module's SPEC (probes.spec.KindSpec); this loader reads it from the registry.
KINDS = tuple(SPECS)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
_SIZE_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3}


class AgentConfigError(Exception):
    """The configuration is wrong; `errors` holds one `file:line: field: message` per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Check:
    """One probe of one component, as scheduled: the unit the agent runs and reports."""

    component: str
    system: str
    name: str
    kind: str
    target: str
    options: Mapping[str, Any]
    interval: float
    timeout: float
    jitter: float

    @property
    def key(self) -> tuple[str, str]:
        return (self.component, self.name)

    def same_probe(self, other: Check) -> bool:
        """True when `other` asks the same question (so its previous value still applies)."""
        return (self.kind, self.target, dict(self.options)) == (
            other.kind,
            other.target,
            dict(other.options),
        )


@dataclass(frozen=True)
class AgentConfig:
    name: str
    collector_url: str
    token_file: str | None
    token_env: str | None
    verify: bool
    ca_file: str | None
    http_timeout: float
    spool_path: str
    spool_max_bytes: int
    spool_fsync: str  # "full": fsync every commit (group commit); "normal": at checkpoints
    batch_size: int
    batch_bytes: int
    batch_age: float
    backoff_initial: float
    backoff_max: float
    flush_timeout: float
    heartbeat_interval: float
    host_metrics_interval: float
    late_after: float
    concurrency: Mapping[str, int]
    checks: tuple[Check, ...]
    files: tuple[str, ...] = field(default=())

    def read_token(self) -> str:
        """The bearer token from its file or environment variable; AgentConfigError if absent."""
        if self.token_file:
            try:
                return read_secret(self.token_file)
            except SecretFileError as exc:
                problem = f"{exc.path} is empty" if exc.empty else f"cannot read {exc}"
                raise AgentConfigError([f"collector.token_file: {problem}"]) from None
        token = os.environ.get(self.token_env or "", "").strip()
        if not token:
            raise AgentConfigError(
                [f"collector.token_env: environment variable {self.token_env} is not set or empty"]
            )
        return token


class _Errors:
    """Collects errors as `file:line: field: message`, so one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._once: set[tuple[str, int, str]] = set()

    def add(self, file: str, line: int, path: str, message: str) -> None:
        where = f"{file}:{line}" if line else file
        self.items.append(f"{where}: {path}: {message}" if path else f"{where}: {message}")

    def add_once(self, file: str, line: int, path: str, message: str) -> None:
        """Like `add`, but a message already given for this file and line is not repeated
        (the options of a seat list are checked for every row of its CSV)."""
        if (file, line, message) not in self._once:
            self._once.add((file, line, message))
            self.add(file, line, path, message)


class _Reader:
    """Typed access to one mapping of one file, reporting problems to `_Errors`."""

    def __init__(self, errors: _Errors, file: str, data: Any, path: str) -> None:
        self.errors, self.file, self.path = errors, file, path
        if not isinstance(data, dict):
            self.fail(None, f"must be a mapping, got {_type(data)}", line=line_of(data))
            data = MarkedDict()
        self.data = data

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | None, message: str, line: int | None = None) -> None:
        if line is None:
            line = line_of(self.data, key) if key is not None else line_of(self.data)
        path = self.field(key) if key is not None else self.path
        self.errors.add(self.file, line, path, message)

    def known(self, keys: Iterable[str]) -> None:
        allowed = set(keys)
        for key in self.data:
            if key not in allowed:
                self.fail(key, f"unknown key (known: {', '.join(sorted(allowed))})")

    def sub(self, key: str, required: bool = False) -> _Reader:
        if key not in self.data:
            if required:
                self.fail(None, f"missing required key {key!r}")
            empty = MarkedDict()
            empty.line, empty.lines = line_of(self.data), {}
            return _Reader(self.errors, self.file, empty, self.field(key))
        return _Reader(self.errors, self.file, self.data[key], self.field(key))

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(None, f"missing required key {key!r}")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(key, f"must be text, got {_type(value)}")
            return default
        value = str(value).strip()
        if not value and required:
            self.fail(key, "must not be empty")
            return default
        return value

    def number(self, key: str, default: float, minimum: float = 0.0, above: bool = True) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < minimum or (above and value == minimum):
            bound = f"> {minimum:g}" if above else f">= {minimum:g}"
            self.fail(key, f"must be a number {bound}, got {value!r}")
            return default
        return float(value)

    def integer(self, key: str, default: int, minimum: int = 1) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"must be an integer >= {minimum}, got {value!r}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {value!r}")
            return default
        return value

    def size(self, key: str, default: int) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        match = _SIZE.match(str(value)) if isinstance(value, str) else None
        if match is None or float(match.group(1)) <= 0:
            self.fail(key, f"must be a size in bytes such as 65536 or '64 MiB', got {value!r}")
            return default
        unit = (match.group(2) or "B").lower()
        return int(float(match.group(1)) * _SIZE_UNITS[unit])

    def choice(self, key: str, options: Iterable[str], default: str | None = None) -> str | None:
        value = self.text(key, default)
        allowed = tuple(options)
        if value is not None and value not in allowed:
            self.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
            return default
        return value

    def seq(self, key: str) -> MarkedList:
        value = self.data.get(key)
        if value is None:
            empty = MarkedList()
            empty.line, empty.lines = line_of(self.data, key), []
            return empty
        if not isinstance(value, list):
            self.fail(key, f"must be a list, got {_type(value)}")
            empty = MarkedList()
            empty.line, empty.lines = line_of(self.data, key), []
            return empty
        return value


def _type(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(value).__mro__[-2] if type(value) in (MarkedDict, MarkedList) else type(value),
        type(value).__name__,
    )


@dataclass
class _Defaults:
    interval: float
    timeout: float
    jitter: float


def load_config(path: str | os.PathLike[str], known_kinds: Iterable[str] = KINDS) -> AgentConfig:
    """Read and validate the agent config at `path` (with its includes and seat CSVs).

    Raises AgentConfigError listing every problem found, each naming file, line and field.
    Every probe's target and options are parsed as the probe will parse them (an unknown
    option, a bad value, a file that cannot be read or an unset `NAME_env` variable is an
    error here, not a `config_error` result later); relative file paths in options are taken
    from the directory of the file that names them. The token is not read here (see
    `AgentConfig.read_token`).
    """
    errors = _Errors()
    path = Path(path)
    kinds = tuple(known_kinds)
    data = _load_yaml(path, errors)
    if errors.items:
        raise AgentConfigError(errors.items)
    root = _Reader(errors, str(path), data, "")
    root.known(
        [
            "agent",
            "collector",
            "spool",
            "shipping",
            "heartbeat",
            "defaults",
            "concurrency",
            "include",
            "seat_lists",
            "targets",
        ]
    )
    name = root.text("agent", required=True) or "agent"
    if "agent" in root.data and not _NAME.match(name):
        root.fail("agent", f"must be letters, digits and _.:- , got {name!r}")

    coll = root.sub("collector", required=True)
    coll.known(["url", "token_file", "token_env", "verify", "ca_file", "timeout"])
    url = coll.text("url", required=True) or ""
    if url and not re.match(r"^https?://[^/\s]+", url):
        coll.fail("url", f"must be an http:// or https:// URL, got {url!r}")
    token_file = coll.text("token_file")
    token_env = coll.text("token_env")
    if "collector" in root.data and (token_file is None) == (token_env is None):
        coll.fail(None, "give exactly one of token_file or token_env (never an inline token)")
    if "token" in coll.data:
        coll.fail("token", "inline tokens are not accepted; use token_file or token_env")
    ca_file = coll.text("ca_file")
    base = path.parent
    if token_file:
        token_file = str(base / token_file)
    if ca_file:
        ca_file = str(base / ca_file)
        if not Path(ca_file).is_file():
            coll.fail("ca_file", f"no such file: {ca_file}")

    spool = root.sub("spool")
    spool.known(["path", "max_bytes", "fsync"])
    state_dir = os.environ.get("STATE_DIRECTORY", "/var/lib/hotline-agent").split(":")[0]
    spool_path = str(base / spool.text("path", str(Path(state_dir) / "spool.db")))

    ship = root.sub("shipping")
    ship.known(
        [
            "batch_size",
            "batch_bytes",
            "batch_age",
            "backoff_initial",
            "backoff_max",
            "flush_timeout",
        ]
    )
    beat = root.sub("heartbeat")
    beat.known(["interval", "host_metrics_interval"])

    dflt = root.sub("defaults")
    dflt.known(["interval", "timeout", "jitter", "late_after"])
    defaults = _Defaults(
        interval=dflt.number("interval", 30.0),
        timeout=dflt.number("timeout", 5.0),
        jitter=dflt.number("jitter", 0.0, above=False),
    )

    conc = root.sub("concurrency")
    conc.known(kinds)
    concurrency = {k: conc.integer(k, SPECS[k].concurrency if k in SPECS else 64) for k in kinds}

    checks: list[Check] = []
    seen: dict[str, str] = {}
    files = [str(path)]
    _read_targets(root, base, defaults, kinds, checks, seen, errors)
    for i, pattern in enumerate(root.seq("include")):
        if not isinstance(pattern, str):
            errors.add(str(path), line_of(root.data["include"], i), f"include[{i}]", "must be text")
            continue
        matches = sorted(glob.glob(str(base / pattern)))
        if not matches:
            line = line_of(root.data["include"], i)
            errors.add(str(path), line, f"include[{i}]", f"{pattern!r} matches no file")
        for match in matches:
            included = _load_yaml(Path(match), errors)
            if included is None and errors.items:
                continue
            inc = _Reader(errors, match, included, "")
            inc.known(["targets", "seat_lists"])
            _read_targets(inc, Path(match).parent, defaults, kinds, checks, seen, errors)
            files.append(match)

    if errors.items:
        raise AgentConfigError(errors.items)
    return AgentConfig(
        name=name,
        collector_url=url.rstrip("/"),
        token_file=token_file,
        token_env=token_env,
        verify=coll.boolean("verify", True),
        ca_file=ca_file,
        http_timeout=coll.number("timeout", 10.0),
        spool_path=spool_path,
        spool_max_bytes=spool.size("max_bytes", 64 * 1024**2),
        spool_fsync=spool.choice("fsync", ("full", "normal"), "full") or "full",
        batch_size=ship.integer("batch_size", 500),
        batch_bytes=ship.size("batch_bytes", 512 * 1024),
        batch_age=ship.number("batch_age", 1.0),
        backoff_initial=ship.number("backoff_initial", 1.0),
        backoff_max=ship.number("backoff_max", 60.0),
        flush_timeout=ship.number("flush_timeout", 10.0, above=False),
        heartbeat_interval=beat.number("interval", 30.0),
        host_metrics_interval=beat.number("host_metrics_interval", 60.0),
        late_after=dflt.number("late_after", 1.0),
        concurrency=concurrency,
        checks=tuple(checks),
        files=tuple(files),
    )


def _load_yaml(path: Path, errors: _Errors) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        errors.add(str(path), 0, "", f"cannot read: {exc.strerror}")
        return None
    except UnicodeDecodeError as exc:
        errors.add(str(path), 0, "", f"not UTF-8 text: {exc.reason}")
        return None
    try:
        return yamlmarks.load(text, str(path))
    except yamlmarks.YamlError as exc:
        errors.add(str(path), exc.line, "", f"invalid YAML: {exc}")
        return None


def _read_targets(
    root: _Reader,
    base: Path,
    defaults: _Defaults,
    kinds: tuple[str, ...],
    checks: list[Check],
    seen: dict[str, str],
    errors: _Errors,
) -> None:
    targets = root.seq("targets")
    for i, item in enumerate(targets):
        reader = _Reader(errors, root.file, item, f"targets[{i}]")
        _read_target(reader, {}, defaults, kinds, checks, seen)
    for i, item in enumerate(root.seq("seat_lists")):
        reader = _Reader(errors, root.file, item, f"seat_lists[{i}]")
        _read_seat_list(reader, base, defaults, kinds, checks, seen)


def _read_target(
    reader: _Reader,
    extra_vars: Mapping[str, str],
    defaults: _Defaults,
    kinds: tuple[str, ...],
    checks: list[Check],
    seen: dict[str, str],
    where: str | None = None,
) -> None:
    reader.known(["id", "system", "host", "interval", "timeout", "jitter", "probes"])
    component = reader.text("id", required=True)
    system = reader.choice("system", SYSTEMS)
    if system is None and "system" not in reader.data:
        reader.fail(None, "missing required key 'system'")
    host = reader.text("host")
    here = where or f"{reader.file}:{line_of(reader.data)}"
    if component is not None:
        if not _NAME.match(component):
            reader.fail("id", f"must be letters, digits and _.:- , got {component!r}")
        elif component in seen:
            reader.fail("id", f"component {component!r} is already defined at {seen[component]}")
        else:
            seen[component] = here
    target_defaults = _Defaults(
        interval=reader.number("interval", defaults.interval),
        timeout=reader.number("timeout", defaults.timeout),
        jitter=reader.number("jitter", defaults.jitter, above=False),
    )
    variables = {"id": component or "", **extra_vars}
    if host is not None:
        variables["host"] = host
        variables["host_uri"] = f"[{host}]" if ":" in host else host
    probes = reader.seq("probes")
    if not probes and "probes" not in reader.data:
        reader.fail(None, "missing required key 'probes'")
    names: set[str] = set()
    for j, item in enumerate(probes):
        pr = _Reader(reader.errors, reader.file, item, f"{reader.path}.probes[{j}]")
        check = _read_probe(pr, component, system, variables, target_defaults, kinds, names)
        if check is not None:
            checks.append(check)


def _read_probe(
    pr: _Reader,
    component: str | None,
    system: str | None,
    variables: Mapping[str, str],
    defaults: _Defaults,
    kinds: tuple[str, ...],
    names: set[str],
) -> Check | None:
    pr.known(["kind", "name", "target", "options", "interval", "timeout", "jitter"])
    kind = pr.text("kind", required=True)
    if kind is not None and kind not in kinds:
        pr.fail("kind", f"unknown probe kind {kind!r} (known: {', '.join(kinds)})")
        kind = None
    name = pr.text("name", kind)
    if name is not None and kind is not None:
        if not _NAME.match(name):
            pr.fail("name", f"must be letters, digits and _.:- , got {name!r}")
        elif name in names:
            pr.fail(
                "name" if "name" in pr.data else "kind",
                f"probe name {name!r} is used twice in this target; give each a `name`",
            )
        names.add(name)
    template = pr.text("target")
    if template is None and kind is not None:
        template = SPECS[kind].default_target if kind in SPECS else None
        if template is None:
            pr.fail(None, f"missing required key 'target' (a {kind} probe cannot derive it)")
        elif "host" not in variables:
            pr.fail(None, "missing 'target' (or a 'host' on the target to derive it from)")
            template = None
    target = None
    if template is not None:
        try:
            target = template.format_map(variables)
        except KeyError as exc:
            known = ", ".join("{" + v + "}" for v in sorted(variables))
            pr.fail("target", f"unknown placeholder {{{exc.args[0]}}} (known: {known})")
        except (ValueError, IndexError) as exc:
            pr.fail("target", f"bad placeholder syntax: {exc}")
    options = pr.data.get("options", {})
    options_ok = isinstance(options, dict)
    if not options_ok:
        pr.fail("options", f"must be a mapping, got {_type(options)}")
        options = {}
    elif "previous" in options:
        pr.fail("options", "'previous' is set by the agent from the last run, not by config")
        options_ok = False
    marked_options = options
    if kind in SPECS:
        options = resolve_paths(kind, _plain(options), os.path.abspath(os.path.dirname(pr.file)))
    if options_ok and kind is not None and target is not None:
        _check_probe(pr, kind, target, marked_options, options)
    interval = pr.number("interval", defaults.interval)
    timeout = pr.number("timeout", defaults.timeout)
    jitter = pr.number("jitter", defaults.jitter, above=False)
    if timeout > interval:
        pr.fail(
            "timeout" if "timeout" in pr.data else None,
            f"timeout ({timeout:g} s) must not exceed the interval ({interval:g} s)",
        )
    if jitter >= interval:
        pr.fail(
            "jitter" if "jitter" in pr.data else None,
            f"jitter ({jitter:g} s) must be below the interval ({interval:g} s)",
        )
    if None in (component, system, kind, name, target):
        return None
    return Check(
        component=component,
        system=system,
        name=name,
        kind=kind,
        target=target,
        options=_plain(options),
        interval=interval,
        timeout=timeout,
        jitter=jitter,
    )


def _check_probe(
    pr: _Reader, kind: str, target: str, marked: Any, options: Mapping[str, Any]
) -> None:
    """Parse the check as its probe will; report what is wrong at the option's own line."""
    try:
        check_probe(kind, target, options)
    except OptionError as exc:
        if exc.option is not None:
            line = line_of(marked, exc.option) if exc.option in marked else line_of(marked)
            if exc.option not in marked and "options" not in pr.data:
                line = line_of(pr.data)
            pr.errors.add_once(pr.file, line, f"{pr.path}.options.{exc.option}", str(exc))
        elif str(exc).startswith("target"):
            key = "target" if "target" in pr.data else None
            pr.fail(key, str(exc))
        else:
            pr.errors.add_once(pr.file, line_of(pr.data, "options"), f"{pr.path}.options", str(exc))


def _plain(value: Any) -> Any:
    """Marked containers back to plain dicts and lists (what probes receive)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _read_seat_list(
    reader: _Reader,
    base: Path,
    defaults: _Defaults,
    kinds: tuple[str, ...],
    checks: list[Check],
    seen: dict[str, str],
) -> None:
    """Expand a CSV of seats (one row per seat: id, phone IP, …) into one target per row.

    Every row becomes a target of `system` (default `seat`) with the list's `probes`;
    placeholders `{id}`, `{host}`, `{host_uri}` and any other CSV column fill probe targets.
    """
    reader.known(
        [
            "csv",
            "system",
            "id_column",
            "host_column",
            "id_prefix",
            "interval",
            "timeout",
            "jitter",
            "probes",
        ]
    )
    csv_name = reader.text("csv", required=True)
    if csv_name is None:
        return
    id_col = reader.text("id_column", "id") or "id"
    host_col = reader.text("host_column", "host") or "host"
    prefix = reader.text("id_prefix", "") or ""
    csv_path = base / csv_name
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        reader.fail("csv", f"cannot read {csv_path}: {exc.strerror}")
        return
    if not rows:
        reader.fail("csv", f"{csv_path} is empty")
        return
    header = [h.strip() for h in rows[0]]
    missing = [c for c in (id_col, host_col) if c not in header]
    if missing:
        reader.errors.add(
            str(csv_path),
            1,
            "header",
            f"missing column {missing[0]!r} (header is {', '.join(header)}; "
            f"set id_column/host_column in {reader.file}:{reader.data.line})",
        )
        return
    template = {
        k: v
        for k, v in reader.data.items()
        if k not in {"csv", "id_column", "host_column", "id_prefix"}
    }
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            reader.errors.add(
                str(csv_path),
                number,
                f"row {number}",
                f"has {len(row)} columns, the header has {len(header)}",
            )
            continue
        values = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
        if not values[id_col] or not values[host_col]:
            reader.errors.add(
                str(csv_path), number, f"row {number}", f"empty {id_col!r} or {host_col!r}"
            )
            continue
        entry = MarkedDict(template)
        entry.line, entry.lines = reader.data.line, dict(reader.data.lines)
        entry["id"] = prefix + values[id_col]
        entry["host"] = values[host_col]
        entry.setdefault("system", "seat")
        entry.lines["id"] = entry.lines["host"] = reader.data.line
        extra = {k: v for k, v in values.items() if k not in (id_col, host_col)}
        row_reader = _Reader(
            reader.errors, reader.file, entry, f"{reader.path}[{csv_name}:{number}]"
        )
        _read_target(row_reader, extra, defaults, kinds, checks, seen, where=f"{csv_path}:{number}")
