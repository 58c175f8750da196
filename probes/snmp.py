"""snmp: GET one or more OIDs (v2c or v3) and compare what comes back.

Target: `HOST[:PORT]` (default port 161).

Options:
- `oid` (required): one or more OIDs, comma-separated, read in one request; numeric
  (`1.3.6.1.2.1.1.3.0`) or a known name plus index (`sysUpTime.0`, `ifOperStatus.3`, see
  `probes.snmpcheck.OID_ALIASES`).
- v2c: `community` (or `community_file` / `community_env`); `version=2c` is the default.
- v3 (chosen by `user`, or `version=3`): `user`, `auth_key`, `priv_key` (each also as
  `_file` / `_env`); the security level follows from the keys given (both: authPriv, auth only:
  authNoPriv, none: noAuthNoPriv). `auth_protocol` MD5 | SHA (default, SHA-1) | SHA224 | SHA256 |
  SHA384 | SHA512; `priv_protocol` DES | 3DES | AES (default, AES-128) | AES192 | AES256 —
  the defaults match net-snmp's `createUser u SHA pass AES pass` (pysnmp's own differ).
  `context` (v3 context name).
- `retries` (default 1): the timeout is split evenly across the attempts.
- Comparisons, applied to every OID read: `equals=V`, `in=V1,V2,…`, `min=N`, `max=N`,
  `change=changed|unchanged|increased|not_decreased` against `previous` (the `value` of the
  last run: a scalar for one OID, a mapping — JSON on the command line — for several). With no
  `previous` (the first run) a change check passes. sysUpTime with `change=not_decreased` finds
  a reboot.

The result's `value` is the value read (int for numbers, str otherwise) for one OID, or a
mapping OID -> value for several.

Reasons: `ok`; `check_failed` (a comparison did not hold, or an OID does not exist);
`error_response` (the agent returned an SNMP error status, e.g. genErr); `auth_failed` (v3:
wrong digest — wrong auth key —, unknown user, unsupported security level); `timeout` (no
answer; SNMP agents drop a wrong community or a wrong v3 privacy key silently, and an ICMP
refusal is not reported by pysnmp, so these end here too); `dns_error`; `config_error`.
One SnmpEngine per event loop (one per process in the agent): creating one costs far more
than a GET, and so does pysnmp's first request (MIB modules, LCD tables); `prepare()` does both
before any probe's timeout runs (the agent calls it at start).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes import options as opt
from probes.address import split_host_port
from probes.result import ProbeResult, Reason
from probes.snmpcheck import Check, failures, parse_check, parse_oid
from probes.spec import KindSpec

_KNOWN = {
    "oid",
    "version",
    *opt.secret_names("community"),
    "user",
    *opt.secret_names("auth_key"),
    *opt.secret_names("priv_key"),
    "auth_protocol",
    "priv_protocol",
    "context",
    "retries",
    "equals",
    "in",
    "min",
    "max",
    "change",
    "previous",
}
_AUTH_FAILURES = {
    "WrongDigest",
    "UnknownUserName",
    "UnsupportedSecurityLevel",
    "AuthenticationFailure",
    "AuthenticationError",
    "DecryptionError",
    "UnknownSecurityName",
}


class _Engine:
    """The loop's SnmpEngine and the objects pysnmp would otherwise rebuild on every GET."""

    def __init__(self) -> None:
        from pysnmp.hlapi.v3arch import asyncio as hlapi

        self.hlapi = hlapi
        self.engine = hlapi.SnmpEngine()
        self.targets: dict[tuple, Any] = {}
        self.auth: dict[tuple, Any] = {}
        self.contexts: dict[str, Any] = {}
        # ObjectType resolved once is marked clean and skips MIB resolution on every later
        # GET (about 15% of pysnmp's CPU per request); the request value is an immutable Null.
        self.var_binds: dict[str, Any] = {}
        self.prepared = False

    def var_bind(self, oid: str) -> Any:
        found = self.var_binds.get(oid)
        if found is None:
            found = self.var_binds[oid] = self.hlapi.ObjectType(self.hlapi.ObjectIdentity(oid))
        return found


_ENGINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Engine] = (
    weakref.WeakKeyDictionary()
)


def _engine() -> _Engine:
    loop = asyncio.get_running_loop()
    found = _ENGINES.get(loop)
    if found is None:
        found = _ENGINES[loop] = _Engine()
    return found


