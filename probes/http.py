"""http: GET (or HEAD) a URL with httpx; status, body regex, certificate days left.

Target: `http://…` or `https://…`.

Options:
- `status` (default `200-299`): codes and ranges that count as ok, e.g. `200,301-302`.
- `expect`: a regex the body must match (the first `max_body` bytes, default 1 MiB).
- `method` (default GET; HEAD skips the body).
- `cert_days`: for https, the certificate must stay valid at least this many more days.
- `tls_verify` (default true), `ca_file`: certificate verification.
- `follow_redirects` (default false).
- `username` + `password` (or `password_file` / `password_env`): HTTP basic auth;
  `bearer` (or `bearer_file` / `bearer_env`): a bearer token.
- `header.NAME=VALUE`: an extra request header (e.g. `header.Host=acd.example`).

Reasons: `ok`; `error_response` (a status outside `status`, e.g. 404 or 503); `auth_failed`
(401/403 while credentials were given); `check_failed` (body regex, or certificate expiring
within `cert_days`); `tls_error` (handshake or verification failed); `timeout`; `refused`;
`unreachable`; `dns_error`; `unexpected_response` (not HTTP); `config_error`.
The result carries `status` and, for https, `cert_days_left`; for https the `value` (what the
agent ships) is `{"cert_days_left": DAYS}`, whether or not `cert_days` is set, so the
collector's inspection report shows every certificate's expiry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import ssl
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes import options as opt
from probes.errors import describe, reason_for
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec

_KNOWN = {
    "status",
    "expect",
    "method",
    "cert_days",
    "tls_verify",
    "ca_file",
    "follow_redirects",
    "max_body",
    "username",
    *opt.secret_names("password"),
    *opt.secret_names("bearer"),
}

_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, Any]] = (
    weakref.WeakKeyDictionary()
)


def _client(verify: bool, ca_file: str | None, follow: bool) -> Any:
    import httpx

    loop = asyncio.get_running_loop()
    clients = _CLIENTS.setdefault(loop, {})
    key = (verify, ca_file, follow)
    client = clients.get(key)
    if client is None:
        if verify and ca_file:
            try:
                context: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file)
            except OSError as exc:
                raise opt.OptionError(f"option 'ca_file': cannot read {ca_file}: {exc}") from None
        else:
            context = verify
        client = clients[key] = httpx.AsyncClient(
            verify=context, follow_redirects=follow, trust_env=False
        )
    return client


def _root_cause(exc: BaseException) -> BaseException:
    """httpx/anyio wrap the socket error (in chains and groups); find the telling one."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 50:
        current = todo.pop()
        found.append(current)
        todo += getattr(current, "exceptions", ())
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
    for candidate in found:
        if isinstance(candidate, ssl.SSLError | ssl.CertificateError):
            return candidate
    for candidate in found:
        if (
            isinstance(candidate, OSError)
            and candidate.errno
            and not isinstance(candidate, TimeoutError)
        ):
            return candidate
    return exc


def _cert_days_left(response: Any) -> float | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return left.total_seconds() / 86400


@dataclass(frozen=True, slots=True)
class HttpCheck:
    """One parsed http check (see the module's documentation for the options)."""

    url: str
    alive: frozenset[int]
    method: str
    expect: re.Pattern[str] | None
    cert_days: float | None
    max_body: int
    verify: bool
    ca_file: str | None
    follow_redirects: bool
    headers: dict[str, str] = field(repr=False)  # may carry a bearer token
    auth: tuple[str, str] | None = field(repr=False)


def parse(target: str, options: Mapping[str, Any]) -> HttpCheck:
    """The check `target` and `options` describe; OptionError naming what is wrong."""
    headers = {k[len("header.") :]: str(v) for k, v in options.items() if k.startswith("header.")}
    opt.check_known({k: v for k, v in options.items() if not k.startswith("header.")}, _KNOWN)
    if not re.match(r"https?://[^/]", target, re.IGNORECASE):
        raise opt.OptionError(f"target {target!r}: expected http://… or https://…")
    alive = opt.codes(options, "status", "200-299", 100, 599)
    method = (opt.text(options, "method") or "GET").upper()
    if method not in ("GET", "HEAD"):
        raise opt.OptionError("option 'method' must be GET or HEAD", "method")
    expect_text = opt.text(options, "expect")
    try:
        expect = re.compile(expect_text) if expect_text else None
    except re.error as exc:
        raise opt.OptionError(f"option 'expect' is not a valid regex: {exc}", "expect") from None
    cert_days = opt.number(options, "cert_days", minimum=0)
    max_body = opt.integer(options, "max_body", 1 << 20, minimum=1)
    assert max_body is not None
    username = opt.text(options, "username")
    password = opt.secret(options, "password")
    if (username is None) != (password is None):
        raise opt.OptionError(
            "options 'username' and 'password' go together",
            "password" if username is not None else "username",
        )
    bearer = opt.secret(options, "bearer")
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    auth = (username, password) if username is not None and password is not None else None
    verify = opt.flag(options, "tls_verify", True)
    return HttpCheck(
        url=target,
        alive=alive,
        method=method,
        expect=expect,
        cert_days=cert_days,
        max_body=max_body,
        verify=verify,
        ca_file=opt.readable_file(options, "ca_file"),
        follow_redirects=opt.flag(options, "follow_redirects", False),
        headers=headers,
        auth=auth,
    )


