"""The `alerts:` block of the collector's config (SPEC "Contracts added for alerts, …").

```yaml
alerts:
  public_url: https://collector.example:8443   # base of the acknowledgement links
  routes:
    - name: platform
      urls: ["wecombot://KEY", "mailto://…"]   # apprise URLs; or urls_file: PATH
      systems: [acd, ivr, callsys]             # optional filters: systems, severities, components
      escalate_to: manager                     # optional
    - name: manager
      urls: ["dingtalk://…"]
  # optional, with their defaults:
  remind_every: 600          # seconds between reminders while unacknowledged past the deadline
  report_remind_before: 14400  # seconds before a written report's deadline
  link_ttl: 86400            # seconds an acknowledgement link stays valid
  signing_key_file: PATH     # absent: a key generated in the state dir (0600)
  retries: 5                 # attempts per channel after the first
  retry_backoff: 2.0         # seconds before the first retry, doubling up to retry_backoff_max
  retry_backoff_max: 300
```

`parse_alerts` checks everything and raises `AlertsConfigError` naming the field
(`alerts.routes[1].escalate_to`); its `path` tuple is what the collector's config loader turns
into `file:line: field`. The only I/O is reading a route's `urls_file`. URLs hold secrets
(webhook keys, mail passwords): `mask_url` is the only form of them that may be logged.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collector.domain.model import SYSTEMS

SEVERITIES = ("P1", "P2", "P3")
KEY_FILE_NAME = "alerts-signing.key"

_ROUTE_KEYS = {"name", "urls", "urls_file", "systems", "severities", "components", "escalate_to"}
_NUMBERS: dict[str, float] = {
    "remind_every": 600.0,
    "report_remind_before": 4 * 3600.0,
    "link_ttl": 24 * 3600.0,
    "retries": 5,
    "retry_backoff": 2.0,
    "retry_backoff_max": 300.0,
}
_TOP_KEYS = {"public_url", "routes", "signing_key_file", *_NUMBERS}
# Schemes whose host is a server address, not a secret: shown in masked URLs.
_HOST_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"}


class AlertsConfigError(ValueError):
    """A wrong `alerts:` setting. `path` is the key path from the top of the config file
    (`("alerts", "routes", 1, "escalate_to")`), `field` its written form."""

    def __init__(self, path: tuple[str | int, ...], problem: str) -> None:
        self.path = path
        self.field = _field(path)
        self.problem = problem
        super().__init__(f"{self.field}: {problem}")


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    urls: tuple[str, ...]
    systems: frozenset[str] | None = None  # None: every system
    severities: frozenset[str] | None = None
    components: frozenset[str] | None = None
    escalate_to: str | None = None

    def matches(
        self, systems: Sequence[str], severity: str | None, components: Sequence[str]
    ) -> bool:
        """Whether an incident of these systems, severity and components is for this route:
        every filter given must match (one of the incident's systems/components suffices);
        severity None (silent components: no incident yet) passes the severity filter."""
        if self.systems is not None and not self.systems.intersection(systems):
            return False
        if self.severities is not None and severity is not None and severity not in self.severities:
            return False
        return self.components is None or bool(self.components.intersection(components))

    def __repr__(self) -> str:  # never the URLs themselves
        masked = ", ".join(mask_url(u) for u in self.urls)
        return f"Route(name={self.name!r}, urls=[{masked}], escalate_to={self.escalate_to!r})"


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    routes: tuple[Route, ...]
    public_url: str | None = None
    remind_every: float = _NUMBERS["remind_every"]
    report_remind_before: float = _NUMBERS["report_remind_before"]
    link_ttl: float = _NUMBERS["link_ttl"]
    signing_key_file: Path | None = None
    retries: int = 5
    retry_backoff: float = _NUMBERS["retry_backoff"]
    retry_backoff_max: float = _NUMBERS["retry_backoff_max"]

    def route(self, name: str) -> Route:
        for r in self.routes:
            if r.name == name:
                return r
        raise KeyError(name)


def mask_url(url: str) -> str:
    """An apprise URL fit for logs and timelines: the scheme, and the server for schemes
    whose host is an address (json://127.0.0.1:8080/***); never keys, tokens or passwords."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        return "***"
    scheme = scheme.lower()
    if scheme in _HOST_SCHEMES:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            host = port = ""
        if host:
            return f"{scheme}://{host}{port}/***"
    return f"{scheme}://***"


def known_url(url: str) -> bool:
    """Whether apprise knows this URL's scheme and can build a channel from it."""
    import apprise

    return bool(apprise.Apprise().add(url))


def parse_alerts(
    data: Any,
    *,
    base_dir: Path = Path("."),
    at: tuple[str | int, ...] = ("alerts",),
) -> AlertsConfig | None:
    """The `alerts:` value (already loaded from YAML) → `AlertsConfig`; None when absent.
    Relative `urls_file` and `signing_key_file` paths are relative to `base_dir`."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise AlertsConfigError(at, "expected a mapping (public_url, routes, …)")
    for key in data:
        if key not in _TOP_KEYS:
            raise AlertsConfigError((*at, str(key)), f"unknown key (known: {_known(_TOP_KEYS)})")
    public_url = data.get("public_url")
    if public_url is not None:
        public_url = _public_url(public_url, (*at, "public_url"))
    routes_data = data.get("routes")
    if routes_data is None:
        raise AlertsConfigError((*at, "routes"), "missing: a list of routes (name, urls)")
    if not isinstance(routes_data, list):
        raise AlertsConfigError((*at, "routes"), "expected a list of routes")
    routes: list[Route] = []
    names: set[str] = set()
    for i, item in enumerate(routes_data):
        route = _route(item, (*at, "routes", i), base_dir)
        if route.name in names:
            raise AlertsConfigError((*at, "routes", i, "name"), f"{route.name!r} named twice")
        names.add(route.name)
        routes.append(route)
    for i, route in enumerate(routes):
        if route.escalate_to is not None and route.escalate_to not in names:
            raise AlertsConfigError(
                (*at, "routes", i, "escalate_to"),
                f"no route is named {route.escalate_to!r} (routes: {_known(names)})",
            )
    numbers: dict[str, Any] = {}
    for key, default in _NUMBERS.items():
        value = data.get(key, default)
        where = (*at, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AlertsConfigError(where, f"expected a number, got {_kind(value)}")
        if value < 0 or (key in ("link_ttl", "retry_backoff") and value == 0):
            raise AlertsConfigError(where, "must be positive")
        if key == "retries":
            if value != int(value):
                raise AlertsConfigError(where, "expected a whole number")
            value = int(value)
        numbers[key] = value
    key_file = data.get("signing_key_file")
    if key_file is not None:
        if not isinstance(key_file, str) or not key_file:
            raise AlertsConfigError((*at, "signing_key_file"), "expected a file path")
        key_file = base_dir / os.path.expanduser(key_file)
    return AlertsConfig(
        routes=tuple(routes), public_url=public_url, signing_key_file=key_file, **numbers
    )


def signing_key(config: AlertsConfig, state_dir: Path) -> bytes:
    """The key that signs acknowledgement links: `signing_key_file` when configured (at
    least 16 bytes), else one generated once and kept in the state dir with mode 0600."""
    if config.signing_key_file is not None:
        try:
            key = config.signing_key_file.read_bytes().strip()
        except OSError as exc:
            raise AlertsConfigError(
                ("alerts", "signing_key_file"), f"cannot read: {exc.strerror}"
            ) from None
        if len(key) < 16:
            raise AlertsConfigError(("alerts", "signing_key_file"), "key shorter than 16 bytes")
        return key
    path = Path(state_dir) / KEY_FILE_NAME
    try:
        key = path.read_bytes().strip()
        if len(key) >= 16:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return key


# --- helpers ---------------------------------------------------------------------------------


def _route(item: Any, at: tuple[str | int, ...], base_dir: Path) -> Route:
    if not isinstance(item, Mapping):
        raise AlertsConfigError(at, "expected a mapping (name, urls, …)")
    for key in item:
        if key not in _ROUTE_KEYS:
            raise AlertsConfigError((*at, str(key)), f"unknown key (known: {_known(_ROUTE_KEYS)})")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AlertsConfigError((*at, "name"), "missing: a route needs a name")
    if "urls" in item and "urls_file" in item:
        raise AlertsConfigError((*at, "urls_file"), "give urls or urls_file, not both")
    if "urls_file" in item:
        urls, where = _urls_file(item["urls_file"], (*at, "urls_file"), base_dir)
    elif "urls" in item:
        urls = item["urls"]
        where = [(*at, "urls", i) for i in range(len(urls))] if isinstance(urls, list) else []
        if not isinstance(urls, list) or not urls:
            raise AlertsConfigError((*at, "urls"), "expected a non-empty list of apprise URLs")
    else:
        raise AlertsConfigError((*at, "urls"), "missing: urls (apprise URLs) or urls_file")
    for url, here in zip(urls, where, strict=True):
        if not isinstance(url, str) or not url.strip():
            raise AlertsConfigError(here, f"expected an apprise URL, got {_kind(url)}")
        if not known_url(url.strip()):
            raise AlertsConfigError(
                here, f"apprise does not know this URL ({mask_url(url.strip())}): check the scheme"
            )
    escalate = item.get("escalate_to")
    if escalate is not None and (not isinstance(escalate, str) or not escalate):
        raise AlertsConfigError((*at, "escalate_to"), "expected a route name")
    return Route(
        name=name.strip(),
        urls=tuple(u.strip() for u in urls),
        systems=_filter(item, "systems", at, SYSTEMS),
        severities=_filter(item, "severities", at, SEVERITIES),
        components=_filter(item, "components", at, None),
        escalate_to=escalate,
    )


def _urls_file(
    value: Any, at: tuple[str | int, ...], base_dir: Path
) -> tuple[list[str], list[tuple[str | int, ...]]]:
    if not isinstance(value, str) or not value:
        raise AlertsConfigError(at, "expected a file path")
    path = base_dir / os.path.expanduser(value)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise AlertsConfigError(at, f"cannot read {path}: {why}") from None
    urls: list[str] = []
    where: list[tuple[str | int, ...]] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line)
            where.append((*at, f"line {number}"))
    if not urls:
        raise AlertsConfigError(at, f"{path} holds no URL (one apprise URL a line, # comments)")
    return urls, where


def _filter(
    item: Mapping[str, Any], key: str, at: tuple[str | int, ...], allowed: Sequence[str] | None
) -> frozenset[str] | None:
    if key not in item:
        return None
    value = item[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise AlertsConfigError((*at, key), "expected a non-empty list")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v:
            raise AlertsConfigError((*at, key, i), f"expected a name, got {_kind(v)}")
        if allowed is not None and v not in allowed:
            raise AlertsConfigError((*at, key, i), f"{v!r} is not one of {', '.join(allowed)}")
    return frozenset(value)


def _public_url(value: Any, at: tuple[str | int, ...]) -> str:
    if not isinstance(value, str):
        raise AlertsConfigError(at, f"expected an http(s) URL, got {_kind(value)}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise AlertsConfigError(at, "expected an http(s) URL like https://collector.example:8443")
    return value.rstrip("/")


def _field(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p.startswith("line "):
            out += f" ({p})"
        else:
            out += ("." if out else "") + p
    return out


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _known(keys: Any) -> str:
    return ", ".join(sorted(keys))
