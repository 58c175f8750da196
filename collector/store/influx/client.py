"""A small client of InfluxDB's v1-compatible HTTP API (`/ping`, `/write`, `/query`) on httpx.

InfluxDB 1.x serves this API natively, 2.x as "v1 compatibility" (a DBRP mapping turns a
database + retention policy into a bucket; a token authenticates) and 3.x as its v1 write and
InfluxQL query API. influxdb-client is not used: it speaks only `/api/v2` (absent before
InfluxDB 1.8) and queries only in Flux (dropped in 3.x).

Store URLs: `influxdb://[USER:PASS@]HOST:PORT/DATABASE` (plain HTTP) and
`influxdb+https://…` (TLS). Options as query parameters, e.g.
`?rp_raw=hotline_raw&rp_keep=hotline_keep&buffer=/var/lib/hotline/influx-buffer.db`.
Secrets: the password from the URL, `password_file=`, or `HOTLINE_INFLUX_PASSWORD`; a token
(2.x/3.x) from `token_file=` or `HOTLINE_INFLUX_TOKEN` (or the caller's config). A secret is
never part of `repr()`, a log line or an error message.
"""

from __future__ import annotations

import gzip
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from collector.store.base import StoreError
from conffile import SecretFileError, read_secret

DEFAULT_PORT = 8086
ENV_PASSWORD = "HOTLINE_INFLUX_PASSWORD"
ENV_TOKEN = "HOTLINE_INFLUX_TOKEN"
_OPTIONS = {
    "rp_raw",
    "rp_keep",
    "rp_raw_days",
    "rp_keep_days",
    "buffer",
    "token_file",
    "password_file",
    "verify",
    "timeout",
    "create",
}