async def prepare() -> None:
    """Import httpx and what its first request and certificate check import, and build the
    default client (its SSL context loads the CA bundle) before the first probe is timed."""
    import anyio  # noqa: F401  (httpcore's backend, imported on the first request otherwise)
    import httpx  # noqa: F401
    from cryptography import x509  # noqa: F401  (cert_days)

    _client(True, None, False)


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    import httpx

    parsed = parse(target, options)
    method, expect, max_body, cert_days = (
        parsed.method,
        parsed.expect,
        parsed.max_body,
        parsed.cert_days,
    )
    headers, auth, alive = parsed.headers, parsed.auth, parsed.alive
    bearer = "Authorization" in headers
    client = _client(parsed.verify, parsed.ca_file, parsed.follow_redirects)

    start = time.perf_counter()
    body = b""
    try:
        async with (
            asyncio.timeout(timeout),
            client.stream(method, target, headers=headers, auth=auth, timeout=timeout) as response,
        ):
            days_left = _cert_days_left(response)
            if method == "GET" and expect is not None:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= max_body:
                        break
    except (TimeoutError, httpx.TimeoutException):
        return ProbeResult(Reason.TIMEOUT, f"no answer from {target} within {timeout:g} s")
    except httpx.InvalidURL as exc:
        raise opt.OptionError(f"target {target!r}: {exc}") from None
    except (httpx.TransportError, OSError) as exc:
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            return ProbeResult(Reason.TLS_ERROR, f"{target}: {cause}")
        if isinstance(cause, OSError):
            return ProbeResult(reason_for(cause), f"{target}: {describe(cause)}")
        if isinstance(exc, httpx.ConnectError):  # anyio hides the errno on some paths
            return ProbeResult(Reason.REFUSED, f"{target}: {exc or 'connection failed'}")
        return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{target}: {type(exc).__name__}: {exc}")
    latency = (time.perf_counter() - start) * 1000
    extra: dict[str, Any] = {"status": response.status_code}
    value: dict[str, Any] | None = None  # what the agent ships (it keeps `value`, not extras)
    if days_left is not None:
        extra["cert_days_left"] = round(days_left, 2)
        value = {"cert_days_left": extra["cert_days_left"]}
    status_text = f"{response.status_code} {response.reason_phrase}".strip()
    if response.status_code not in alive:
        if response.status_code in (401, 403) and (auth or bearer):
            return ProbeResult(
                Reason.AUTH_FAILED, f"{target}: {status_text}", latency, value, extra
            )
        return ProbeResult(Reason.ERROR_RESPONSE, f"{target}: {status_text}", latency, value, extra)
    if cert_days is not None:
        if days_left is None:
            detail = f"{target}: no certificate to check (cert_days needs https)"
            return ProbeResult(Reason.CHECK_FAILED, detail, latency, value, extra)
        if days_left < cert_days:
            detail = f"{target}: certificate expires in {days_left:.1f} days (< {cert_days:g})"
            return ProbeResult(Reason.CHECK_FAILED, detail, latency, value, extra)
    if expect is not None and not expect.search(body.decode("utf-8", "replace")):
        detail = f"{target}: body does not match 'expect': {body[:80]!r}"
        return ProbeResult(Reason.CHECK_FAILED, detail, latency, value, extra)
    return ProbeResult(Reason.OK, f"{target}: {status_text}", latency, value, extra)


SPEC = KindSpec(
    kind="http",
    probe=probe,
    parse=parse,
    default_target="http://{host_uri}/",
    concurrency=128,
    files=frozenset({"ca_file"}),
    prepare=prepare,
)