# Protocol names as options spell them, to pysnmp's constant names (read without pysnmp).
_AUTH_PROTOCOLS = {
    "MD5": "USM_AUTH_HMAC96_MD5",
    "SHA": "USM_AUTH_HMAC96_SHA",
    "SHA1": "USM_AUTH_HMAC96_SHA",
    "SHA224": "USM_AUTH_HMAC128_SHA224",
    "SHA256": "USM_AUTH_HMAC192_SHA256",
    "SHA384": "USM_AUTH_HMAC256_SHA384",
    "SHA512": "USM_AUTH_HMAC384_SHA512",
}
_PRIV_PROTOCOLS = {
    "DES": "USM_PRIV_CBC56_DES",
    "3DES": "USM_PRIV_CBC168_3DES",
    "AES": "USM_PRIV_CFB128_AES",
    "AES128": "USM_PRIV_CFB128_AES",
    "AES192": "USM_PRIV_CFB192_AES",
    "AES256": "USM_PRIV_CFB256_AES",
}


@dataclass(frozen=True, slots=True)
class SnmpCheck:
    """One parsed snmp check (see the module's documentation for the options)."""

    host: str
    port: int
    oids: tuple[str, ...]
    check: Check
    retries: int
    context: str
    # v2c: ("2c", community); v3: ("3", user, auth_key, priv_key, auth_protocol, priv_protocol)
    credentials: tuple = field(repr=False)

    @property
    def label(self) -> str:
        if self.credentials[0] == "2c":
            return "v2c"
        _, _, auth_key, priv_key, _, _ = self.credentials
        return "v3 " + ("authPriv" if priv_key else "authNoPriv" if auth_key else "noAuthNoPriv")


def parse(target: str, options: Mapping[str, Any]) -> SnmpCheck:
    """The check `target` and `options` describe; OptionError naming what is wrong."""
    opt.check_known(options, _KNOWN)
    host, port = split_host_port(target, 161)
    oids = _oids(opt.required(options, "oid"))
    check = parse_check(options)
    retries = opt.integer(options, "retries", 1, minimum=0, maximum=10)
    assert retries is not None
    context = opt.text(options, "context", "") or ""
    return SnmpCheck(host, port, oids, check, retries, context, _credentials(options))


def _credentials(options: Mapping[str, Any]) -> tuple:
    user = opt.text(options, "user")
    version = (opt.text(options, "version") or ("3" if user else "2c")).lower().lstrip("v")
    if version in ("2", "2c"):
        if user is not None:
            raise opt.OptionError("option 'user' needs version=3", "user")
        community = opt.secret(options, "community")
        if community is None:
            raise opt.OptionError("option 'community' is required for SNMP v2c", "community")
        return ("2c", community)
    if version != "3":
        raise opt.OptionError(f"option 'version' must be 2c or 3, got {version!r}", "version")
    if not user:
        raise opt.OptionError("option 'user' is required for SNMP v3", "user")
    auth_key = opt.secret(options, "auth_key")
    priv_key = opt.secret(options, "priv_key")
    if priv_key is not None and auth_key is None:
        raise opt.OptionError(
            "option 'priv_key' needs 'auth_key' (no authNoPriv without auth)", "priv_key"
        )
    for name, value in (("auth_key", auth_key), ("priv_key", priv_key)):
        if value is not None and len(value) < 8:
            raise opt.OptionError(f"option {name!r} must be at least 8 characters (RFC 3414)", name)
    auth_name = (opt.text(options, "auth_protocol") or "SHA").upper().replace("-", "")
    priv_name = (opt.text(options, "priv_protocol") or "AES").upper().replace("-", "")
    if auth_name not in _AUTH_PROTOCOLS:
        known = ", ".join(_AUTH_PROTOCOLS)
        raise opt.OptionError(f"option 'auth_protocol' must be one of {known}", "auth_protocol")
    if priv_name not in _PRIV_PROTOCOLS:
        known = ", ".join(_PRIV_PROTOCOLS)
        raise opt.OptionError(f"option 'priv_protocol' must be one of {known}", "priv_protocol")
    return ("3", user, auth_key, priv_key, auth_name, priv_name)


def _auth_data(state: _Engine, credentials: tuple) -> Any:
    """pysnmp credentials, cached: LCD configuration keys on them."""
    found = state.auth.get(credentials)
    if found is not None:
        return found
    hlapi = state.hlapi
    if credentials[0] == "2c":
        found = hlapi.CommunityData(credentials[1], mpModel=1)
    else:
        _, user, auth_key, priv_key, auth_name, priv_name = credentials
        found = hlapi.UsmUserData(
            user,
            authKey=auth_key,
            privKey=priv_key,
            authProtocol=getattr(hlapi, _AUTH_PROTOCOLS[auth_name])
            if auth_key
            else hlapi.USM_AUTH_NONE,
            privProtocol=getattr(hlapi, _PRIV_PROTOCOLS[priv_name])
            if priv_key
            else hlapi.USM_PRIV_NONE,
        )
    state.auth[credentials] = found
    return found