class InfluxError(StoreError):
    """An InfluxDB request failed. `retryable` says whether sending it again may succeed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        server_message: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.server_message = server_message  # InfluxDB's own error text


@dataclass(frozen=True)
class InfluxTarget:
    """Where and how to reach InfluxDB: parsed from a store URL (see the module docstring)."""

    base_url: str
    database: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    verify: bool | str = True
    timeout: float = 10.0
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def display(self) -> str:
        """The URL without secrets, for logs and messages."""
        user = f"{self.username}:***@" if self.username else ""
        scheme, rest = self.base_url.split("://", 1)
        return f"{scheme}://{user}{rest}/{self.database}"


def _read_secret(path: str, what: str) -> str:
    try:
        return read_secret(path)
    except SecretFileError as exc:
        if exc.empty:
            raise StoreError(f"the InfluxDB {what} file {path} is empty") from None
        raise StoreError(f"cannot read the InfluxDB {what} file {path}: {exc.reason}") from None


def parse_url(
    url: str,
    *,
    token: str | None = None,
    token_file: str | None = None,
    env: Mapping[str, str] | None = None,
) -> InfluxTarget:
    """Parse `influxdb://[USER:PASS@]HOST:PORT/DATABASE[?options]` (or `influxdb+https://`).

    A token from the arguments wins over `token_file=` in the URL, which wins over the
    environment; likewise the URL's password over `password_file=` over the environment.
    """
    env = os.environ if env is None else env
    parts = urlsplit(url)
    if parts.scheme == "influxdb":
        http_scheme = "http"
    elif parts.scheme == "influxdb+https":
        http_scheme = "https"
    else:
        raise StoreError(f"store URL scheme must be influxdb:// or influxdb+https://: {url!r}")
    try:
        host, port = parts.hostname, parts.port or DEFAULT_PORT
    except ValueError as exc:  # a port that is not a number
        raise StoreError(f"store URL port: {exc}") from None
    if not host:
        raise StoreError("store URL needs a host: influxdb://HOST:PORT/DATABASE")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise StoreError("store URL needs a database: influxdb://HOST:PORT/DATABASE")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise StoreError(f"store URL option(s) {', '.join(unknown)} unknown; known: {_OPTIONS}")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is None and "password_file" in options:
        password = _read_secret(options["password_file"], "password")
    if password is None and username:
        password = env.get(ENV_PASSWORD)
    token_file = token_file or options.get("token_file")
    if token is None and token_file:
        token = _read_secret(token_file, "token")
    if token is None:
        token = env.get(ENV_TOKEN) or None
    verify: bool | str = True
    if "verify" in options:
        v = options["verify"]
        verify = False if v.lower() in {"0", "false", "no"} else (True if v == "" else v)
    try:
        timeout = float(options.get("timeout", 10.0))
    except ValueError:
        raise StoreError(
            f"store URL option timeout={options['timeout']!r} is not a number"
        ) from None
    host_part = f"[{host}]" if ":" in host else host
    return InfluxTarget(
        base_url=f"{http_scheme}://{host_part}:{port}",
        database=database,
        username=username,
        password=password,
        token=token,
        verify=verify,
        timeout=timeout,
        options=options,
    )


class InfluxClient:
    """`/ping`, `/write` and `/query` of one InfluxDB, authenticated as the target says:
    a token as `Authorization: Token …` (2.x/3.x), else user and password as HTTP Basic
    (1.x accepts Basic as well as `u`/`p` parameters, and Basic keeps them out of URLs)."""

    def __init__(self, target: InfluxTarget, *, gzip_level: int = 1) -> None:
        self.target = target
        self.gzip_level = gzip_level
        headers = {"User-Agent": "hotline-uptime"}
        auth: tuple[str, str] | None = None
        if target.token:
            headers["Authorization"] = f"Token {target.token}"
        elif target.username:
            auth = (target.username, target.password or "")
        self._http = httpx.AsyncClient(
            base_url=target.base_url,
            headers=headers,
            auth=auth,
            verify=_tls(target.verify),
            timeout=httpx.Timeout(target.timeout, connect=min(target.timeout, 3.0)),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ping(self) -> bool:
        return not await self.ping_error()

    async def ping_error(self, timeout: float = 2.0) -> str:
        """Empty when `/ping` answers 204 within `timeout` seconds (a health check must answer
        soon, also when InfluxDB hangs); else what went wrong."""
        try:
            response = await self._http.get("/ping", timeout=min(timeout, self.target.timeout))
        except httpx.HTTPError as exc:
            return _describe(exc)
        if response.status_code != 204:
            return f"/ping answered HTTP {response.status_code}"
        return ""

    async def write(self, body: bytes, *, rp: str | None, precision: str = "ns") -> None:
        """Send line protocol (newline-separated points). Raises `InfluxError`: retryable for
        network errors, 5xx, 404 (database missing) and auth errors an operator may fix;
        not retryable for 400 (bad points) and 413 (too large)."""
        params = {"db": self.target.database, "precision": precision}
        if rp:
            params["rp"] = rp
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip_level:
            body = gzip.compress(body, compresslevel=self.gzip_level)
            headers["Content-Encoding"] = "gzip"
        try:
            response = await self._http.post("/write", params=params, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise InfluxError(f"{self.target.display}: write failed: {_describe(exc)}") from None
        if response.status_code == 204:
            return
        status = response.status_code
        message = _error_message(response)
        raise InfluxError(
            f"{self.target.display}: write answered {status}: {message}",
            status=status,
            retryable=status not in (400, 413),
            server_message=message,
        )

    async def query(
        self,
        statement: str,
        *,
        params: Mapping[str, Any] | None = None,
        write: bool = False,
        chunk_size: int = 10_000,
    ) -> list[dict[str, Any]]:
        """Run InfluxQL; return one result per statement (`{"series": [...]}` merged over the
        chunks of a chunked answer). Timestamps come as integer nanoseconds (`epoch=ns`).
        `write=True` sends a POST (CREATE, DELETE, DROP need it); reads use GET. Raises
        `InfluxError` when the request or any statement fails."""
        query = {
            "db": self.target.database,
            "q": statement,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(chunk_size),
        }
        if params:
            query["params"] = json.dumps(dict(params))
        try:
            if write:
                request = self._http.build_request("POST", "/query", data=query)
            else:
                request = self._http.build_request("GET", "/query", params=query)
            response = await self._http.send(request, stream=True)
            try:
                if response.status_code != 200:
                    await response.aread()
                    raise InfluxError(
                        f"{self.target.display}: query answered {response.status_code}: "
                        f"{_error_message(response)}",
                        status=response.status_code,
                        retryable=response.status_code >= 500,
                    )
                return await _merge_chunks(response, self.target.display)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise InfluxError(f"{self.target.display}: query failed: {_describe(exc)}") from None


async def _merge_chunks(response: httpx.Response, where: str) -> list[dict[str, Any]]:
    """Merge a chunked answer (one JSON object per line) into one result per statement."""
    results: dict[int, dict[str, Any]] = {}
    async for text in response.aiter_lines():
        if not text.strip():
            continue
        chunk = json.loads(text)
        if "error" in chunk:
            raise InfluxError(f"{where}: query error: {chunk['error']}", retryable=False)
        for result in chunk.get("results", []):
            if "error" in result:
                raise InfluxError(f"{where}: query error: {result['error']}", retryable=False)
            merged = results.setdefault(result.get("statement_id", 0), {"series": []})
            series_list: list[dict[str, Any]] = merged["series"]
            for series in result.get("series", []):
                last = series_list[-1] if series_list else None
                if (
                    last is not None
                    and last.get("name") == series.get("name")
                    and last.get("tags") == series.get("tags")
                    and last.get("columns") == series.get("columns")
                ):
                    last["values"].extend(series.get("values", []))
                else:
                    series_list.append({**series, "values": list(series.get("values", []))})
    return [results[k] for k in sorted(results)]


def rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of one statement's result as dicts (series tags folded into every row)."""
    out: list[dict[str, Any]] = []
    for series in result.get("series", []):
        columns = series["columns"]
        tags = series.get("tags") or {}
        for values in series.get("values", []):
            row = dict(zip(columns, values, strict=True))
            row.update(tags)
            out.append(row)
    return out


def quote_string(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(name: str) -> str:
    """An InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tls(verify: bool | str) -> bool | ssl.SSLContext:
    """`verify=PATH` trusts that CA file (or directory of CA files) instead of the system's."""
    if isinstance(verify, bool):
        return verify
    try:
        if Path(verify).is_dir():
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise StoreError(f"store URL option verify={verify}: cannot load CA: {exc}") from None


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:500]
    except (ValueError, AttributeError):
        return response.text[:500] or response.reason_phrase


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