async def prepare() -> None:
    """Create this loop's engine and make pysnmp load what its first request would load."""
    state = _engine()
    if state.prepared:
        return
    from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD, VB_PROCESSOR

    hlapi = state.hlapi
    # The MIB view that resolves request OIDs, and the LCD tables a first GET fills (v2c and
    # v3): configured with stand-ins, then removed again; nothing is sent.
    VB_PROCESSOR.make_varbinds(state.engine.cache, (state.var_bind("1.3.6.1.2.1.1.3.0"),))
    transport = await hlapi.UdpTransportTarget.create(("127.0.0.1", 161), timeout=1, retries=0)
    for auth in (
        hlapi.CommunityData("hotline-prepare", mpModel=1),
        hlapi.UsmUserData("hotline-prepare"),
    ):
        LCD.configure(state.engine, auth, transport, b"")
        with warnings.catch_warnings():  # pysnmp's unconfigure calls its own deprecated name
            warnings.simplefilter("ignore", DeprecationWarning)
            LCD.unconfigure(state.engine, auth)
    state.prepared = True


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _oids(text: str) -> tuple[str, ...]:
    return tuple(parse_oid(part) for part in text.split(",") if part.strip())


async def _target(state: _Engine, host: str, port: int, timeout: float, retries: int) -> Any:
    hlapi = state.hlapi
    ip = _literal(host)
    if ip is None:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        ip = ipaddress.ip_address(infos[0][4][0])
    per_try = timeout / (retries + 1)
    key = (str(ip), port, round(per_try, 3), retries)
    found = state.targets.get(key)
    if found is None:
        cls = hlapi.Udp6TransportTarget if ip.version == 6 else hlapi.UdpTransportTarget
        found = await cls.create((str(ip), port), timeout=per_try, retries=retries)
        state.targets[key] = found
    return found


def _plain(value: Any) -> Any:
    """A pysnmp value as JSON-friendly Python: int for numbers, str otherwise."""
    from pyasn1.type import univ

    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.OctetString):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return value.prettyPrint()
        return text if text.isprintable() else value.prettyPrint()
    return value.prettyPrint()


async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    parsed = parse(target, options)
    host, port, oids = parsed.host, parsed.port, parsed.oids
    state = _engine()
    hlapi = state.hlapi
    auth = _auth_data(state, parsed.credentials)
    context = state.contexts.get(parsed.context)
    if context is None:
        context = state.contexts[parsed.context] = hlapi.ContextData(contextName=parsed.context)
    where = f"{host}:{port} ({parsed.label})"
    retries = parsed.retries

    from pysnmp.error import PySnmpError

    start = time.perf_counter()
    try:
        transport = await _target(state, host, port, timeout, retries)
    except (OSError, PySnmpError) as exc:
        return ProbeResult(Reason.DNS_ERROR, f"{host}: {exc}")
    var_binds = [state.var_bind(oid) for oid in oids]
    silent = ProbeResult(
        Reason.TIMEOUT,
        f"no answer from {where} in {timeout:g} s (a wrong community or v3 privacy key "
        "also ends here: SNMP agents drop those silently)",
    )
    try:
        # pysnmp's own timer ticks coarsely; this guard keeps the probe within its timeout.
        async with asyncio.timeout(max(0.0, timeout - (time.perf_counter() - start))):
            error_indication, error_status, error_index, answers = await hlapi.get_cmd(
                state.engine, auth, transport, context, *var_binds, lookupMib=False
            )
    except TimeoutError:
        return silent
    latency = (time.perf_counter() - start) * 1000
    if error_indication:
        kind = type(error_indication).__name__
        if kind == "RequestTimedOut":
            return silent
        if kind in _AUTH_FAILURES:
            return ProbeResult(Reason.AUTH_FAILED, f"{where}: {error_indication} ({kind})", latency)
        return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"{where}: {error_indication}", latency)
    if error_status:
        at = oids[int(error_index) - 1] if 0 < int(error_index) <= len(oids) else "?"
        detail = f"{where}: agent answered {error_status.prettyPrint()} at {at}"
        return ProbeResult(Reason.ERROR_RESPONSE, detail, latency)

    values: dict[str, Any] = {}
    missing: list[str] = []
    for name, value in answers:
        oid = str(name)
        if isinstance(value, hlapi.NoSuchObject | hlapi.NoSuchInstance | hlapi.EndOfMibView):
            missing.append(f"{oid}: {type(value).__name__}")
        else:
            values[oid] = _plain(value)
    result_value: Any = next(iter(values.values())) if len(oids) == 1 and values else values
    if missing:
        return ProbeResult(Reason.CHECK_FAILED, "; ".join(missing), latency, result_value or None)
    problems = failures(parsed.check, values)
    if problems:
        return ProbeResult(Reason.CHECK_FAILED, "; ".join(problems), latency, result_value)
    shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
    return ProbeResult(Reason.OK, f"{where}: {shown}"[:500], latency, result_value)


SPEC = KindSpec(
    kind="snmp",
    probe=probe,
    parse=parse,
    default_target="{host_uri}",
    concurrency=128,
    stateful=True,
    prepare=prepare,
)
